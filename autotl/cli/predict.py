"""``autotl predict``: predictions from a logged model, as a CSV."""

import csv
from pathlib import Path
from typing import Annotated

import typer

from autotl.cli import options


def predict_command(
    model: Annotated[str, typer.Option("--model", help="runs:/<run id>/model, models:/<name>/<version>, or a local model folder.")],
    data: options.Data,
    output: Annotated[Path | None, typer.Option(help="CSV to write: input, label (when known), prediction, confidence.")] = None,
    split: Annotated[str | None, typer.Option(help="Predict only this split (train, val or test), split as `train` and `select` split it.")] = None,
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
    from autotl.training.device import resolve_device

    intake = options.intake_options(text_column, label_column, skip_bad_files, seed)
    examples = read_examples(data, intake, split)
    mlflow.set_tracking_uri(tracking.resolve_uri(tracking_uri))
    loaded = logged_model.load(model)
    loaded.device = resolve_device(device)
    probabilities = loaded.probabilities([e.input for e in examples])
    predictions = [loaded.classes[i] for i in probabilities.argmax(1)]
    labelled = all(e.label is not None for e in examples)
    if output:
        with output.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["input", "label", "prediction", "confidence"] if labelled else ["input", "prediction", "confidence"])
            for example, prediction, confidence in zip(examples, predictions, probabilities.max(1)):
                label = [example.label] if labelled else []
                writer.writerow([example.input, *label, prediction, f"{confidence:.6f}"])
        typer.echo(f"Wrote {len(examples)} predictions to {output}", err=True)
    else:
        for example, prediction in zip(examples, predictions):
            typer.echo(f"{prediction}\t{example.input[:80]}")
    if labelled:
        correct = sum(e.label == p for e, p in zip(examples, predictions))
        typer.echo(f"Accuracy: {correct / len(examples):.4f} ({correct}/{len(examples)})", err=True)
