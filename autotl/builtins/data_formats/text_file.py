"""Built-in data format: labelled texts in a CSV, TSV or JSON Lines file.

One file (``data.csv``), or a folder with ``{train,val,test}.{csv,tsv,jsonl}``; a split file that a
link leads out of the folder is refused unread. The text and label columns are ``text`` and
``label`` unless the user names others with ``--text-column`` and ``--label-column``.
"""

import csv
import io
import json
import logging
import sys
from pathlib import Path

import autotl
from autotl.contracts.data import SPLITS, DataFormat, Example, IntakeOptions, LoadedData
from autotl.data import refuse_link_out
from autotl.data.checks import reject_or_skip, text_example, text_problem, text_summary
from autotl.errors import AutotlError

DELIMITERS = {".csv": ",", ".tsv": "\t", ".jsonl": None}

Row = tuple[int, object, object]  # (line number, text, label); a missing field is None


class TextFile(DataFormat):
    name = "text-file"
    modality = "text"
    layout = (
        "a .csv, .tsv or .jsonl file with a text and a label column, "
        "or a folder holding {train,val,test}.{csv,tsv,jsonl}"
    )

    def matches(self, path: Path) -> bool:
        if path.is_file():
            return path.suffix.lower() in DELIMITERS
        return bool(_split_files(path))

    def read(self, path: Path, options: IntakeOptions) -> LoadedData:
        files = {"train": path} if path.is_file() else _given_splits(path)
        splits: dict[str, list[Example]] = {}
        bad: list[str] = []
        for split, file in files.items():
            splits[split] = []
            labelled, rows = _rows(file, options)
            for line, text, label in rows:
                text = "" if text is None else str(text)
                label = ("" if label is None else str(label).strip()) if labelled else None
                problem = text_problem(text, label)
                if problem:
                    bad.append(f"{file} line {line}: {problem}")
                    continue
                splits[split].append(text_example(text, label))
        problems: list[str] = []
        reject_or_skip(bad, "row(s) with an empty text or label", options, problems)
        texts = [e.input for examples in splits.values() for e in examples]
        if not texts:
            raise AutotlError(f"{path} holds no labelled texts: expected {self.layout}")
        return LoadedData(splits, path.is_dir(), text_summary(texts), problems)


def _split_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        folder / f"{split}{suffix}"
        for split in SPLITS
        for suffix in DELIMITERS
        if (folder / f"{split}{suffix}").is_file()
    ]


def _given_splits(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in _split_files(folder):
        refuse_link_out(file, folder)
        split = file.stem
        if split in files:
            raise AutotlError(f"{folder} has both {files[split].name} and {file.name}: keep one file per split")
        files[split] = file
    if "train" not in files:
        raise AutotlError(f"{folder} has {', '.join(p.name for p in files.values())} but no train file: add train.csv")
    return files


def _rows(file: Path, options: IntakeOptions) -> tuple[bool, list[Row]]:
    """Whether the file has labels, and its rows."""
    content = _decode(file)
    if not content.strip():
        raise AutotlError(f"{file} is empty: expected a header line and one row per text")
    if file.suffix.lower() == ".jsonl":
        found, rows = _jsonl_rows(file, content, options)
    else:
        found, rows = _delimited_rows(content, DELIMITERS[file.suffix.lower()], options)
    labelled = options.label_column in found
    required = (
        (options.text_column, options.label_column) if options.labels_required or labelled else (options.text_column,)
    )
    _check_columns(file, found, required)
    return labelled, rows


def _decode(file: Path) -> str:
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise AutotlError(
            f"{file} is not UTF-8 text: byte 0x{data[error.start]:02x} on line {line} cannot be decoded; "
            "re-save the file as UTF-8"
        ) from None


def _delimited_rows(content: str, delimiter: str, options: IntakeOptions) -> tuple[list[str], list[Row]]:
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = [(reader.line_num, row.get(options.text_column), row.get(options.label_column)) for row in reader]
    return list(reader.fieldnames or []), rows


def _jsonl_rows(file: Path, content: str, options: IntakeOptions) -> tuple[list[str], list[Row]]:
    records = []
    for line, raw in enumerate(content.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as error:
            raise AutotlError(f"{file} line {line} is not valid JSON ({error.msg}): one JSON object per line") from None
        if not isinstance(record, dict):
            raise AutotlError(f"{file} line {line} is a JSON {type(record).__name__}, not an object with named fields")
        records.append((line, record))
    found = sorted({key for _, record in records for key in record})
    _warn_of_merged_labels(file, [record.get(options.label_column) for _, record in records])
    return found, [
        (line, record.get(options.text_column), record.get(options.label_column)) for line, record in records
    ]


def _warn_of_merged_labels(file: Path, labels: list) -> None:
    """Labels are class names, so 1 and "1" become one class (while 1.0 stays apart): say so."""
    kinds: dict[str, set[str]] = {}
    for label in labels:
        if label is not None:
            kinds.setdefault(str(label), set()).add(type(label).__name__)
    merged = sorted(name for name, types in kinds.items() if len(types) > 1)
    if merged:
        logging.getLogger("autotl").warning(
            f"{file}: labels {', '.join(map(repr, merged[:5]))} appear both as numbers and as strings, and each pair "
            "is read as one class; write every label the same way if they are different classes"
        )


def _check_columns(file: Path, found: list[str], columns: tuple[str, ...]) -> None:
    for column, option in zip(columns, ("--text-column", "--label-column")):
        if found.count(column) > 1:
            raise AutotlError(
                f"{file} has {found.count(column)} columns named {column!r}: rename all but the one {option} should "
                "read"
            )
        if column not in found:
            raise AutotlError(
                f"{file} has no column {column!r} (its columns: {', '.join(found) or 'none'}); "
                f"name the right one with {option}"
            )


@autotl.hookimpl
def register_data_formats(register):
    register(TextFile())
