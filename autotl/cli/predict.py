"""``autotl predict``: predictions from a logged model, as a CSV."""

import csv
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import options
from autotl.errors import AutotlError, WriteError, listing
from autotl.files import publish


def predict_command(
    model: Annotated[
        str, typer.Option("--model", help="runs:/<run id>/model, models:/<name>/<version>, or a local model folder.")
    ],
    data: options.Data,
    output: Annotated[
        Path | None, typer.Option(help="CSV to write: input, label (when known), prediction, confidence.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file (never one inside --data).")
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(help="Predict only this split (train, val or test), split as `train` and `select` split it."),
    ] = None,
    text_column: options.TextColumn = "text",
    label_column: options.LabelColumn = "label",
    skip_bad_files: options.SkipBadFiles = False,
    seed: options.Seed = 0,
    device: options.Device = "auto",
    tracking_uri: options.TrackingUri = None,
) -> None:
    """Predict labels for a dataset with a logged model; prints the accuracy when labels are known."""
    import mlflow

    from autotl import logged_model, tracking
    from autotl.data.intake import read_examples
    from autotl.plugins import build_registry
    from autotl.training.device import resolve_device

    if output:
        check_output(output, Path(data), force)
    intake = options.intake_options(text_column, label_column, skip_bad_files, seed)
    modality, examples = read_examples(data, intake, build_registry().items("data_formats"), split)
    mlflow.set_tracking_uri(tracking.resolve_uri(tracking_uri))
    loaded = logged_model.load(model)
    if loaded.modality != modality:
        raise AutotlError(
            f"--data {data} holds {modality} data, and the model {model} takes {loaded.modality}: "
            f"give it {loaded.modality} data"
        )
    loaded.device = resolve_device(device)
    probabilities = loaded.probabilities([e.input for e in examples])
    predictions = [loaded.classes[i] for i in probabilities.argmax(1)]
    labelled = all(e.label is not None for e in examples)
    unknown = sorted({e.label for e in examples if e.label is not None} - set(loaded.classes))
    if labelled and unknown:
        typer.echo(
            f"Warning: the model never saw the class(es) {listing([repr(u) for u in unknown])}: "
            f"their {sum(e.label in unknown for e in examples)} example(s) count as wrong",
            err=True,
        )
    if output:
        header = ["input", "label", "prediction", "confidence"] if labelled else ["input", "prediction", "confidence"]
        rows = [
            [e.input, *([e.label] if labelled else []), prediction, f"{confidence:.6f}"]
            for e, prediction, confidence in zip(examples, predictions, probabilities.max(1))
        ]
        write_csv(output, header, rows)
        typer.echo(f"Wrote {len(examples)} predictions to {output}", err=True)
    else:
        for example, prediction in zip(examples, predictions):
            typer.echo(f"{prediction}\t{example.input[:80]}")
    if labelled:
        correct = sum(e.label == p for e, p in zip(examples, predictions))
        typer.echo(f"Accuracy: {correct / len(examples):.4f} ({correct}/{len(examples)})", err=True)


def check_output(output: Path, data: Path | None, force: bool) -> None:
    """Before any work: the output's folder exists, and the output is neither inside the data nor,
    without ``--force``, an existing file."""
    from autotl.data import within

    target = output.resolve()
    if data is not None and within(output, data):
        raise AutotlError(f"--output {output}: it is inside --data {data}; write the predictions somewhere else")
    if not target.parent.is_dir():
        raise AutotlError(f"--output {output}: the folder {output.parent} does not exist; create it first")
    if target.is_dir():
        raise AutotlError(f"--output {output}: it is a folder; give a file name in it")
    if target.exists() and not force:
        raise AutotlError(f"--output {output}: the file exists; give --force to replace it")


def write_csv(output: Path, header: list[str], rows: list[list]) -> None:
    """Writes beside ``output`` and moves the file into place, so that a failed write (a full disk)
    leaves no half-written file; such a failure is one line and exit status 1."""
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)
        publish(temporary, output)
    except OSError as error:
        raise WriteError(f"could not write {output}: {error.strerror or error}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
