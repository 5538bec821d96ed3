"""``autotl predict``: predictions from a logged model, as a CSV."""

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import flags
from autotl.errors import AutotlError, listing
from autotl.files import check_output, written_whole

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, CSV injection)."""


def predict_command(
    model: Annotated[
        str, typer.Option("--model", help="runs:/<run id>/model, models:/<name>/<version>, or a local model folder.")
    ],
    data: flags.Data,
    output: Annotated[
        Path | None,
        typer.Option(
            help="CSV to write: input, label (when known), prediction, confidence.", show_default="the CSV on stdout"
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file (never one inside --data).")
    ] = False,
    split: Annotated[
        str | None,
        typer.Option(
            help="Predict only this split (train, val or test), split as `train` and `select` split it.",
            show_default="every example",
        ),
    ] = None,
    text_column: flags.TextColumn = "text",
    label_column: flags.LabelColumn = "label",
    skip_bad_files: flags.SkipBadFiles = False,
    seed: flags.Seed = 0,
    device: flags.Device = "auto",
    tracking_uri: flags.TrackingUri = None,
) -> None:
    """Predict labels for a dataset with a logged model; prints the accuracy when labels are known."""
    import mlflow

    from autotl import logged_model, tracking
    from autotl.data.intake import read_examples
    from autotl.plugins import build_registry
    from autotl.training.device import resolve_device

    if output:
        check_output(output, Path(data), force)
    intake = flags.intake_options(text_column, label_column, skip_bad_files, seed)
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
        for line in per_class([e.label for e in examples], predictions):
            typer.echo(line, err=True)


def per_class(labels: list[str], predictions: list[str]) -> list[str]:
    """The macro F1 and each class's recall, over the classes the labels hold: accuracy alone hides a
    class that is never predicted."""
    from sklearn.metrics import f1_score, recall_score

    from autotl.cli.report import recall_lines, screen_width

    classes = sorted(set(labels))
    recall = recall_score(labels, predictions, labels=classes, average=None, zero_division=0)
    macro_f1 = f1_score(labels, predictions, labels=classes, average="macro", zero_division=0)
    return [f"Macro F1: {macro_f1:.4f}", *recall_lines(dict(zip(classes, recall)), screen_width())]


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
