"""``autotl ui``: the MLflow UI on the store that ``train`` and ``select`` write to."""

import os
import sys
from typing import Annotated

import typer

from autotl.cli import flags
from autotl.errors import AutotlError

HOST = "127.0.0.1"


def ui_command(
    tracking_uri: flags.TrackingUri = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Serve the MLflow UI on 127.0.0.1 for autotl's runs."""
    from autotl.tracking import masked, resolve_uri

    check_port(port)
    uri = resolve_uri(tracking_uri)
    typer.echo(f"MLflow UI on http://{HOST}:{port} for {masked(uri)} (Ctrl-C stops it)", err=True)
    command = [sys.executable, "-m", "mlflow", "ui", "--host", HOST, "--port", str(port)]
    sys.stderr.flush()
    # The MLflow server takes this process's place, so that Ctrl-C or a terminate signal reaches it
    # directly: a child server would outlive an autotl process that was terminated. The store goes
    # through the environment, where no other user's `ps` reads its password.
    os.execve(sys.executable, command, {**os.environ, "MLFLOW_BACKEND_STORE_URI": uri})


def check_port(port: int) -> None:
    """Refuses a port the server could not listen on, before the URL is announced: the server
    would fail after it, with a traceback and exit status 0."""
    import socket

    if not 1 <= port <= 65535:
        raise AutotlError(f"--port {port}: give a port from 1 to 65535")
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket does
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise AutotlError(
                f"--port {port}: cannot serve on {HOST}:{port} ({error.strerror}); give another --port"
            ) from None
