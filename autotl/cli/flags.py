"""Flags that several commands share, declared once (Typer options), and the helpers that build
a run's options from them."""

import json
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from autotl.contracts.data import IntakeOptions
from autotl.contracts.options import RunOptions
from autotl.errors import AutotlError

Data = Annotated[
    Path, typer.Option("--data", help="A folder of images (one sub-folder per class) or a .csv/.tsv/.jsonl file.")
]
TextColumn = Annotated[str, typer.Option(help="Column holding the texts (text data).")]
LabelColumn = Annotated[str, typer.Option(help="Column holding the labels (text data).")]
SkipBadFiles = Annotated[
    bool, typer.Option(help="Leave out unreadable files and empty rows, with a warning, instead of stopping.")
]
Seed = Annotated[int, typer.Option(help="Seed for the splits and everything random.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")]
Models = Annotated[
    str | None,
    typer.Option(
        help="Comma list of source models to consider (see `autotl models`).",
        show_default="every one whose weights are here",
    ),
]
Strategies = Annotated[
    str | None,
    typer.Option(
        help="Comma list of transfer strategies to consider (see `autotl plugins`).", show_default="all registered"
    ),
]
Regularizers = Annotated[
    str | None,
    typer.Option(help="Comma list of regularizers to consider (see `autotl plugins`).", show_default="all registered"),
]


def intake_options(text_column: str, label_column: str, skip_bad_files: bool, seed: int) -> IntakeOptions:
    """The data options of the commands that only read data, checked like those of ``train`` and ``select``."""
    return RunOptions(
        text_column=text_column, label_column=label_column, skip_bad_files=skip_bad_files, seed=seed
    ).intake


Options = TypeVar("Options", bound=RunOptions)


def build(kind: type[Options], parameters: dict[str, Any], **converted: Any) -> Options:
    """A command's options object, built once: each field from the command's parameter of the same
    name (``locals()`` at the top of the command), or from ``converted`` where the CLI's form differs."""
    names = {f.name for f in fields(kind)}
    return kind(**{name: value for name, value in parameters.items() if name in names} | converted)


def names(value: str | None) -> list[str] | None:
    """A comma list option as names; None when the option was not given."""
    if value is None:
        return None
    return [name.strip() for name in value.split(",") if name.strip()]


def gpu_list(value: str | None) -> list[int] | None:
    """``--gpus 0,1`` as device indices."""
    if value is None:
        return None
    gpus = names(value)
    if not gpus or not all(gpu.isdigit() for gpu in gpus):
        raise AutotlError(f"--gpus {value!r}: give CUDA device numbers separated by commas, such as 0,1")
    return [int(gpu) for gpu in gpus]


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


Metric = Annotated[
    str,
    typer.Option(
        help="What to maximise on validation: accuracy, f1_macro, or auto (f1_macro when classes are imbalanced)."
    ),
]
Device = Annotated[str, typer.Option(help="auto (a GPU when there is one), cpu, cuda or cuda:N.")]
TrackingUri = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI.", show_default="MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db"),
]
Experiment = Annotated[str, typer.Option(help="MLflow experiment name.")]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        help="Feature cache folder.",
        show_default="AUTOTL_CACHE_DIR, else $XDG_CACHE_HOME/autotl/features, else ~/.cache/autotl/features",
    ),
]
SourceData = Annotated[
    Path | None,
    typer.Option(
        help="Labelled examples of a source task, laid out like --data, for the multitask strategy.",
        show_default="none: multitask learns the source model's own outputs",
    ),
]
TrustRemoteCode = Annotated[bool, typer.Option(help="Let Hugging Face models run code from their repository.")]
Register = Annotated[
    str | None,
    typer.Option(
        help="Also put the model in the MLflow model registry under this name (a new version each time).",
        metavar="NAME",
        show_default="not registered",
    ),
]
