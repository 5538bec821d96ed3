"""``autotl train``: fine-tune one given combination, no search."""

from typing import Annotated

import typer

from autotl.cli import flags
from autotl.cli.report import predict_command, screen_width, wrapped
from autotl.contracts.options import TrainOptions
from autotl.errors import AutotlError

SET_HELP = (
    "Training setting as key=value, repeatable. Keys: lr, epochs, batch_size, weight_decay, warmup (a fraction "
    "of the steps), threads (0: torch's default), image_size (0: the source's own), and the strategy's and "
    "regularizer's own settings. Each strategy has its own defaults; `autotl plugins` lists them."
)


def train_command(
    data: flags.Data,
    model: Annotated[str, typer.Option(help="Source model (see `autotl models`).")],
    strategy: Annotated[
        str, typer.Option(help="Transfer strategy: linear_probe, finetune, scratch, ... (see `autotl plugins`).")
    ],
    regularizer: Annotated[str, typer.Option(help="Regularizer (see `autotl plugins`).")] = "none",
    set: Annotated[
        list[str] | None, typer.Option("--set", help=SET_HELP, show_default="the strategy's", metavar="KEY=VALUE")
    ] = None,
    metric: flags.Metric = "auto",
    seed: flags.Seed = 0,
    device: flags.Device = "auto",
    tracking_uri: flags.TrackingUri = None,
    experiment: flags.Experiment = "autotl",
    text_column: flags.TextColumn = "text",
    label_column: flags.LabelColumn = "label",
    skip_bad_files: flags.SkipBadFiles = False,
    cache_dir: flags.CacheDir = None,
    source_data: flags.SourceData = None,
    register: flags.Register = None,
    trust_remote_code: flags.TrustRemoteCode = False,
    json: flags.Json = False,
) -> None:
    """Fine-tune one source model with one strategy, evaluate it on test, log it to MLflow."""
    parameters = dict(locals())  # the parameters alone: before any other name is bound here
    from autotl.progress import reporting
    from autotl.runs.train import train_with

    chosen = flags.build(TrainOptions, parameters, settings=_settings(set or []))
    with reporting(quiet=json) as progress:
        result = train_with(data, chosen, progress)
    if json:
        flags.print_json(result.to_dict())
        return
    width = screen_width()
    accuracy = "" if result.metric == "accuracy" else f", test accuracy {result.test_accuracy:.4f}"
    lines = [
        *wrapped(f"{result.source} + {result.strategy} + {result.regularizer}: best epoch {result.best_epoch}", width),
        *wrapped(
            f"  val {result.metric} {result.val_metric:.4f}, test {result.metric} {result.test_metric:.4f}{accuracy}",
            width,
            "    ",
        ),
        *(line for part in calibration_line(result.calibration).split("; ") for line in wrapped(f"  {part}", width)),
        *wrapped(f"  model: {result.model_uri}  ({result.elapsed_s:.0f}s)", width, "    "),
        "Next:",
        *("  " + line for line in predict_command(result.model_uri, tracking_uri, width - 2)),
    ]
    for line in lines:
        typer.echo(line)


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
