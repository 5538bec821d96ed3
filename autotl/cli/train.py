"""``autotl train``: fine-tune one given combination, no search."""

from typing import Annotated

import typer

from autotl.cli import options
from autotl.contracts.options import TrainOptions
from autotl.errors import AutotlError

SET_HELP = (
    "Training setting as key=value, repeatable. Keys: lr (1e-3), epochs (10), batch_size (32), "
    "weight_decay (0.01), warmup (0.1: fraction of steps), threads (0: torch's default CPU threads), "
    "image_size (0: the source's own input size); and the strategy's and regularizer's own settings, "
    "such as backbone_lr_ratio, frozen_blocks, lora_rank, task_weight or l2sp_alpha (see the README)."
)


def train_command(
    data: options.Data,
    model: Annotated[str, typer.Option(help="Source model (see `autotl models`).")],
    strategy: Annotated[str, typer.Option(help="Transfer strategy: linear_probe, finetune, scratch, ...")],
    regularizer: Annotated[str, typer.Option(help="Regularizer.")] = "none",
    set: Annotated[list[str] | None, typer.Option("--set", help=SET_HELP)] = None,
    metric: options.Metric = "auto",
    seed: options.Seed = 0,
    device: options.Device = "auto",
    tracking_uri: options.TrackingUri = None,
    experiment: options.Experiment = "autotl",
    text_column: options.TextColumn = "text",
    label_column: options.LabelColumn = "label",
    skip_bad_files: options.SkipBadFiles = False,
    cache_dir: options.CacheDir = None,
    source_data: options.SourceData = None,
    register: options.Register = None,
    trust_remote_code: options.TrustRemoteCode = False,
    json: options.Json = False,
) -> None:
    """Fine-tune one source model with one strategy, evaluate it on test, log it to MLflow."""
    parameters = dict(locals())  # the parameters alone: before any other name is bound here
    from autotl.api import train_with
    from autotl.progress import reporting

    chosen = options.build(TrainOptions, parameters, settings=_settings(set or []))
    with reporting(quiet=json) as progress:
        result = train_with(data, chosen, progress)
    if json:
        options.print_json(result.to_dict())
        return
    typer.echo(f"{result.source} + {result.strategy} + {result.regularizer}: best epoch {result.best_epoch}")
    accuracy = "" if result.metric == "accuracy" else f", test accuracy {result.test_accuracy:.4f}"
    typer.echo(
        f"  val {result.metric} {result.val_metric:.4f}, test {result.metric} {result.test_metric:.4f}{accuracy}"
    )
    typer.echo(f"  {calibration_line(result.calibration)}")
    typer.echo(f"  model: {result.model_uri}  ({result.elapsed_s:.0f}s)")


def calibration_line(calibration: dict | None) -> str:
    from autotl.training.calibration import MIN_HELD_OUT

    if calibration is None:
        return "Not calibrated: the classical baseline is a logistic regression, calibrated by its own loss"
    if not calibration["fitted"]:
        return (
            f"Not calibrated: {calibration['held_out']} held-out predictions, fewer than the {MIN_HELD_OUT} a "
            f"temperature needs; test ECE {calibration['test_ece_before']:.3f} on {calibration['test_examples']} "
            "examples"
        )
    return (
        f"Calibrated: temperature {calibration['temperature']:.2f}, fitted on {calibration['held_out']} held-out "
        f"predictions; test ECE {calibration['test_ece_before']:.3f} -> {calibration['test_ece_after']:.3f} on "
        f"{calibration['test_examples']} examples"
    )


def _settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise AutotlError(f"--set {pair!r}: expected key=value, e.g. --set lr=0.001")
        settings[key.strip()] = value.strip()
    return settings
