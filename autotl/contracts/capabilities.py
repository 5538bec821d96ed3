"""What a method needs from a source, and what sources and strategies offer.

A candidate is built only when every need of its strategy, regularizer or scorer
is offered by its source (or, for regularizers, provided by its strategy).
"""

from enum import Enum
from typing import Iterable


class Capability(str, Enum):
    SOURCE_HEAD = "source_head"
    BLOCKS = "blocks"
    TRAINED_BACKBONE = "trained_backbone"
    ADAPTED_FEATURES = "adapted_features"
    SOURCE_TASK = "source_task"
    TEXT_ENCODER = "text_encoder"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Capability.SOURCE_HEAD: "a source classification head",
    Capability.BLOCKS: "ordered blocks",
    Capability.TRAINED_BACKBONE: "pretrained backbone weights that training updates",
    Capability.ADAPTED_FEATURES: "pretrained features that training adapts",
    Capability.SOURCE_TASK: "a source task (a source head, or labelled --source-data)",
    Capability.TEXT_ENCODER: "a text encoder (one vector per text)",
}

IMPLIED = {Capability.SOURCE_HEAD: frozenset({Capability.SOURCE_TASK})}
"""What offering one capability offers as well: a source head defines a source task."""

Needs = frozenset[Capability]


def needs(*capabilities: Capability | str) -> Needs:
    """Builds a set of capabilities from members or their string names."""
    return frozenset(Capability(c) for c in capabilities)


def unmet(required: Iterable[Capability], offered: Iterable[Capability]) -> list[Capability]:
    """The required capabilities that are not offered, directly or implied, in a stable order."""
    offered = set(offered)
    offered |= {implied for c in list(offered) for implied in IMPLIED.get(c, ())}
    return sorted((c for c in required if c not in offered), key=lambda c: c.value)


def describe(capabilities: Iterable[Capability]) -> str:
    return " and ".join(c.description for c in capabilities)
