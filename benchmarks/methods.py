"""Every valid strategy x regularizer on the two examples, and the cost of autotl's training loop.

    python benchmarks/methods.py --cap-minutes 45

Part 1 trains each valid combination of EfficientNet-Lite0 on the digits example and of
all-MiniLM-L6-v2 on the few-shot Reuters example with `autotl.train`: the strategy's defaults,
the image size `select` would use, seed 0, a fresh feature cache per run (so a probe pays for
its features, as on a first run). Part 2 times one linear-probe epoch on cached features
against one that runs the frozen backbone, and `finetune`'s training loop against a bare
PyTorch loop over the same model, tensors, batch size, optimizer and AMP setting.

Rows are appended to a CSV as they finish; a rerun skips the rows already there, and no new
row starts once the wall-clock cap is spent. The tables print at the end (markdown).
"""

import argparse
import copy
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "image": ("efficientnet-lite0", ROOT / "examples" / "data" / "digits"),
    "text": ("all-minilm-l6-v2", ROOT / "examples" / "data" / "reuters-r8-few.csv"),
}
METHOD_FIELDS = [
    "modality",
    "source",
    "strategy",
    "regularizer",
    "test_accuracy",
    "val_accuracy",
    "seconds",
    "epochs",
    "image_size",
]


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as handle:
        return list(csv.DictReader(handle))


def append_row(path: Path, fields: list[str], row: dict) -> None:
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        if new:
            writer.writeheader()
        writer.writerow(row)


def combinations(modality: str) -> list[tuple[str, str]]:
    """The strategy x regularizer pairs the registry builds for this example's source."""
    from autotl.contracts.data import IntakeOptions
    from autotl.data.intake import read_dataset
    from autotl.plugins import build_registry

    source, data = EXAMPLES[modality]
    registry = build_registry()
    dataset = read_dataset(data, IntakeOptions(), registry.items("data_formats"))
    candidates, _ = registry.candidates(
        dataset.modality,
        registry.pick("sources", [source]),
        registry.items("strategies"),
        registry.items("regularizers"),
    )
    return [(c.strategy.name, c.regularizer.name) for c in candidates]


def select_image_size(modality: str) -> int:
    from autotl.contracts.data import IntakeOptions
    from autotl.data.intake import read_dataset
    from autotl.plugins import build_registry
    from autotl.selection.trials import image_size

    source, data = EXAMPLES[modality]
    registry = build_registry()
    return image_size(
        read_dataset(data, IntakeOptions(), registry.items("data_formats")), registry.pick("sources", [source])[0]
    )


def run_methods(out: Path, deadline: float, tracking: str) -> None:
    import autotl

    done = {(r["modality"], r["strategy"], r["regularizer"]) for r in read_rows(out)}
    for modality in EXAMPLES:
        source, data = EXAMPLES[modality]
        size = select_image_size(modality)
        for strategy, regularizer in combinations(modality):
            if (modality, strategy, regularizer) in done:
                continue
            if time.monotonic() > deadline:
                print(f"cap reached: {modality} {strategy} + {regularizer} not run", file=sys.stderr)
                continue
            settings = {"image_size": str(size)} if size else {}
            with tempfile.TemporaryDirectory() as cache:
                started = time.monotonic()
                result = autotl.train(
                    data,
                    source,
                    strategy,
                    regularizer,
                    settings,
                    tracking_uri=tracking,
                    experiment="benchmark-methods",
                    cache_dir=cache,
                    progress=lambda message: None,
                )
                seconds = time.monotonic() - started
            row = {
                "modality": modality,
                "source": source,
                "strategy": strategy,
                "regularizer": regularizer,
                "test_accuracy": f"{result.test_accuracy:.4f}",
                "val_accuracy": f"{result.val_metric:.4f}",
                "seconds": f"{seconds:.1f}",
                "epochs": result.params["epochs"],
                "image_size": size,
            }
            append_row(out, METHOD_FIELDS, row)
            print(
                f"{modality} {strategy} + {regularizer}: test {row['test_accuracy']} in {row['seconds']}s",
                file=sys.stderr,
            )


def digits_tensors(size: int):
    """The digits training split, preprocessed once for EfficientNet-Lite0 at ``size`` px."""
    from autotl.contracts.data import IntakeOptions
    from autotl.data.intake import read_dataset
    from autotl.plugins import build_registry
    from autotl.training.backbone import ImagePreprocessor

    registry = build_registry()
    dataset = read_dataset(EXAMPLES["image"][1], IntakeOptions(), registry.items("data_formats"))
    source = registry.pick("sources", ["efficientnet-lite0"])[0]
    backbone = source.load(pretrained=True)
    backbone.preprocessor = ImagePreprocessor(size, source.spec.mean, source.spec.std)
    train = dataset.splits["train"]
    index = {label: i for i, label in enumerate(dataset.classes)}
    import torch

    images = backbone.preprocessor([e.input for e in train])
    labels = torch.tensor([index[e.label] for e in train])
    return backbone, images, labels, len(dataset.classes)


