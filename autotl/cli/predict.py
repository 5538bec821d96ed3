"""``autotl predict``: predictions from a logged model, as a CSV."""

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import options
from autotl.errors import AutotlError, listing
from autotl.files import check_output, written_whole

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


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
    header = ["input", "label", "prediction", "confidence"] if labelled else ["input", "prediction", "confidence"]
    rows = [
        [*map(inert, [e.input, *([e.label] if labelled else []), prediction]), f"{confidence:.6f}"]
        for e, prediction, confidence in zip(examples, predictions, probabilities.max(1))
    ]
    if output:
        with written_whole(output) as temporary:
            temporary.write_text(as_csv(header, rows), encoding="utf-8")
        typer.echo(f"Wrote {len(examples)} predictions to {output}", err=True)
    else:
        typer.echo(as_csv(header, rows), nl=False)
    if labelled:
        correct = sum(e.label == p for e, p in zip(examples, predictions))
        typer.echo(f"Accuracy: {correct / len(examples):.4f} ({correct}/{len(examples)})", err=True)


def inert(cell: str) -> str:
    """``cell`` with a single quote before it when a spreadsheet would run it as a formula (a file
    named ``=cmd().png``), as OWASP advises against CSV injection."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def as_csv(header: list[str], rows: list[list[str]]) -> str:
    """The CSV text, a cell that holds a newline or a comma quoted, so that every reader (and the
    terminal's user) sees one row per input."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue()
