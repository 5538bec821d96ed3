"""How much noise a validation score carries: its standard error, and how many folds a small
validation split calls for instead. A 15-example validation split cannot tell two candidates
apart by one example. The decision between candidates is :mod:`.decision`'s.
"""

import math
from typing import Sequence

MAX_SPLIT_SE = 0.025
"""A validation split decides alone when its binomial standard error at 50 % accuracy is at most
2.5 points, which takes 400 examples: then a 5-point lead stands two standard errors clear (95 %).
A smaller split cannot tell the few points that separate good candidates from chance (on 180
validation images two linear probes tied that differed by 4 points on 700 test images), and every
contender is then cross-validated over train+val instead, five times the examples."""
MAX_FOLDS = 5
"""Cross-validation uses 5 folds (Kohavi 1995; Hastie et al. 7.10), fewer when the rarest class
of train+val has fewer examples, so that every fold holds each class."""


def binomial_se(value: float, examples: int) -> float:
    """The standard error of an accuracy measured on ``examples`` examples, with one success and
    one failure added (Laplace), so a perfect or a null score on a few examples is not certain."""
    p = (value * examples + 1) / (examples + 2)
    return math.sqrt(p * (1 - p) / max(examples, 1))


def fold_se(values: Sequence[float], examples: int) -> float:
    """The standard error of a mean over folds: the folds' spread, or the binomial error of the
    ``examples`` they validated together when that is larger (a few folds can agree by chance)."""
    mean = sum(values) / len(values)
    spread = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) / math.sqrt(len(values))
        if len(values) > 1
        else 0.0
    )
    return max(spread, binomial_se(mean, examples))


def folds_for_size(validation_examples: int, rarest: int) -> int:
    """How many folds to cross-validate over: none when the validation split is large enough to
    decide alone; else up to ``MAX_FOLDS``, no more than the rarest class of train+val has
    examples, and none when it has a single one (no stratified fold can hold it twice)."""
    if binomial_se(0.5, validation_examples) <= MAX_SPLIT_SE or rarest < 2:
        return 0
    return min(MAX_FOLDS, rarest)
