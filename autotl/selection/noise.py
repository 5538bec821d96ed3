"""Deciding under noise: every validation score carries its standard error, and a costlier or
deeper candidate wins only by more than that (the one-standard-error rule of Breiman et al. 1984,
Hastie et al., The Elements of Statistical Learning, 7.10). A 15-example validation split cannot
tell two candidates apart by one example.
"""

import math
from typing import Callable, Sequence

from autotl.selection.leaderboard import Row

MAX_SPLIT_SE = 0.05
"""A validation split decides alone when its binomial standard error at 50 % accuracy is at most
5 points, which takes 100 examples; a smaller one cannot tell a 5-point difference from chance,
and the probes are then cross-validated over train+val instead."""
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


def one_standard_error(rows: list[Row], cost: Callable[[Row], tuple]) -> tuple[Row, str]:
    """The cheapest of ``rows`` (by ``cost``: depth of adaptation, then seconds) whose score is
    within one standard error of the best score, and why it was chosen."""
    best = max(rows, key=lambda r: r.val_metric)
    margin = best.val_se or 0.0
    chosen = min((r for r in rows if r.val_metric >= best.val_metric - margin), key=cost)
    if chosen is best:
        runner = max((r for r in rows if r is not best), key=lambda r: r.val_metric, default=None)
        if runner is None:
            return best, "the only result"
        return best, (
            f"the best validation score, {best.val_metric:.4f} ± {margin:.4f}; the next best, "
            f"{runner.candidate} ({runner.val_metric:.4f}), is cheaper or shallower but more than one standard error "
            "behind"
            if cost(runner) < cost(best)
            else f"the best validation score, {best.val_metric:.4f} ± {margin:.4f}, and the cheapest within one "
            "standard error"
        )
    return chosen, (
        f"{chosen.val_metric:.4f} is within one standard error ({margin:.4f}) of the best, "
        f"{best.candidate} at {best.val_metric:.4f}, and it is cheaper or shallower: the difference is noise"
    )


def beats_by_more_than_noise(challenger: Row, incumbent: Row) -> bool:
    """Whether ``challenger`` leads ``incumbent`` by more than the challenger's standard error."""
    return challenger.val_metric - (challenger.val_se or 0.0) > incumbent.val_metric


def beats_every(challenger: Row, rows: list[Row]) -> bool:
    """Whether ``challenger`` leads each of ``rows``, the best too, by more than its standard error
    (not merely the one the one-standard-error rule would pick among them)."""
    return all(beats_by_more_than_noise(challenger, row) for row in rows)
