"""``autotl ui``: the MLflow UI on the store that ``train`` and ``select`` write to."""

import os
import sys
from typing import Annotated

import typer

from autotl.cli import options


def ui_command(
    tracking_uri: options.TrackingUri = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Serve the MLflow UI on 127.0.0.1 for autotl's runs."""
    from autotl.tracking import resolve_uri

    uri = resolve_uri(tracking_uri)
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} for {uri} (Ctrl-C stops it)", err=True)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    sys.stderr.flush()
    # The MLflow server takes this process's place, so that Ctrl-C or a terminate signal reaches it
    # directly: a child server would outlive an autotl process that was terminated.
    os.execv(sys.executable, command)
