"""The ``train`` run: one source x strategy x regularizer, fine-tuned, evaluated once on test and
logged to MLflow; and the ``autotl train`` line that reproduces a choice."""

import shlex
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Callable

import mlflow
import numpy as np
import torch

from autotl import reports, tracking
from autotl.contracts.options import RunOptions, TrainOptions
from autotl.contracts.settings import TrainParams, starting_values
from autotl.data.frames import in_memory
from autotl.data.profile import profile
from autotl.errors import AutotlError
from autotl.progress import bar, lines
from autotl.registry import Candidate
from autotl.runs.result import Result
from autotl.runs.setup import cache_outside, prepare, remote_code
from autotl.training.calibration import calibrate
from autotl.training.classifier import save
from autotl.training.job import TrainingJob
from autotl.training.metrics import recall_by_class, score


def train_with(data: str | Path, options: TrainOptions, progress: Callable[[str], None] = lines) -> Result:
    """Fine-tunes one source x strategy x regularizer, keeps the best validation
    epoch, evaluates once on test and logs everything to MLflow."""

    started = time.monotonic()
    model, strategy, regularizer = options.model, options.strategy, options.regularizer
    names = {"sources": [model], "strategies": [strategy], "regularizers": [regularizer]}
    setup = prepare(data, options, names, progress=progress)
    options = replace(options, metric=setup.metric)
    metric, seed = options.metric, options.seed
    dataset, target_device = setup.dataset, setup.device
    if not setup.candidates:
        raise AutotlError(f"cannot train {model} + {strategy} + {regularizer}: {setup.left_out[0].reason}")
    candidate = setup.candidates[0]
    params = TrainParams.from_strings(dict(options.settings), candidate.strategy.defaults, candidate.settings)
    if params.threads:
        torch.set_num_threads(params.threads)
    torch.manual_seed(seed)
    uri = tracking.resolve_uri(options.tracking_uri, dataset.path)
    cache = cache_outside(options.cache_dir, dataset.path)
    progress(
        f"Training {candidate.label} on {len(dataset.splits['train'])} {dataset.modality} examples ({target_device})"
    )
    with tracking.tracked_run(uri, options.experiment, f"train {candidate.label}") as run, remote_code(options):
        tracking.log_environment(seed)
        tracking.log_dataset(dataset, profile(dataset))
        mlflow.log_params(
            {"source": model, "strategy": strategy, "regularizer": regularizer, "metric": metric, **params.as_dict()}
        )

        def on_epoch(epoch) -> None:
            mlflow.log_metrics(
                {
                    "train_loss": epoch.train_loss,
                    f"val_{metric}": epoch.val_metric,
                    "val_accuracy": epoch.val_accuracy,
                    "val_loss": epoch.val_loss,
                },
                step=epoch.epoch,
            )
            progress(
                f"  epoch {epoch.epoch}/{params.epochs}: loss {epoch.train_loss:.4f}, val {metric} "
                f"{epoch.val_metric:.4f}"
            )
            tick()

        job = TrainingJob(
            source=candidate.source,
            regularizer=candidate.regularizer,
            classes=dataset.classes,
            splits=dataset.splits,
            params=params,
            device=target_device,
            metric=metric,
            cache=cache,
            seed=seed,
            on_epoch=on_epoch,
            source_data=setup.source_data,
        )
        with bar(progress, "epochs", params.epochs, "epochs") as tick:
            trained = candidate.strategy.train(job)
        test_labels = job.labels("test")
        test_predictions = trained.probabilities["test"].argmax(1)
        calibration = calibrate(
            trained.probabilities["val"],
            np.asarray(job.labels("val")),
            trained.probabilities["test"],
            np.asarray(test_labels),
        )
        trained.classifier.temperature = calibration.temperature
        reports.log_calibration(calibration)
        test_metric = score(metric, test_labels, test_predictions, len(dataset.classes))
        test_accuracy = score("accuracy", test_labels, test_predictions, len(dataset.classes))
        mlflow.log_metrics(
            {
                "best_epoch": trained.fit.best_epoch,
                f"best_val_{metric}": trained.fit.val_metric,
                f"test_{metric}": test_metric,
                "test_accuracy": test_accuracy,
            }
        )
        model_uri = tracking.log_model(
            partial(save, trained.classifier, candidate.source, dataset.classes, job.record()),
            dataset,
            options.register,
        )
        reports.log_training(trained.fit.history, metric, test_labels, test_predictions, dataset.classes)
        run_id = run.info.run_id
    command = train_command(data, candidate, params.as_dict(), options)
    entry = {
        "source": model,
        "strategy": strategy,
        "regularizer": regularizer,
        f"val_{metric}": trained.fit.val_metric,
        f"test_{metric}": test_metric,
    }
    result = Result(
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
        calibration=asdict(calibration),
        class_recall=recall_by_class(test_labels, test_predictions, dataset.classes),
        tracking_uri=uri,
    )
    tracking.log_result(run_id, result.to_dict())
    return result


def train_command(data, candidate: Candidate, params: dict, options: RunOptions) -> str:
    """The ``autotl train`` line that reproduces a choice: ``--set`` for each setting that differs
    from where the strategy starts (none of a schedule's for a strategy without one). Data given as
    an object (a DataFrame, lists) has no command line: ""."""
    if in_memory(data):
        return ""
    strategy = candidate.strategy
    starting = starting_values(strategy.defaults, candidate.settings, strategy.schedule)
    words = ["autotl", "train", "--data", str(data), "--model", candidate.source.name, "--strategy", strategy.name]
    words += ["--regularizer", candidate.regularizer.name]
    if options.source_data is not None:
        words += ["--source-data", str(options.source_data)]
    for key, value in params.items():
        if key in starting and value != starting[key]:
            words += ["--set", f"{key}={value}"]
    words += ["--metric", options.metric, "--seed", str(options.seed)]
    defaults = RunOptions()
    if options.tracking_uri is not None:
        words += ["--tracking-uri", tracking.masked(str(options.tracking_uri))]
    if options.experiment != defaults.experiment:
        words += ["--experiment", options.experiment]
    if options.text_column != defaults.text_column:
        words += ["--text-column", options.text_column]
    if options.label_column != defaults.label_column:
        words += ["--label-column", options.label_column]
    if options.skip_bad_files:
        words.append("--skip-bad-files")
    if options.trust_remote_code:
        words.append("--trust-remote-code")
    return shlex.join(words)
