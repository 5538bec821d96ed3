"""Checks and summaries that every data format shares."""

import hashlib
import statistics

from autotl.contracts.data import Example, IntakeOptions
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


def text_problem(text: str, label: str | None) -> str:
    """What keeps a row of text data out ("" when nothing does): no text, or an empty label."""
    return "empty text" if not text.strip() else "no label" if label == "" else ""


def text_example(text: str, label: str | None) -> Example:
    """A text as an example, fingerprinted by its content."""
    return Example(input=text, label=label, fingerprint=hashlib.sha256(text.encode("utf-8")).hexdigest())


def text_summary(texts: list[str]) -> dict:
    """Lengths in characters and words, as the profile shows them."""
    return {"characters": spread([len(t) for t in texts]), "words": spread([len(t.split()) for t in texts])}
