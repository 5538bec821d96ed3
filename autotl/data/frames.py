"""Target data given as objects rather than files: a pandas DataFrame, a dict of columns, or a pair
``(inputs, labels)``. Read as the text-file and image-folder formats read files (the same checks,
fingerprints and summary), so that a DataFrame of texts and the same rows written to a CSV give the
same dataset, and the same seeded splits.

The inputs are the ``text_column`` (``text`` unless named otherwise), or, in a frame without it, the
column ``image``. They are images when that column is ``image``, or when every value is the path of
an existing image file; texts otherwise. A pair's inputs fill the ``text_column``, its labels the
``label_column``."""

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Union

import pandas as pd

from autotl.contracts.data import Example, IntakeOptions, LoadedData
from autotl.contracts.sources import Modality
from autotl.data import shown
from autotl.data.checks import reject_or_skip, text_example, text_problem, text_summary
from autotl.data.image_files import EXTENSIONS, image_summary, inspect_image, max_pixels
from autotl.errors import AutotlError

Data = Union[str, os.PathLike, pd.DataFrame, Mapping[str, Sequence], tuple[Sequence, Sequence]]
"""What ``select``, ``train`` and ``evaluate`` take: a path (a folder, a CSV), or one of the objects read here."""

FORMAT = "dataframe"
IMAGE_COLUMN = "image"
KINDS = "a folder, a .csv/.tsv/.jsonl path, a pandas DataFrame, a dict of columns or a pair (inputs, labels)"


def in_memory(data: Data) -> bool:
    """Whether ``data`` is an object to read here rather than a path for a data format."""
    return not isinstance(data, (str, os.PathLike))


def read(data: Data, options: IntakeOptions) -> tuple[Path, Modality, LoadedData]:
    """The examples of ``data``, all as ``train`` (as an unsplit file gives them), their modality, and
    a name for the data where a path would be: ``dataframe-`` and a digest of the examples, which
    MLflow records as the data's path and which is the same for the same examples."""
    frame = as_frame(data, options)
    column = _input_column(frame, options)
    labels = _labels(frame, options)
    inputs = frame[column]
    if column == IMAGE_COLUMN or _all_image_files(inputs):
        modality, loaded = "image", _images(inputs, labels, options)
    else:
        modality, loaded = "text", _texts(inputs, labels, options)
    return _name(loaded), modality, loaded


def as_frame(data: Data, options: IntakeOptions) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, tuple) and len(data) == 2:
        frame = _pair(*data, options)
    elif isinstance(data, Mapping):
        try:
            frame = pd.DataFrame(dict(data))
        except (ValueError, TypeError) as error:
            raise AutotlError(f"cannot make a DataFrame of these columns ({error}): give lists of one length") from None
    else:
        raise AutotlError(f"cannot read data of type {type(data).__name__}: give {KINDS}")
    if frame.empty:
        raise AutotlError("the DataFrame has no rows: give one row per example, with its input and label")
    return frame


def _pair(inputs: Sequence, labels: Sequence, options: IntakeOptions) -> pd.DataFrame:
    for name, part in (("inputs", inputs), ("labels", labels)):
        if isinstance(part, (str, bytes)) or not hasattr(part, "__len__"):
            raise AutotlError(f"(inputs, labels): the {name} are a {type(part).__name__}, not a list")
    if len(inputs) != len(labels):
        raise AutotlError(f"(inputs, labels): {len(inputs)} inputs but {len(labels)} labels; give one label per input")
    return pd.DataFrame({options.text_column: list(inputs), options.label_column: list(labels)})


def _input_column(frame: pd.DataFrame, options: IntakeOptions) -> str:
    columns = [str(column) for column in frame.columns]
    column = options.text_column if options.text_column in columns else IMAGE_COLUMN
    if column not in columns:
        raise AutotlError(
            f"the DataFrame has no column {options.text_column!r} (its columns: {', '.join(columns)}); name the "
            f"inputs' column with text_column, or call a column of image paths {IMAGE_COLUMN!r}"
        )
    _one_column(columns, column, "text_column")
    return column


