"""What long work tells the person waiting: a line per event and, in a terminal, live bars with
rates and time left (feature extraction, the budget, each trial's or run's epochs).

Work reports through a plain ``progress(message)`` callable; ``bar(progress, ...)`` draws a bar
only when that callable is a :class:`TerminalProgress`, so tests and ``--json`` runs, which pass
plain functions, see the same lines and no bars.
"""

import sys
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

Advance = Callable[..., None]
"""``advance(amount=1)``, or ``advance(completed=value)`` to set where the bar stands."""


def bar(progress: Callable[[str], None], description: str, total: float, unit: str) -> ContextManager[Advance]:
    make = getattr(progress, "bar", None)
    return make(description, total, unit) if make else nullcontext(lambda amount=1, completed=None: None)


@contextmanager
def reporting(quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Bars when stderr is a terminal (and not ``quiet``), plain lines on stderr otherwise."""
    if quiet or not sys.stderr.isatty():
        yield lines
        return
    with TerminalProgress() as terminal:
        yield terminal


def lines(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class TerminalProgress:
    """Lines printed above live bars on stderr. Use as a context manager around the work."""

    def __init__(self, console: Console | None = None) -> None:
        self.live = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=True,
        )

    def __enter__(self) -> "TerminalProgress":
        self.live.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.stop()

    def __call__(self, message: str) -> None:
        self.live.console.print(message, markup=False, highlight=False)  # wrapped at the terminal's width

    @contextmanager
    def bar(self, description: str, total: float, unit: str) -> Iterator[Advance]:
        task = self.live.add_task(description, total=total, unit=unit)

        def advance(amount: float = 1, completed: float | None = None) -> None:
            if completed is None:
                self.live.advance(task, amount)
            else:
                self.live.update(task, completed=min(completed, total))

        try:
            yield advance
        finally:
            self.live.remove_task(task)


class _RateColumn(ProgressColumn):
    """Items per second, or seconds per item when slower than one a second."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        if not speed or unit == "s":  # a clock's rate is one second a second
            return Text("")
        text = f"{speed:.3g} {unit}/s" if speed >= 1 else f"{1 / speed:.3g} s/{unit.removesuffix('s')}"
        return Text(text, style="progress.data.speed")
