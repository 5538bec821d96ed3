"""The wall-clock budget of a whole ``select`` command."""

import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from autotl.errors import AutotlError

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(value: str | float, option: str = "--budget") -> float:
    """Seconds from ``90s``, ``15m``, ``2h``, ``1.5h`` or a plain number of seconds (a number too, as
    the Python API takes it)."""
    text = value if isinstance(value, str) else str(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise AutotlError(f"{option} {value!r}: give a duration such as 90s, 15m or 2h")
    return float(match[1]) * _UNITS[match[2] or "s"]


OVERRUN = 0.10
"""The share of the budget that the whole command may run past it (the 1.1 x of the contract)."""
CLOSING_SHARE = OVERRUN / 2
"""What of that the command's closing (logging the model, the leaderboard and the figures) may
take; the refit of the chosen trial may take the rest (``REFIT_OVERRUN``)."""
REFIT_OVERRUN = OVERRUN - CLOSING_SHARE


@dataclass
class Budget:
    seconds: float
    clock: Callable[[], float] = time.monotonic
    spent: float = 0.0
    """Seconds the command spent before this budget was made: its process's start-up (importing
    torch and MLflow takes seconds, and tens of them on a busy machine)."""
    started: float = field(init=False)
    closing: float = 0.0
    """Seconds kept back from the work for the command's closing, beyond its share of the overrun
    (``keep_for_closing``)."""

    def __post_init__(self) -> None:
        self.started = self.clock() - self.spent

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        """What the work may still spend: the closing's time is not the work's."""
        return self.seconds - self.closing - self.elapsed()

    def keep_for_closing(self, expected: float) -> None:
        """Keeps back what the closing is expected to take past its share of the overrun: on a
        budget of a few seconds, logging the model is a large part of the whole."""
        self.closing = max(0.0, expected - CLOSING_SHARE * self.seconds)

    def fits(self, seconds: float, keep: float = 0.0) -> bool:
        """Whether work predicted to take ``seconds`` ends with ``keep`` seconds still left."""
        return seconds <= self.left() - keep


STEPS = (60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600, 28800, 43200, 86400)
"""The budgets advice names, in seconds: whole minutes and hours a person would type."""


def suggested_budget(needed: float) -> str:
    """The first budget of ``STEPS`` that covers ``needed`` seconds, as ``--budget`` takes it."""
    seconds = next((step for step in STEPS if step >= needed), math.ceil(needed / 3600) * 3600)
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds // 60}m"
