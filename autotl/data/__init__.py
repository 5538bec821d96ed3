"""Target data: finding its reader, checking and splitting it, profiling it. What a dataset is
lives in :mod:`autotl.contracts.data`; the readers are data-format plugins."""

from pathlib import Path


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, links resolved: what autotl must not write
    into the data, and what it reads from it."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
