"""Target data: reading it through data-format plugins, splitting it, profiling it."""

from abc import ABC, abstractmethod
from pathlib import Path

from autotl.data.dataset import SPLITS, Dataset, Example, IntakeOptions, LoadedData
from autotl.sources import Modality


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, links resolved: what autotl must not write
    into the data, and what it reads from it."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


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


__all__ = ["SPLITS", "DataFormat", "Dataset", "Example", "IntakeOptions", "LoadedData"]
