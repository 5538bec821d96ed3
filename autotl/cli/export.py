"""``autotl export``: a logged model as one deployable ONNX or TorchScript file (``autotl.exporting``)."""

from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import flags
from autotl.errors import AutotlError
from autotl.files import check_output

FORMATS = ("onnx", "torchscript")


def export_command(
    model: Annotated[
        str, typer.Option("--model", help="A logged model: runs:/<run id>/model, models:/... or a folder.")
    ],
    format: Annotated[str, typer.Option("--format", help="onnx or torchscript.")],
    output: Annotated[Path, typer.Option("--output", help="The file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")] = False,
    tracking_uri: flags.TrackingUri = None,
) -> None:
    """Write a logged model as one ONNX or TorchScript file (preprocessed inputs to class probabilities), checked."""
    if format not in FORMATS:
        raise AutotlError(f"--format {format}: give onnx or torchscript")
    check_output(output, None, force)
    import mlflow

    from autotl import tracking
    from autotl.exporting import export
    from autotl.logged_model import load

    mlflow.set_tracking_uri(tracking.resolve_uri(tracking_uri))
    exported = export(load(model), format, output)
    typer.echo(
        f"Wrote {exported.path} ({format}; inputs {', '.join(exported.inputs)}; output: class probabilities, within "
        f"{exported.largest_difference:.1g} of the model's). Class names and preprocessing: its 'autotl' metadata",
        err=True,
    )