def _one_column(columns: list[str], column: str, option: str) -> None:
    if columns.count(column) > 1:
        raise AutotlError(
            f"the DataFrame has {columns.count(column)} columns named {column!r}: rename all but the one {option} "
            "should read"
        )


def _labels(frame: pd.DataFrame, options: IntakeOptions) -> list[str | None]:
    """Each row's label as a class name ("" where missing), or None for every row of unlabelled data.
    Labels are names, so 1 and "1" would be one class: a column that mixes strings with other
    values is refused rather than merged."""
    column = options.label_column
    columns = [str(c) for c in frame.columns]
    if column not in columns:
        if options.labels_required:
            raise AutotlError(
                f"the DataFrame has no column {column!r} (its columns: {', '.join(columns)}); name the labels' "
                "column with label_column"
            )
        return [None] * len(frame)
    _one_column(columns, column, "label_column")
    given = [value for value in frame[column] if not _missing(value)]
    strings = [value for value in given if isinstance(value, str)]
    others = [value for value in given if not isinstance(value, str)]
    if strings and others:
        raise AutotlError(
            f"the {column!r} column mixes strings ({strings[0]!r}) with {type(others[0]).__name__} values "
            f"({others[0]!r}): write every label the same way, e.g. all as strings"
        )
    return ["" if _missing(value) else str(value).strip() for value in frame[column]]


def _missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _all_image_files(values: pd.Series) -> bool:
    return all(
        isinstance(value, (str, os.PathLike))
        and Path(value).suffix.lower() in EXTENSIONS
        and Path(value).expanduser().is_file()
        for value in values
    )


def _texts(values: pd.Series, labels: list[str | None], options: IntakeOptions) -> LoadedData:
    examples: list[Example] = []
    bad: list[str] = []
    for row, value, label in zip(values.index, values, labels):
        text = "" if _missing(value) else str(value)
        problem = text_problem(text, label)
        if problem:
            bad.append(f"row {row}: {problem}")
            continue
        examples.append(text_example(text, label))
    problems: list[str] = []
    reject_or_skip(bad, "row(s) with an empty text or label", options, problems)
    if not examples:
        raise AutotlError("the DataFrame holds no labelled texts")
    return LoadedData({"train": examples}, False, text_summary([e.input for e in examples]), problems)


def _images(values: pd.Series, labels: list[str | None], options: IntakeOptions) -> LoadedData:
    limit = max_pixels()
    examples: list[Example] = []
    infos: list[tuple[int, int, str]] = []
    unlabelled: list[str] = []
    bad: list[str] = []
    for row, value, label in zip(values.index, values, labels):
        if _missing(value) or label == "":
            unlabelled.append(f"row {row}: {'no image path' if _missing(value) else 'no label'}")
            continue
        path = Path(value).expanduser()
        info, error = inspect_image(path, limit) if path.is_file() else (None, "no such file")
        if error:
            bad.append(f"row {row} {shown(path)} ({error})")
            continue
        infos.append(info[:3])
        examples.append(Example(str(path), label, info[3]))
    problems: list[str] = []
    reject_or_skip(unlabelled, "row(s) without an image path or a label", options, problems)
    reject_or_skip(bad, "file(s) cannot be read as images", options, problems)
    if not examples:
        raise AutotlError("the DataFrame holds no readable images")
    return LoadedData({"train": examples}, False, image_summary(infos), problems)


def _name(loaded: LoadedData) -> Path:
    digest = hashlib.sha256()
    for examples in loaded.splits.values():
        for example in examples:
            digest.update(f"{example.fingerprint}:{example.label}\n".encode())
    return Path(f"{FORMAT}-{digest.hexdigest()[:12]}")
