"""``autotl inspect``: what ``select`` would see of a dataset, and which candidates it would build."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table

from autotl.cli import flags
from autotl.cli.report import screen_width, wrapped
from autotl.data.profile import IMBALANCED
from autotl.registry import Candidate, LeftOut, group_by_source, summarise_left_out, transferring


def inspect_command(
    data: flags.Data,
    text_column: flags.TextColumn = "text",
    label_column: flags.LabelColumn = "label",
    skip_bad_files: flags.SkipBadFiles = False,
    seed: flags.Seed = 0,
    models: flags.Models = None,
    strategies: flags.Strategies = None,
    regularizers: flags.Regularizers = None,
    json: flags.Json = False,
) -> None:
    """Validate and profile a dataset, and list the candidates select would try on it."""
    from autotl.data.intake import read_dataset
    from autotl.data.profile import profile
    from autotl.plugins import build_registry

    registry = build_registry()
    chosen = {"sources": models, "strategies": strategies, "regularizers": regularizers}
    chosen = {kind: registry.pick(kind, flags.names(value)) for kind, value in chosen.items()}
    chosen["strategies"] = transferring(chosen["strategies"])  # as select builds them
    with _held_warnings() as held:
        dataset = read_dataset(
            data,
            flags.intake_options(text_column, label_column, skip_bad_files, seed),
            registry.items("data_formats"),
        )
    kept, left_out = registry.candidates(dataset.modality, **chosen)
    report = profile(dataset)
    for message in held:
        if not any(message in problem or problem in message for problem in report["problems"]):
            logging.getLogger("autotl").warning(message)
    report["candidates"] = [c.label for c in kept]
    report["left_out"] = [{"what": str(item.what), "reason": item.reason} for item in left_out]
    if json:
        flags.print_json(report)
    else:
        _print(report, kept, left_out)


def _print(report: dict[str, Any], kept: list[Candidate], left_out: list[LeftOut]) -> None:
    console = Console(highlight=False)
    sizes = report["split_sizes"]
    console.print(f"[bold]{report['path']}[/bold]: {report['modality']} data ({report['format']})")
    console.print(
        f"{report['num_examples']} examples in {report['num_classes']} classes; "
        f"train {sizes['train']}, val {sizes['val']}, test {sizes['test']}"
    )
    origins = report["split_origin"]
    if len(set(origins.values())) == 1:
        console.print(f"Splits: {next(iter(origins.values()))}")
    else:
        console.print("Splits: " + "; ".join(f"{split} {origin}" for split, origin in origins.items()))
    for name, value in report["inputs"].items():
        console.print(f"{name}: {_describe(value)}")
    table = Table("class", "train", "val", "test", title="Examples per class and split", title_justify="left")
    for label, counts in report["counts"].items():
        table.add_row(label, *(str(counts[split]) for split in ("train", "val", "test")))
    console.print(table)
    imbalanced = (
        f" (above {IMBALANCED}: select judges by f1_macro and searches class-weighted losses)"
        if report["imbalance"] > IMBALANCED
        else ""
    )
    console.print(f"Imbalance (largest / smallest train class): {report['imbalance']:.2f}{imbalanced}")
    console.print("Problems: " + ("none" if not report["problems"] else ""))
    for problem in report["problems"]:
        console.print(f"  - {problem}")
    console.print(f"Candidates select would try: {len(report['candidates'])}")
    for line in group_by_source(kept):
        console.print(f"  - {line}")
    if left_out:
        console.print(f"Left out: {len(left_out)}")
        for reason in summarise_left_out(left_out):
            for line in wrapped(f"  - {reason}", screen_width(), "    "):
                console.print(line)


@contextmanager
def _held_warnings() -> Iterator[list[str]]:
    """The reader's warning lines, held back until the report is made, so that what it lists under
    Problems is said there once."""
    held: list[str] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record.getMessage())
        return False

    logger = logging.getLogger("autotl")
    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)


def _describe(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"min", "median", "max"}:
        return f"min {value['min']:g}, median {value['median']:g}, max {value['max']:g}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {count}" for key, count in value.items())
    return str(value)
