"""The final choice, decided under noise on one footing.

Every contender is judged on the same examples: out-of-fold predictions over train+val on the
same folds (or, when the validation split is large enough to decide alone, the validation
split), paired per example. From those predictions, one entry point, :func:`decide`:

1. **The prior's pick, unless the data says otherwise.** Among the contenders on the side of
   ``SHALLOW`` that the data's size asks for (:mod:`.priors`; Kornblith et al. 2019: small data
   favours frozen features, larger data fine-tuning), the prior's pick is the shallowest within
   one paired standard error of that side's best (the one-standard-error rule, within the side).
   The best contender overall replaces it only when a paired bootstrap over the examples puts
   its lead above one standard error. On one footing, a noisy contender gets no edge from its noise;
   in the tests' simulation of twelve equal contenders, the costlier half is chosen far less
   often than chance, while one truly 10 points better is found on 100 examples in half the
   draws, and on 300 in nine out of ten.
2. **No transfer by the same rule**: the classical baseline is chosen when it leads the best
   transfer contender by more than one paired standard error.
3. **An ensemble of the near-ties**: greedy ensemble selection with replacement over the
   contenders' probabilities (Caruana et al. 2004, as auto-sklearn and AutoGluon do). Its score
   is itself out of fold: its weights are chosen on the other folds of the footing and applied to
   each fold in turn. It becomes the choice when it leads the tie-broken single contender by more
   than one standard error of their paired difference.
4. **What to expect**: the bootstrap bias-corrected estimate of the accuracy that choosing among
   the compared configurations gives on new data (BBC-CV, Tsamardinos et al. 2018): on each
   bootstrap sample of the examples, the configuration that scores best in the bag is scored out
   of the bag. The best of many noisy scores is biased upward; this estimate is not. (It replays
   choosing the best score, not the prior's pick or the ensemble's margin.)

Pure numpy: the simulations in the tests drive it with made-up predictions.
"""

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from autotl.training.metrics import log_loss, score

SHALLOW = 0.5
"""The prior's side: below this depth, frozen features and light adaptation (what the priors ask
for on little data); from it, fine-tuning half the source or more."""
ONE_SE = 0.16
"""The best contender replaces the prior's pick when it leads in all but this share of the paired
resamples: by more than one standard error of their paired difference (a normal's one-sided tail
beyond one standard error; the one-standard-error rule, Breiman et al. 1984, paired)."""
RESAMPLES = 2000
"""Bootstrap samples: Efron and Tibshirani (1993) ask for at least 1000 for percentiles."""
ENSEMBLE_ROUNDS = 25
"""Greedy steps of ensemble selection (with replacement: weights in 1/25ths), AutoGluon's default."""


@dataclass(frozen=True)
class Footing:
    """The examples every contender is judged on."""

    labels: np.ndarray
    folds: np.ndarray
    """Each example's fold: the ensemble's weights for a fold are chosen on the others."""
    what: str
    """How the predictions were made, for the user: 'out-of-fold predictions over train+val (5 folds)'."""
    classes: int

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Contender:
    name: str
    probabilities: np.ndarray
    """On the footing's examples, in its order."""
    depth: float
    """How much of the source it adapts: 0 (frozen features, or no transfer) to 1 (every weight)."""
    transfers: bool = True
    """False for a no-transfer baseline, which wins only when nothing ties with it."""


@dataclass
class Ensemble:
    weights: dict[str, float]
    """Each member's weight, summing to 1, largest first."""
    probabilities: np.ndarray
    """Out of fold: each fold's weights chosen on the other folds."""
    score: float


@dataclass
class Expected:
    """What the user should expect of the chosen model on new data (BBC-CV)."""

    accuracy: float
    low: float
    high: float
    examples: int
    compared: int
    method: str


