"""What a method needs from a source, and what sources and strategies offer.

A candidate is built only when every need of its strategy, regularizer or scorer
is offered by its source (or, for regularizers, provided by its strategy).
"""

from enum import Enum
from typing import Iterable


class Capability(str, Enum):
    SOURCE_HEAD = "source_head"
    FEATURE_MAPS = "feature_maps"
    BATCH_NORM = "batch_norm"
    BLOCKS = "blocks"
    TRAINED_BACKBONE = "trained_backbone"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Capability.SOURCE_HEAD: "a source classification head",
    Capability.FEATURE_MAPS: "convolutional feature maps",
    Capability.BATCH_NORM: "batch-norm layers",
    Capability.BLOCKS: "ordered blocks",
    Capability.TRAINED_BACKBONE: "a backbone that training updates",
}

Needs = frozenset[Capability]


def needs(*capabilities: Capability | str) -> Needs:
    """Builds a set of capabilities from members or their string names."""
    return frozenset(Capability(c) for c in capabilities)


def unmet(required: Iterable[Capability], offered: Iterable[Capability]) -> list[Capability]:
    """The required capabilities that are not offered, in a stable order."""
    offered = set(offered)
    return sorted((c for c in required if c not in offered), key=lambda c: c.value)


def describe(capabilities: Iterable[Capability]) -> str:
    return " and ".join(c.description for c in capabilities)
