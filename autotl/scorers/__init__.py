"""Transferability scorers: cheap estimates, on frozen features, of how well a source will transfer."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from autotl.needs import Needs


@dataclass(frozen=True)
class ScoringInputs:
    """What a scorer sees of one source on the target's training split.

    ``source_probs`` holds the source head's class probabilities, present only
    for sources that offer a head.
    """

    features: np.ndarray
    labels: np.ndarray
    source_probs: np.ndarray | None = None


class Scorer(ABC):
    """Higher is better. Registered through ``register_scorers``."""

    name: str
    description: str
    needs: Needs = frozenset()

    @abstractmethod
    def score(self, inputs: ScoringInputs) -> float: ...
