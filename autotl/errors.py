"""Errors a user can act on: the CLI prints each as one ``Error: ...`` line, with exit status 2
for bad input or usage and 1 for a file it could not write."""


class AutotlError(Exception):
    """Bad input or usage. The message names the file or field and says what to do."""


class WriteError(Exception):
    """A file autotl makes could not be written (a full disk, no permission): the CLI prints one
    ``Error: ...`` line that names it and exits with status 1, and nothing is left half-written."""


def listing(items: list[str], limit: int = 5, sep: str = ", ") -> str:
    """The first ``limit`` items and a count of the rest, for one-line messages."""
    shown = sep.join(items[:limit])
    return shown + (f"{sep}and {len(items) - limit} more" if len(items) > limit else "")
