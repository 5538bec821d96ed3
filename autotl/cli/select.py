"""``autotl select``: the whole flow, within a budget."""

from typing import Annotated

import typer

from autotl.cli import flags
from autotl.cli.report import screen_width, select_report
from autotl.contracts.options import DEFAULT_BUDGET, SelectOptions


def select_command(
    data: flags.Data,
    budget: Annotated[str, typer.Option(help="Wall time for the whole command, e.g. 90s, 15m, 2h.")] = DEFAULT_BUDGET,
    models: flags.Models = None,
    strategies: flags.Strategies = None,
    regularizers: flags.Regularizers = None,
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
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL.", show_default="optuna.db beside a SQLite tracking store, else in ./mlruns"
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="Optuna study name.", show_default="a new one per run")] = None,
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
            show_default="none: --device alone",
        ),
    ] = None,
    register: flags.Register = None,
    trust_remote_code: flags.TrustRemoteCode = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Show every leaderboard row: those not tried, and why each was left out.")
    ] = False,
    json: flags.Json = False,
) -> None:
    """Find the best source model, strategy and regularizer for your data within a budget."""
    parameters = dict(locals())  # the parameters alone: before any other name is bound here
    from autotl.processes import start_up
    from autotl.progress import reporting
    from autotl.runs.select import select_with

    chosen = flags.build(
        SelectOptions,
        parameters,
        models=flags.names(models),
        strategies=flags.names(strategies),
        regularizers=flags.names(regularizers),
        gpus=flags.gpu_list(gpus),
    )
    with reporting(quiet=json) as progress:
        result = select_with(data, chosen, progress, spent=start_up())
    if json:
        flags.print_json(result.to_dict())
        return
    for line in select_report(result, tracking_uri, show_all, screen_width()):
        typer.echo(line)
