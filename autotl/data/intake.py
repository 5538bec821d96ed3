"""From ``--data PATH``, or data given as an object in Python, to a checked, split :class:`Dataset`."""

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

from autotl.contracts.data import SPLITS, DataFormat, Dataset, Example, IntakeOptions, LoadedData
from autotl.contracts.sources import Modality
from autotl.data import frames
from autotl.data.frames import Data
from autotl.data.splits import complete_splits
from autotl.errors import AutotlError


def read_dataset(data: Data, options: IntakeOptions, formats: list[DataFormat]) -> Dataset:
    """Read by the one data format of ``formats`` (the registered ones) that matches the path
    ``data``, or, for a DataFrame, a dict of columns or a pair (inputs, labels), by
    :mod:`autotl.data.frames`; checked and split alike."""
    path, format_name, modality, loaded = _read(data, options, formats)
    classes = _check_labels(path, loaded.splits)
    splits, origin = complete_splits(loaded.splits, loaded.splits_given, options)
    problems = loaded.problems + _missing_classes(splits, classes)
    _warn(loaded.problems)
    return Dataset(
        path=path,
        format=format_name,
        modality=modality,
        classes=classes,
        splits=splits,
        split_origin=origin,
        summary=loaded.summary,
        problems=problems,
    )


def read_examples(
    data: Data, options: IntakeOptions, formats: list[DataFormat], split: str | None = None
) -> tuple[Modality, list[Example]]:
    """Inputs to predict on, with their modality: one split of a labelled dataset, or everything,
    labelled or not."""
    if split is not None:
        if split not in SPLITS:
            raise AutotlError(f"--split {split!r}: choose train, val or test")
        dataset = read_dataset(data, options, formats)
        return dataset.modality, dataset.splits[split]
    _, _, modality, loaded = _read(data, replace(options, labels_required=False), formats)
    _warn(loaded.problems)
    return modality, [example for examples in loaded.splits.values() for example in examples]


def _read(data: Data, options: IntakeOptions, formats: list[DataFormat]) -> tuple[Path, str, Modality, LoadedData]:
    """What was read, before any check or split: the data's path (or name), its format and modality."""
    if frames.in_memory(data):
        name, modality, loaded = frames.read(data, options)
        return name, frames.FORMAT, modality, loaded
    path = Path(data).expanduser()
    if not path.exists():
        raise AutotlError(f"{path} does not exist: pass --data a folder of images or a .csv/.tsv/.jsonl file")
    data_format = _format_for(path, formats)
    return path, data_format.name, data_format.modality, data_format.read(path, options)


def _warn(left_out: list[str]) -> None:
    """What the reader left out (links out of the data, loose files, skipped bad files), one warning
    line each: only ``inspect`` shows a profile, and ``select``, ``train`` and ``predict`` must not
    drop inputs without a word. Said once the read succeeded, so that an error stays one line."""
    for problem in left_out:
        logging.getLogger("autotl").warning(problem)


def _format_for(path: Path, formats: list[DataFormat]) -> DataFormat:
    matching = [f for f in formats if f.matches(path)]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        layouts = "; or ".join(f.layout for f in formats)
        raise AutotlError(f"cannot read {path}: expected {layouts}")
    names = ", ".join(f.name for f in matching)
    raise AutotlError(f"{path} matches several data formats ({names}): leave one of their plugins out")


def _check_labels(path: Path, splits: dict) -> tuple[str, ...]:
    train_classes = {e.label for e in splits["train"]}
    if not train_classes:
        raise AutotlError(f"{path}: the train split holds no examples")
    for split, examples in splits.items():
        unseen = sorted({e.label for e in examples} - train_classes)
        if unseen:
            raise AutotlError(
                f"{path}: class {unseen[0]!r} appears in {split} but not in train; add train examples of it"
            )
    if len(train_classes) < 2:
        raise AutotlError(
            f"{path} has one class only ({next(iter(train_classes))!r}): classification needs at least two"
        )
    return tuple(sorted(train_classes))


def _missing_classes(splits: dict, classes: tuple[str, ...]) -> list[str]:
    problems = []
    for split in ("val", "test"):
        counts = Counter(e.label for e in splits[split])
        absent = [c for c in classes if not counts[c]]
        if absent:
            problems.append(f"{split} has no example of {', '.join(map(repr, absent))}")
    return problems
