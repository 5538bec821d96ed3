"""Training settings: the loop's own (learning rate, epochs, ...) and the ones a strategy or
regularizer declares (a learning-rate ratio, a penalty strength, ...); defaults first, then
``--set key=value``."""

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Iterable, Mapping

from autotl.errors import AutotlError


@dataclass(frozen=True)
class Range:
    """Where a setting's values may lie: from ``low`` to ``high``, an end left out when ``open``.
    ``says`` replaces the generated wording where the ends need explaining."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    says: str = ""

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def wording(self) -> str:
        """``from 0 to 1``, ``above 0``, ``1 or more``, ...: what an error names."""
        low = f"above {self.low:g}" if self.low_open else f"{self.low:g}"
        high = f"below {self.high:g}" if self.high_open else f"{self.high:g}"
        if math.isinf(self.low):
            return high if self.high_open else f"{high} or less"
        if math.isinf(self.high):
            return low if self.low_open else f"{low} or more"
        return f"from {low} to {high}"


NOT_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)
AT_LEAST_ONE = Range(1)


@dataclass(frozen=True)
class Setting:
    """A hyperparameter a strategy or regularizer reads from ``TrainParams.extra``.

    ``choices`` are the values ``select`` searches: a tuple, or a function of the
    source's number of blocks when the sensible values depend on its depth. ``names`` spell
    the values of a setting that picks one of a few policies (``augment=light``), and only
    those values are allowed. ``modality`` restricts a setting to the sources of one modality.
    ``range``: the values allowed to a setting without names, checked before any work (0 or more
    unless declared: most settings are weights, ratios or counts).
    """

    name: str
    default: float
    choices: tuple[float, ...] | Callable[[int], tuple[float, ...]]
    help: str
    integer: bool = False
    names: tuple[tuple[int, str], ...] = ()
    modality: str | None = None
    range: Range = NOT_NEGATIVE

    def values(self, num_blocks: int) -> tuple[float, ...]:
        return self.choices(num_blocks) if callable(self.choices) else self.choices

    def parse(self, text: str) -> float:
        named = {name: value for value, name in self.names}
        if text in named:
            return named[text]
        value = int(text) if self.integer else float(text)
        if self.names and value not in dict(self.names):
            raise ValueError(text)
        return value

    def expected(self) -> str:
        """What ``parse`` takes, for an error message."""
        if self.names:
            return "one of " + ", ".join(f"{name} ({value})" for value, name in self.names)
        return "an integer" if self.integer else "a number"

    def allowed(self) -> Range:
        """The values ``parse`` keeps (a named setting's names are its range), and how to say them."""
        if self.names:
            return Range(says=self.expected())
        if self.range.says:
            return self.range
        wording = self.range.wording()
        joint = ", " if wording[0] in "-0123456789" else " "
        return replace(self.range, says=f"{self.expected()}{joint}{wording}")

    def applies_to(self, modality: str) -> bool:
        return self.modality in (None, modality)

    def shown(self, value: float) -> str:
        """``value`` as ``--set`` takes it: by name where the setting names its values."""
        return dict(self.names).get(value, f"{value:g}")


CLASS_WEIGHT = Setting(
    "class_weight",
    0.0,
    (0.0, 1.0),
    "exponent of the inverse class frequency that weights each class's loss: 0 plain, 1 balanced",
    range=Range(0, 1),
)
"""A strategy that trains through autotl's helpers (``training.loop.fit``, ``train_head``,
``train_end_to_end``, the convex probe) honours this by declaring it; ``select`` searches it only on
imbalanced data (``autotl.data.profile.IMBALANCED``)."""


RANGES: dict[str, Range] = {
    "lr": replace(POSITIVE, says="a learning rate above 0, e.g. 1e-3"),
    "epochs": replace(AT_LEAST_ONE, says="at least 1 epoch"),
    "batch_size": replace(AT_LEAST_ONE, says="a batch size of at least 1"),
    "weight_decay": replace(NOT_NEGATIVE, says="a weight decay of 0 or more"),
    "warmup": Range(0, 1, high_open=True, says="a fraction of the steps, from 0 to below 1, e.g. 0.1"),
    "threads": replace(NOT_NEGATIVE, says="0 (torch's default) or a number of CPU threads"),
    "image_size": replace(NOT_NEGATIVE, says="0 (the source's own) or a side in pixels"),
}
"""What each of the loop's own settings may be, and what to say when it is not."""

SCHEDULE = ("lr", "epochs", "weight_decay", "warmup")
"""The loop's settings of an optimiser's schedule: a strategy without one (``Strategy.schedule``
False: a convex or closed-form fit) reads none of them."""


@dataclass
class TrainParams:
    """What ``autotl train --set key=value`` can change."""

    lr: float = 1e-3
    epochs: int = 10
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup: float = 0.1
    """Fraction of the optimisation steps spent warming the learning rate up from near zero."""
    threads: int = 0
    """CPU threads for torch; 0 leaves torch's default."""
    image_size: int = 0
    """Side of the square input images are resized to; 0 keeps the source's own. Smaller is
    cheaper, and loses little when the images are small to begin with."""
    extra: dict[str, float] = field(default_factory=dict)
    """The settings the strategy and regularizer declare, by name."""

    @classmethod
    def from_strings(
        cls, settings: dict[str, str], defaults: Mapping[str, float] | None = None, declared: Iterable[Setting] = ()
    ) -> "TrainParams":
        """Strategy defaults first, then the user's ``--set`` values, checked and typed."""
        declared = {s.name: s for s in declared}
        params = cls(**(defaults or {}), extra={name: s.default for name, s in declared.items()})
        types = {f.name: f.type for f in fields(cls) if f.name != "extra"}
        for key, value in settings.items():
            if key not in types and key not in declared:
                raise AutotlError(f"--set {key}=...: unknown key; the keys are {', '.join([*types, *declared])}")
            try:
                if key in declared:
                    params.extra[key] = declared[key].parse(value)
                else:
                    setattr(params, key, types[key](value))
            except ValueError:
                if key in declared:
                    expected = declared[key].expected()
                else:
                    expected = "an integer" if types[key] is int else "a number"
                raise AutotlError(f"--set {key}={value}: expected {expected}") from None
        ranges = RANGES | {name: setting.allowed() for name, setting in declared.items()}
        for key, value in params.as_dict().items():
            if not math.isfinite(value):
                raise AutotlError(f"--set {key}={value}: expected a finite number")
            if value not in ranges.get(key, Range()):
                raise AutotlError(f"--set {key}={value}: expected {ranges[key].says}")
        return params

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "TrainParams":
        """The inverse of ``as_dict``: keys that are not the loop's own are declared settings."""
        own = {f.name for f in fields(cls)} - {"extra"}
        return cls(
            **{k: v for k, v in values.items() if k in own}, extra={k: v for k, v in values.items() if k not in own}
        )

    def as_dict(self) -> dict[str, Any]:
        """Flat, as MLflow logs it and ``--set`` takes it."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"} | self.extra

    def shown(self, schedule: bool) -> dict[str, Any]:
        """``as_dict``, less a schedule's settings for a strategy without one, which reads none of them."""
        return {key: value for key, value in self.as_dict().items() if schedule or key not in SCHEDULE}


def starting_values(defaults: Mapping[str, float], declared: Iterable[Setting], schedule: bool) -> dict[str, float]:
    """What a strategy trains with unless ``--set`` says otherwise: the loop's settings over its
    ``defaults`` (those of a schedule only when it has one), then its ``declared`` settings."""
    return TrainParams.from_strings({}, defaults, declared).shown(schedule)
