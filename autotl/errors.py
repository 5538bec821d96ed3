"""Errors a user can fix: the CLI prints them as one ``Error: ...`` line and exits with status 2."""


class AutotlError(Exception):
    """Bad input or usage. The message names the file or field and says what to do."""


def listing(items: list[str], limit: int = 5, sep: str = ", ") -> str:
    """The first ``limit`` items and a count of the rest, for one-line messages."""
    shown = sep.join(items[:limit])
    return shown + (f"{sep}and {len(items) - limit} more" if len(items) > limit else "")
