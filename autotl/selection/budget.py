"""The wall-clock budget of a whole ``select`` command."""

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from autotl.errors import AutotlError

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """Seconds from ``90s``, ``15m``, ``2h``, ``1.5h`` or a plain number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise AutotlError(f"--budget {text!r}: give a duration such as 90s, 15m or 2h")
    return float(match[1]) * _UNITS[match[2] or "s"]


@dataclass
class Budget:
    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def fits(self, seconds: float, keep: float = 0.0) -> bool:
        """Whether work predicted to take ``seconds`` ends with ``keep`` seconds still left."""
        return seconds <= self.left() - keep
