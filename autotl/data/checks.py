"""Checks and summaries that every data format shares."""

import statistics

from autotl.contracts.data import IntakeOptions
from autotl.errors import AutotlError, listing


def reject_or_skip(bad: list[str], what: str, options: IntakeOptions, problems: list[str]) -> None:
    """Bad inputs stop the read, unless ``--skip-bad-files`` turns them into a noted problem.

    ``what`` names the fault, e.g. "files cannot be read as images".
    """
    if not bad:
        return
    shown = listing(bad, sep="; ")
    if not options.skip_bad_files:
        raise AutotlError(f"{len(bad)} {what}: {shown}. Fix or remove them, or pass --skip-bad-files to leave them out")
    problems.append(f"skipped {len(bad)} {what}: {shown}")


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}