@dataclass
class Decision:
    chosen: str
    """The chosen contender's name, or ``ENSEMBLE``."""
    single: str
    """The best single contender, ties broken by the prior: the choice, unless the ensemble won."""
    why: str
    scores: dict[str, float]
    """Each contender's score on the footing."""
    ensemble: Ensemble | None
    expected: Expected | None
    probabilities: np.ndarray
    """The choice's predictions on the footing (out of fold): its temperature is fitted on them."""
    notes: dict[str, str] = field(default_factory=dict)
    """Why each contender lost, for the leaderboard."""


ENSEMBLE = "ensemble"


def decide(footing: Footing, contenders: list[Contender], metric: str, prior_depth: float, seed: int = 0) -> Decision:
    """The choice among ``contenders`` (at least one), and why; ``prior_depth``: how deeply the
    data's size and the sources' similarity say to adapt (:func:`.priors.prior`)."""
    resamples = Resamples(len(footing), seed)
    scores = {c.name: score(metric, footing.labels, c.probabilities.argmax(1), footing.classes) for c in contenders}
    every = resampled_scores(resamples, footing, [c.probabilities.argmax(1) for c in contenders], metric)
    resampled = {c.name: row for c, row in zip(contenders, every)}
    transfer = [c for c in contenders if c.transfers] or contenders
    single, best, prior, p_value = single_choice(footing, transfer, metric, prior_depth, resamples)
    why = _why(single, best, prior, p_value, scores, f"{len(contenders)} contenders on {footing.what}", prior_depth)
    notes = {
        c.name: f"not chosen: {scores[c.name]:.4f} against {scores[single.name]:.4f} on the same examples"
        for c in contenders
        if c is not single
    }
    if best is not single:
        notes[best.name] = (
            f"the best score ({scores[best.name]:.4f}), but it does not lead {prior.name}, on the side the data's "
            f"size asks for, by more than one standard error (paired bootstrap p = {p_value:.2f})"
        )
    baseline = next((c for c in contenders if not c.transfers), None)
    if baseline is not None and baseline is not single:
        if np.mean(resampled[baseline.name] - resampled[best.name] <= 0) < ONE_SE:
            single = baseline
            why = (
                f"no transfer: the classical baseline's {scores[baseline.name]:.4f} leads every transfer candidate by "
                f"more than one standard error (the best, {best.name}, {scores[best.name]:.4f}; paired bootstrap, "
                f"{len(contenders)} contenders on {footing.what})"
            )
    chosen, probabilities = single.name, single.probabilities
    ensemble = (
        select_ensemble(footing, contenders, metric) if len(contenders) > 1 and len(set(footing.folds)) > 1 else None
    )
    if ensemble is not None:
        [alone] = resampled_scores(resamples, footing, [ensemble.probabilities.argmax(1)], metric)
        lead = alone - resampled[single.name]
        margin = f"{ensemble.score - scores[single.name]:+.4f} ± {lead.std():.4f}"
        members = ", ".join(f"{name} x{w:.2f}" for name, w in ensemble.weights.items())
        if len(ensemble.weights) > 1 and ensemble.score - scores[single.name] > lead.std():
            chosen, probabilities = ENSEMBLE, ensemble.probabilities
            notes[ENSEMBLE] = f"chosen: out of fold it leads {single.name} by {margin} (paired); members {members}"
            why = (
                f"an ensemble of {len(ensemble.weights)} ({members}): its out-of-fold {metric} {ensemble.score:.4f} "
                f"leads the best single choice, {single.name} ({scores[single.name]:.4f}), by more than the noise "
                f"({margin}) on {footing.what}"
            )
        else:
            notes[ENSEMBLE] = (
                f"not chosen: out of fold it leads {single.name} by {margin}, within the noise; members {members}"
                if len(ensemble.weights) > 1
                else f"not chosen: greedy selection kept one member, {members}"
            )
    configurations = {c.name: c.probabilities for c in contenders}
    if ensemble is not None:
        configurations[ENSEMBLE] = ensemble.probabilities
    return Decision(
        chosen,
        single.name,
        why,
        scores,
        ensemble,
        bbc_cv(footing, configurations, metric, resamples),
        probabilities,
        notes,
    )


