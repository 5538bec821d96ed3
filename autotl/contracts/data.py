"""Target data as autotl holds it, from reading to splitting, and the readers that data-format
plugins register."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autotl.contracts.sources import Modality

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class IntakeOptions:
    """How to read and split a dataset; the CLI's ``--text-column`` and friends."""

    text_column: str = "text"
    label_column: str = "label"
    skip_bad_files: bool = False
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    labels_required: bool = True
    """False for prediction: a flat folder of images, or a file without the label column, is read unlabelled."""


@dataclass(frozen=True)
class Example:
    """One input (an image file path or a text) with its label (None when unlabelled).

    ``fingerprint`` hashes the content, not the path: it keys the feature cache
    and finds the same input in two splits.
    """

    input: str
    label: str | None
    fingerprint: str


@dataclass
class LoadedData:
    """What a data format reads: the splits the data came with, before any are carved.

    An unsplit layout gives everything as ``train`` with ``splits_given`` false.
    ``summary`` describes the
    inputs (image sizes, text lengths) for the profile; ``problems`` are what
    the user should know but that did not stop the read.
    """

    splits: dict[str, list[Example]]
    splits_given: bool
    summary: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class Dataset:
    """A labelled dataset with train, val and test splits, ready for selection."""

    path: Path
    format: str
    modality: Modality
    classes: tuple[str, ...]
    splits: dict[str, list[Example]]
    split_origin: dict[str, str]
    summary: dict[str, Any]
    problems: list[str]


class DataFormat(ABC):
    """A reader for one layout of labelled data, registered through ``register_data_formats``.

    ``layout`` is a short description of the layout, shown when no format
    recognises a path. ``read`` raises :class:`autotl.errors.AutotlError` with a
    message naming the file or field at fault.
    """

    name: str
    modality: Modality
    layout: str

    @abstractmethod
    def matches(self, path: Path) -> bool:
        """Cheap look at the path's layout; do not read the data here."""

    @abstractmethod
    def read(self, path: Path, options: IntakeOptions) -> LoadedData: ...
