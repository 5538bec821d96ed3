"""Transferability scorers: cheap estimates, on frozen features, of how well a source will transfer."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from autotl.contracts.capabilities import Needs


@dataclass(frozen=True)
class ScoringInputs:
    """What a scorer sees of one source on the target's training split.

    ``source_probs`` holds the source head's class probabilities, present only
    for sources that offer a head.
    """

    features: np.ndarray
    labels: np.ndarray
    source_probs: np.ndarray | None = None


@dataclass(frozen=True)
class Scorer(ABC):
    """Higher is better. Registered through ``register_scorers``; computed only for sources that
    offer what it ``needs``. ``ranks_sources``: whether it counts toward the combined score that
    ranks the sources, or is only shown beside it."""

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)
    ranks_sources: bool = True

    @abstractmethod
    def score(self, inputs: ScoringInputs) -> float: ...


@dataclass(frozen=True)
class FunctionScorer(Scorer):
    """A scorer that is one function of the scoring inputs."""

    function: Callable[[ScoringInputs], float] = field(default=lambda inputs: 0.0, compare=False)

    def score(self, inputs: ScoringInputs) -> float:
        return float(self.function(inputs))
