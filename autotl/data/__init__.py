"""Target data: finding its reader, checking and splitting it, profiling it. What a dataset is
lives in :mod:`autotl.contracts.data`; the readers are data-format plugins."""

from pathlib import Path

from autotl.errors import AutotlError, listing
from autotl.files import within


def without_links_out(paths: list[Path], folder: Path, problems: list[str]) -> list[Path]:
    """``paths`` less those that a link leads out of ``folder``: every reader drops those unread, and
    names and counts them in ``problems``, as it does a file it cannot read."""
    outside = {path for path in paths if not within(path, folder)}
    if outside:
        names = listing([shown(path) for path in sorted(outside)])
        problems.append(f"ignored {len(outside)} file(s) linked from outside {shown(folder)}: {names}")
    return [path for path in paths if path not in outside]


def refuse_link_out(path: Path, folder: Path) -> None:
    """A split or class folder, or a split file, that a link leads out of ``folder`` stops the read:
    leaving it out would change the classes or the splits, not drop an example."""
    if not within(path, folder):
        raise AutotlError(
            f"{shown(path)} is a link to outside {shown(folder)}: autotl reads nothing outside the data it is "
            f"given; copy what it points to into {shown(folder)}"
        )


def shown(path: Path | str) -> str:
    """A name as one line, control characters escaped: a file name may hold a newline, and a warning
    or an error that names it must stay one line."""
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]