@dataclass(frozen=True)
class Resamples:
    """Bootstrap samples of a footing's examples, each as how often every example is drawn; made
    block by block from one seed, the same every time, so that a large footing never holds all
    of them at once (2000 x 20,000 counts would take 320 MB)."""

    examples: int
    seed: int
    count: int = RESAMPLES
    block: int = 100

    def blocks(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        uniform = np.full(self.examples, 1 / self.examples)
        for start in range(0, self.count, self.block):
            yield rng.multinomial(self.examples, uniform, size=min(self.block, self.count - start))


def single_choice(
    footing: Footing, contenders: list[Contender], metric: str, prior_depth: float, resamples: Resamples
) -> tuple[Contender, Contender, Contender, float]:
    """The single contender chosen, the best, the prior's pick, and the paired bootstrap's p-value
    of the best's lead over that pick. The prior's pick is, on the side the data's size asks for,
    the shallowest contender within one paired standard error of that side's best (the
    one-standard-error rule, where the prior has nothing to say: a linear probe that ties an MLP
    probe is the safer model). The best replaces it only when it leads it by more than one
    standard error. The search keeps the model of the contender this chooses so far."""
    scores = {c.name: score(metric, footing.labels, c.probabilities.argmax(1), footing.classes) for c in contenders}
    ranked = sorted(contenders, key=lambda c: (-scores[c.name], log_loss(c.probabilities, footing.labels)))
    best = ranked[0]
    side = [c for c in ranked if (c.depth < SHALLOW) == (prior_depth < SHALLOW)] or ranked
    resampled = dict(
        zip(
            (c.name for c in ranked),
            resampled_scores(resamples, footing, [c.probabilities.argmax(1) for c in ranked], metric),
        )
    )

    def p_lead(ahead: Contender, behind: Contender) -> float:
        """How often ``ahead`` does not lead ``behind``: small when its lead is more than the noise."""
        return float(np.mean(resampled[ahead.name] - resampled[behind.name] <= 0))

    prior = next(c for c in sorted(side, key=lambda c: c.depth) if c is side[0] or p_lead(side[0], c) >= ONE_SE)
    if prior is best:
        return best, best, prior, 1.0
    p_value = p_lead(best, prior)
    return (best if p_value < ONE_SE else prior), best, prior, p_value


def _why(single: Contender, best: Contender, prior: Contender, p_value: float, scores, compared: str, depth: float):
    if single is not prior:
        return (
            f"the best score, {scores[single.name]:.4f}, leads {prior.name} (on the side the data's size asks for, "
            f"{depth:.2f}) by more than one standard error, paired over {compared} (bootstrap p = {p_value:.3f})"
        )
    if single is best:
        return (
            f"the best score, {scores[single.name]:.4f}, on the side the data's size asks for ({depth:.2f}); {compared}"
        )
    if scores[single.name] == scores[best.name]:
        return (
            f"{scores[single.name]:.4f}, tied with the best score, and on the side the data's size asks for "
            f"({depth:.2f}); {compared}"
        )
    return (
        f"{scores[single.name]:.4f}, on the side the data's size asks for ({depth:.2f}): the best, {best.name} at "
        f"{scores[best.name]:.4f}, does not lead it by more than one standard error, paired over {compared} "
        f"(bootstrap p = {p_value:.2f})"
    )


def resampled_scores(resamples: Resamples, footing: Footing, predictions: list[np.ndarray], metric: str) -> np.ndarray:
    """``metric`` of each of ``predictions`` (rows) on each bootstrap sample (columns)."""
    return np.concatenate([_block_scores(block, footing, predictions, metric) for block in resamples.blocks()], axis=1)


def _block_scores(weights: np.ndarray, footing: Footing, predictions: list[np.ndarray], metric: str) -> np.ndarray:
    """Accuracy, or macro-F1 from weighted confusion counts, on samples given as the count of
    each example in them (rows of ``weights``)."""
    labels, weights = footing.labels, weights.astype(np.float32)
    if metric == "accuracy":
        return np.stack([weights @ (p == labels).astype(np.float32) for p in predictions]) / weights.sum(1)
    truth = np.eye(footing.classes, dtype=np.float32)[labels]
    per_label = weights @ truth  # samples x classes: how many of each class each sample holds
    rows = []
    for p in predictions:
        predicted = np.eye(footing.classes, dtype=np.float32)[p]
        denominator = weights @ predicted + per_label
        true_positive = weights @ (predicted * truth)
        f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(denominator), where=denominator > 0)
        rows.append(f1.mean(1))
    return np.stack(rows)


