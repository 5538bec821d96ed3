"""The Python API, for notebooks: the same results as the CLI's ``--json``, as objects."""

import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from autotl.data import IntakeOptions
from autotl.errors import AutotlError


@dataclass
class Result:
    source: str
    strategy: str
    regularizer: str
    params: dict[str, Any]
    metric: str
    val_metric: float
    test_metric: float
    test_accuracy: float
    run_id: str
    model_uri: str
    elapsed_s: float
    train_command: str
    best_epoch: int
    baseline_test_accuracy: float | None = None
    budget_s: float | None = None
    leaderboard: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(
    data: str | Path,
    model: str,
    strategy: str,
    regularizer: str = "none",
    settings: dict[str, str] | None = None,
    *,
    metric: str = "accuracy",
    seed: int = 0,
    device: str = "auto",
    tracking_uri: str | None = None,
    experiment: str = "autotl",
    intake: IntakeOptions | None = None,
    cache_dir: str | Path | None = None,
    progress: Callable[[str], None] = _stderr,
) -> Result:
    """Fine-tunes one source x strategy x regularizer, keeps the best validation
    epoch, evaluates once on test and logs everything to MLflow."""
    import mlflow
    import torch

    from autotl import tracking
    from autotl.data.intake import read_dataset
    from autotl.data.profile import profile
    from autotl.plugins import build_registry
    from autotl.training.device import resolve_device
    from autotl.training.features import FeatureCache
    from autotl.training.job import TrainingJob
    from autotl.training.params import TrainParams
    from autotl.training.metrics import METRICS, score

    started = time.monotonic()
    if metric not in METRICS:
        raise AutotlError(f"--metric {metric!r} is not known: choose from {', '.join(METRICS)}")
    intake = intake or IntakeOptions(seed=seed)
    registry = build_registry()
    chosen = {
        "sources": registry.pick("sources", [model]),
        "strategies": registry.pick("strategies", [strategy]),
        "regularizers": registry.pick("regularizers", [regularizer]),
    }
    params = TrainParams.from_strings(settings or {}, chosen["strategies"][0].defaults)
    target_device = resolve_device(device)
    dataset = read_dataset(data, intake, registry)
    candidates, left_out = registry.candidates(dataset.modality, **chosen)
    if not candidates:
        raise AutotlError(f"cannot train {model} + {strategy} + {regularizer}: {left_out[0].reason}")
    candidate = candidates[0]
    if params.threads:
        torch.set_num_threads(params.threads)
    torch.manual_seed(seed)
    uri = tracking.resolve_uri(tracking_uri)
    progress(f"Training {candidate.label} on {len(dataset.splits['train'])} {dataset.modality} examples ({target_device})")
    with tracking.tracked_run(uri, experiment, f"train {candidate.label}") as run:
        tracking.log_environment(seed)
        tracking.log_dataset(dataset, profile(dataset))
        mlflow.log_params({"source": model, "strategy": strategy, "regularizer": regularizer, "metric": metric, **params.as_dict()})

        def on_epoch(epoch) -> None:
            mlflow.log_metrics({"train_loss": epoch.train_loss, f"val_{metric}": epoch.val_metric, "val_accuracy": epoch.val_accuracy}, step=epoch.epoch)
            progress(f"  epoch {epoch.epoch}/{params.epochs}: loss {epoch.train_loss:.4f}, val {metric} {epoch.val_metric:.4f}")

        job = TrainingJob(
            source=candidate.source,
            regularizer=candidate.regularizer,
            classes=dataset.classes,
            splits=dataset.splits,
            params=params,
            device=target_device,
            metric=metric,
            cache=FeatureCache(Path(cache_dir) if cache_dir else None),
            seed=seed,
            on_epoch=on_epoch,
        )
        trained = candidate.strategy.train(job)
        test_labels = job.labels("test")
        test_predictions = trained.probabilities["test"].argmax(1)
        test_metric = score(metric, test_labels, test_predictions, len(dataset.classes))
        test_accuracy = score("accuracy", test_labels, test_predictions, len(dataset.classes))
        mlflow.log_metrics({"best_epoch": trained.fit.best_epoch, f"best_val_{metric}": trained.fit.val_metric, f"test_{metric}": test_metric, "test_accuracy": test_accuracy})
        model_uri = tracking.log_classifier(trained.classifier, candidate.source, dataset.classes)
        run_id = run.info.run_id
    command = _train_command(data, model, strategy, regularizer, params.as_dict(), metric, seed, intake)
    entry = {"source": model, "strategy": strategy, "regularizer": regularizer, f"val_{metric}": trained.fit.val_metric, f"test_{metric}": test_metric}
    return Result(
        source=model,
        strategy=strategy,
        regularizer=regularizer,
        params=params.as_dict(),
        metric=metric,
        val_metric=trained.fit.val_metric,
        test_metric=test_metric,
        test_accuracy=test_accuracy,
        run_id=run_id,
        model_uri=model_uri,
        elapsed_s=time.monotonic() - started,
        train_command=command,
        best_epoch=trained.fit.best_epoch,
        leaderboard=[entry],
    )


def _train_command(data, model, strategy, regularizer, params, metric, seed, intake: IntakeOptions) -> str:
    words = ["autotl", "train", "--data", str(data), "--model", model, "--strategy", strategy, "--regularizer", regularizer]
    for key, value in params.items():
        words += ["--set", f"{key}={value}"]
    words += ["--metric", metric, "--seed", str(seed)]
    defaults = IntakeOptions()
    if intake.text_column != defaults.text_column:
        words += ["--text-column", intake.text_column]
    if intake.label_column != defaults.label_column:
        words += ["--label-column", intake.label_column]
    if intake.skip_bad_files:
        words.append("--skip-bad-files")
    return shlex.join(words)