def run_loops(out: Path, repeats: int) -> None:
    """Linear-probe epoch on cached features vs through the frozen backbone; finetune loop vs bare loop."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from autotl.contracts.settings import TrainParams
    from autotl.training.classifier import Classifier
    from autotl.training.loop import fit

    if read_rows(out):
        return
    torch.manual_seed(0)
    size = select_image_size("image")
    backbone, images, labels, classes = digits_tensors(size)
    cpu = torch.device("cpu")
    batch = 64

    def loader(x, shuffle=True):
        return DataLoader(
            TensorDataset(x, labels[: len(x)]),
            batch_size=batch,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(0),
        )

    # Linear probe: one epoch of the head over cached features, against one that runs the frozen backbone per batch.
    backbone.eval().requires_grad_(False)
    with torch.no_grad():
        features = torch.cat([backbone(images[i : i + batch]) for i in range(0, len(images), batch)])
    head = torch.nn.Linear(backbone.feature_dim, classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-2)

    def probe_epoch(inputs, through_backbone: bool) -> float:
        started = time.perf_counter()
        for x, y in loader(inputs):
            if through_backbone:
                with torch.no_grad():
                    x = backbone(x)
            loss = torch.nn.functional.cross_entropy(head(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - started

    cached = statistics.median(probe_epoch(features, False) for _ in range(repeats))
    frozen = statistics.median(probe_epoch(images, True) for _ in range(repeats))
    rows = [
        {"measure": "linear_probe epoch, cached features (s)", "value": f"{cached:.4f}"},
        {"measure": "linear_probe epoch, frozen backbone run per batch (s)", "value": f"{frozen:.2f}"},
        {"measure": "linear_probe: backbone epoch / cached epoch", "value": f"{frozen / cached:.0f}"},
    ]

    # Fine-tuning throughput: autotl's fit() against a bare loop, same model copy, tensors, batch, AdamW, no AMP on CPU.
    start = Classifier(backbone, classes)
    start.backbone.requires_grad_(True)
    params = TrainParams(lr=1e-4, epochs=1, batch_size=batch, weight_decay=0.01)
    val = loader(images[:batch], shuffle=False)

    def autotl_loop() -> float:
        model = copy.deepcopy(start)
        started = time.perf_counter()
        fit(model, loader(images), val, params, cpu, "accuracy", classes)
        return len(images) / (time.perf_counter() - started)

    def bare_loop() -> float:
        model = copy.deepcopy(start)
        optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
        started = time.perf_counter()
        model.train()
        for x, y in loader(images):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return len(images) / (time.perf_counter() - started)

    bare, ours = [], []
    for _ in range(repeats):  # interleaved, so drifting machine load hits both alike
        bare.append(bare_loop())
        ours.append(autotl_loop())
    rows += [
        {"measure": "finetune samples/s, bare PyTorch loop", "value": f"{statistics.median(bare):.1f}"},
        {
            "measure": "finetune samples/s, autotl fit() (includes its validation pass and best-epoch copy)",
            "value": f"{statistics.median(ours):.1f}",
        },
        {
            "measure": "finetune throughput: autotl / bare (ratio of medians)",
            "value": f"{statistics.median(ours) / statistics.median(bare):.3f}",
        },
        {
            "measure": "finetune throughput: autotl / bare, lowest and highest of the interleaved pairs",
            "value": f"{min(o / b for o, b in zip(ours, bare)):.3f} to {max(o / b for o, b in zip(ours, bare)):.3f}",
        },
    ]
    for row in rows:
        append_row(out, ["measure", "value"], row)
    print(f"loops: {len(images)} digits at {size} px, batch {batch}, {repeats} repeats, medians", file=sys.stderr)


def markdown(rows: list[dict], fields: list[str]) -> str:
    lines = ["| " + " | ".join(fields) + " |", "|" + " --- |" * len(fields)]
    lines += ["| " + " | ".join(str(r[f]) for f in fields) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-minutes", type=float, default=45, help="no new row starts after this wall time")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for the CSV files")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each loop in part 2")
    args = parser.parse_args()
    deadline = time.monotonic() + args.cap_minutes * 60
    methods, loops = args.out / "methods.csv", args.out / "loops.csv"
    run_loops(loops, args.repeats)
    run_methods(methods, deadline, f"sqlite:///{args.out / 'mlflow.db'}")
    print(markdown(read_rows(methods), METHOD_FIELDS))
    print()
    print(markdown(read_rows(loops), ["measure", "value"]))


if __name__ == "__main__":
    main()
