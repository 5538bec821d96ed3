"""``autotl worker``: run trials of a study that a ``select`` coordinates."""

from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import flags
from autotl.contracts.options import WorkerOptions


def worker_command(
    study: Annotated[str, typer.Option(help="The study that `autotl select --study NAME` coordinates.")],
    storage: Annotated[
        str,
        typer.Option(help="The Optuna storage URL that select was given.", envvar="AUTOTL_STORAGE", show_envvar=True),
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow tracking URI.", show_default="MLFLOW_TRACKING_URI, else the coordinator's"),
    ] = None,
    device: flags.Device = "auto",
    data: Annotated[
        Path | None, typer.Option(help="The data as this machine sees it.", show_default="the coordinator's path")
    ] = None,
    cache_dir: flags.CacheDir = None,
    wait: Annotated[str, typer.Option(help="How long to wait for a select to coordinate the study.")] = "10m",
    trust_remote_code: flags.TrustRemoteCode = False,
) -> None:
    """Run trials of a study that `autotl select --study NAME --storage URL` coordinates, here or on another machine."""
    parameters = dict(locals())
    from autotl.progress import reporting
    from autotl.runs.worker import work_with

    with reporting() as progress:
        work_with(WorkerOptions(**parameters), progress)
