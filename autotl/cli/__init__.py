"""The ``autotl`` command line.

Exit status: 0 success; 2 bad input or usage (one ``Error: ...`` line, no
traceback); 1 an internal error. Warnings go to stderr; ``--json`` output alone
goes to stdout.
"""

import functools
import gc
import logging
import signal
from typing import Callable

import typer

from autotl import __version__, plugins, processes
from autotl.cli import cache, catalog, export, inspect, predict, select, train, ui, worker
from autotl.errors import AutotlError, WriteError
from autotl.secrets import masked


def _user_errors_exit_2(function: Callable) -> Callable:
    """Turns an AutotlError from a command into one ``Error:`` line and exit status 2, and a
    WriteError into one such line and exit status 1; a URI that a message quotes (from MLflow,
    SQLAlchemy or a hub) shows no credential."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AutotlError as error:
            typer.echo(f"Error: {masked(str(error))}", err=True)
            raise typer.Exit(2) from None
        except WriteError as error:
            typer.echo(f"Error: {masked(str(error))}", err=True)
            raise typer.Exit(1) from None

    return run


class _WarningLine(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"Warning: {masked(record.getMessage())}", err=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"autotl {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="autotl",
    help="Find the pretrained model, transfer strategy and regularizer that suit your labelled data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help, sub-commands too: rich markup ate "[...]" and typed flags <bool>
    context_settings={"max_content_width": 120},  # COLUMNS up to this, not click's 80
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Print the version."),
) -> None:
    pass


def add_command(function: Callable, name: str | None = None) -> None:
    app.command(name)(_user_errors_exit_2(function))


add_command(select.select_command, "select")
add_command(train.train_command, "train")
add_command(predict.predict_command, "predict")
add_command(export.export_command, "export")
add_command(inspect.inspect_command, "inspect")
add_command(catalog.plugins_command, "plugins")
add_command(ui.ui_command, "ui")
add_command(worker.worker_command, "worker")
for _group, _name in ((catalog.models_app, "models"), (cache.app, "cache")):
    for _command in [*_group.registered_commands, _group.registered_callback]:
        if _command is not None:
            _command.callback = _user_errors_exit_2(_command.callback)
    app.add_typer(_group, name=_name)

_logger = logging.getLogger("autotl")
_logger.addHandler(_WarningLine())
_logger.setLevel(logging.WARNING)
_logger.propagate = False

plugins.register_commands(add_command)


def main() -> None:
    processes.command_started()
    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    finally:
        # The interpreter's finalization collects the whole heap several times over: three
        # seconds of a budget for a select's ~750k objects on a 2-core machine. Frozen, they are
        # freed without being traced (atexit handlers and finalizers still run).
        gc.freeze()


def _terminated(signum, frame) -> None:
    """SIGTERM (docker stop, Kubernetes, Slurm) ends a command as Ctrl-C does: runs KILLED, trials FAILED."""
    raise KeyboardInterrupt
