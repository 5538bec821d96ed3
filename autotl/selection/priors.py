"""Where the search starts: the practice of transfer learning as a ranking of candidates.

Very little data favours frozen features and a penalty that keeps fine-tuned weights near the
source; much data favours training every weight; a source whose frozen features separate the
target's classes poorly (a dissimilar source) needs deeper adaptation (Kornblith et al. 2019,
Yosinski et al. 2014). The ranking seeds the Optuna study: its first guesses are tried first.
"""

import math
from dataclasses import dataclass

from autotl.registry import Candidate

FEW_PER_CLASS, MANY_PER_CLASS = 5, 500
"""Examples per class at which the data alone asks for no adaptation and for full adaptation."""
DISSIMILARITY_WEIGHT = 0.4
"""How far a source whose frozen features do no better than chance moves the depth up."""
PENALTY_BELOW = 0.5
"""Depths below this prefer a regularizer that anchors the weights; above it, none."""


@dataclass(frozen=True)
class Prior:
    depth: float
    """How much of the source to adapt, 0 (frozen features) to 1 (every weight)."""
    reason: str


def prior(per_class: float, similarity: float | None) -> Prior:
    """``per_class``: training examples per class. ``similarity``: how well the source's frozen
    features separate the classes, 0 (chance) to 1 (perfectly); None when unknown."""
    size = math.log(max(per_class, 1) / FEW_PER_CLASS) / math.log(MANY_PER_CLASS / FEW_PER_CLASS)
    known = 0.5 if similarity is None else similarity
    depth = min(1.0, max(0.0, size + DISSIMILARITY_WEIGHT * (1 - known) - DISSIMILARITY_WEIGHT / 2))
    about = "unknown similarity" if similarity is None else f"frozen-feature similarity {similarity:.2f}"
    return Prior(depth, f"{per_class:.0f} examples/class, {about}: adapt about {depth:.2f} of the source")


def knn_similarity(knn_accuracy: float | None, classes: int) -> float | None:
    """Leave-one-out kNN accuracy on frozen features, rescaled so that chance is 0 and perfect 1."""
    if knn_accuracy is None or not math.isfinite(knn_accuracy):
        return None
    chance = 1 / classes
    return min(1.0, max(0.0, (knn_accuracy - chance) / (1 - chance)))


def rank(candidates: list[Candidate], guide: Prior) -> list[Candidate]:
    """Candidates closest to the prior's depth first; among equals, an anchoring regularizer first
    on little data and none on much. Strategies that declare no depth (``scratch``) come last."""

    def distance(candidate: Candidate) -> tuple[float, float, float]:
        depth = candidate.strategy.depth
        if depth is None:
            return (math.inf, 0.0, 0.0)
        wrong_penalty = candidate.regularizer.penalises != (guide.depth < PENALTY_BELOW and depth > 0)
        return (round(abs(depth - guide.depth), 2), float(wrong_penalty), candidate.regularizer.extra_forwards)

    return sorted(candidates, key=distance)