def greedy_weights(probabilities: dict[str, np.ndarray], labels: np.ndarray, metric: str, classes: int) -> dict:
    """Caruana et al.'s ensemble selection with replacement: ``ENSEMBLE_ROUNDS`` times, add the
    member that most improves the average's score (its log-loss breaks ties, which on a few dozen
    examples are the rule); the weights are how often each was added."""
    counts = dict.fromkeys(probabilities, 0)
    total = np.zeros_like(next(iter(probabilities.values())))
    for step in range(1, ENSEMBLE_ROUNDS + 1):

        def merit(name: str) -> tuple[float, float]:
            average = (total + probabilities[name]) / step
            return score(metric, labels, average.argmax(1), classes), -log_loss(average, labels)

        pick = max(probabilities, key=merit)
        counts[pick] += 1
        total = total + probabilities[pick]
    kept = sorted(((n, c / ENSEMBLE_ROUNDS) for n, c in counts.items() if c), key=lambda item: -item[1])
    return dict(kept)


def average(probabilities: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(w * probabilities[name] for name, w in weights.items())


def select_ensemble(footing: Footing, contenders: list[Contender], metric: str) -> Ensemble:
    """The ensemble's weights on the whole footing, and its out-of-fold predictions and score:
    the weights used on each fold are chosen on the other folds (the selection is itself a fit)."""
    probabilities = {c.name: c.probabilities for c in contenders}
    cross_fitted = np.zeros_like(contenders[0].probabilities)
    for fold in np.unique(footing.folds):
        inside = footing.folds != fold
        weights = greedy_weights(
            {n: p[inside] for n, p in probabilities.items()}, footing.labels[inside], metric, footing.classes
        )
        cross_fitted[~inside] = average({n: p[~inside] for n, p in probabilities.items()}, weights)
    weights = greedy_weights(probabilities, footing.labels, metric, footing.classes)
    return Ensemble(weights, cross_fitted, score(metric, footing.labels, cross_fitted.argmax(1), footing.classes))


def bbc_cv(
    footing: Footing, configurations: dict[str, np.ndarray], metric: str, resamples: Resamples
) -> Expected | None:
    """Tsamardinos et al.'s bootstrap bias-corrected CV: the accuracy, out of each bootstrap
    sample, of the configuration that ``metric`` ranks first in it; the mean, and its 2.5 and 97.5
    percentiles. It estimates choosing the best-scored of the configurations compared, the
    procedure whose optimism it corrects; the prior's pick and the ensemble's margin are not
    replayed in each sample. None when no sample leaves an example out (a footing of one)."""
    predictions = [p.argmax(1) for p in configurations.values()]
    correct = np.stack([p == footing.labels for p in predictions]).astype(float)
    values = []
    for weights in resamples.blocks():
        winners = _block_scores(weights, footing, predictions, metric).argmax(0)
        out_of_bag = weights == 0
        counted = out_of_bag.sum(1)
        right = (correct[winners] * out_of_bag).sum(1)
        values.extend(right[counted > 0] / counted[counted > 0])
    values = np.asarray(values)
    if not len(values):
        return None
    return Expected(
        float(values.mean()),
        float(np.quantile(values, 0.025)),
        float(np.quantile(values, 0.975)),
        len(footing),
        len(configurations),
        f"BBC-CV (Tsamardinos et al. 2018) over {len(configurations)} configurations, on {footing.what}, "
        f"{resamples.count} bootstrap samples",
    )
