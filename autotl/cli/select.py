"""``autotl select``: the whole flow, within a budget."""

from typing import Annotated

import typer

from autotl.cli import options
from autotl.cli.train import calibration_line
from autotl.contracts.options import DEFAULT_BUDGET, SelectOptions


def select_command(
    data: options.Data,
    budget: Annotated[str, typer.Option(help="Wall time for the whole command, e.g. 90s, 15m, 2h.")] = DEFAULT_BUDGET,
    models: options.Models = None,
    strategies: options.Strategies = None,
    regularizers: options.Regularizers = None,
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
    storage: Annotated[
        str | None, typer.Option(help="Optuna storage URL [default: sqlite:///mlruns/optuna.db].")
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name [default: a new one per run].")] = None,
    cv: Annotated[
        int,
        typer.Option(
            help="Judge each trial by K-fold cross-validation on train+val (small data); 0: the val split.", metavar="K"
        ),
    ] = 0,
    gpus: Annotated[
        str | None,
        typer.Option(
            help="Comma list of CUDA devices, e.g. 0,1: this select works on the first and starts an `autotl worker` "
            "on each other (overrides --device).",
        ),
    ] = None,
    register: options.Register = None,
    trust_remote_code: options.TrustRemoteCode = False,
    json: options.Json = False,
) -> None:
    """Find the best source model, strategy and regularizer for your data within a budget."""
    parameters = dict(locals())  # the parameters alone: before any other name is bound here
    from autotl.api import select_with
    from autotl.progress import reporting

    chosen = options.build(
        SelectOptions,
        parameters,
        models=options.names(models),
        strategies=options.names(strategies),
        regularizers=options.names(regularizers),
        gpus=options.gpu_list(gpus),
    )
    with reporting(quiet=json) as progress:
        result = select_with(data, chosen, progress)
    if json:
        options.print_json(result.to_dict())
        return
    typer.echo(result.leaderboard_text)
    typer.echo("")
    for line in summary(result):
        typer.echo(line)


def summary(result) -> list[str]:
    """What the user chose and what it bought, after the leaderboard."""
    se = f" ± {result.val_se:.4f}" if result.val_se is not None else ""
    if result.source is not None:
        chosen = f"{result.source} + {result.strategy} + {result.regularizer}"
    elif result.members:
        chosen = result.params["model"]
    else:
        chosen = f"no transfer: {result.params['model']}"
    lines = [
        f"Chosen: {chosen} (val {result.metric} {result.val_metric:.4f}{se})",
        f"Why: {result.decision}",
        f"Final model: {result.final_note or 'refit on train+val'}",
        f"Test accuracy {result.test_accuracy:.4f}",
    ]
    expected = result.expected_accuracy
    if expected:
        lines.append(
            f"Expected accuracy on new data: {expected['accuracy']:.4f} ({expected['low']:.4f} to "
            f"{expected['high']:.4f}; {expected['method']}, {expected['examples']} examples)"
        )
    if result.strategy != "classical":
        lines.append(calibration_line(result.calibration))
    for baseline in result.baselines:
        outcome = f"{baseline['test_accuracy']:.4f}" if baseline["test_accuracy"] is not None else baseline["note"]
        lines.append(f"  no-transfer baseline {baseline['name']}: {outcome}")
    if result.baseline_test_accuracy is not None:
        uplift = 100 * (result.test_accuracy - result.baseline_test_accuracy)
        lines.append(f"Uplift over the best no-transfer baseline: {uplift:+.1f} points of test accuracy")
    lines.append(f"Model: {result.model_uri}   ({result.elapsed_s:.0f}s of {result.budget_s:.0f}s)")
    if result.advice:
        lines.append(result.advice)
    if result.train_command:
        lines.append(f"Reproduce: {result.train_command}")
    return lines
