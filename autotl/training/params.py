"""Training settings: the strategy's defaults, overridden by ``--set key=value``."""

from dataclasses import dataclass, fields
from typing import Any, Mapping

from autotl.errors import AutotlError


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

    @classmethod
    def from_strings(cls, settings: dict[str, str], defaults: Mapping[str, float] | None = None) -> "TrainParams":
        """Strategy defaults first, then the user's ``--set`` values, checked and typed."""
        params = cls(**(defaults or {}))
        types = {f.name: f.type for f in fields(cls)}
        for key, value in settings.items():
            if key not in types:
                raise AutotlError(f"--set {key}=...: unknown key; the keys are {', '.join(types)}")
            kind = types[key]
            try:
                setattr(params, key, kind(value))
            except ValueError:
                raise AutotlError(f"--set {key}={value}: expected a number ({kind.__name__})") from None
        if params.epochs < 1 or params.batch_size < 1 or params.lr <= 0:
            raise AutotlError("--set: epochs and batch_size must be at least 1 and lr above 0")
        return params

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
