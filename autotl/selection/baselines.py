"""The no-transfer baselines a selection reports beside its choice, so that the uplift it prints
is what transfer bought: the classical one (:mod:`autotl.classical`), which costs seconds and
always runs, and ``scratch`` (the chosen architecture from random weights), which runs only with
its whole default schedule: a truncated one-epoch scratch says nothing. ``scratch`` is a role
(``Strategy.baseline``), not a name: any strategy registered with it is run the same way."""

import math
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from autotl.contracts.data import Dataset, Example
from autotl.contracts.settings import TrainParams
from autotl.contracts.strategies import Strategy
from autotl.registry import Candidate
from autotl.selection.costs import logistic_units
from autotl.selection.leaderboard import Row, RowState
from autotl.selection.noise import binomial_se, fold_se
from autotl.training import classical
from autotl.training.metrics import score

if TYPE_CHECKING:
    from autotl.selection.trials import Trials

CLASSICAL = "no transfer"
SHARE = 0.2
"""The search keeps time for the no-transfer baselines (``scratch``) only while their whole default
schedules and the test fit in this share of the budget; else it keeps none for them, and they run
at the end only if their whole schedules still fit."""
CLASSICAL_SHARE = 0.25
"""The classical baseline runs first, in at most this share of the budget as predicted; when the
whole of it would take longer, it is shrunk (``Shrink``) until it fits, down to the smallest
version, which runs whatever the budget: it is the answer when no transfer trial finishes."""
SAMPLE_CLASSES = 10
SAMPLE_PER_CLASS = 10
"""Its time is predicted from one timed fit on a sample of train+val, this many classes with at
most this many examples each, scaled by ``costs.logistic_units``. Data no larger than the sample
is not timed: the whole baseline costs about what timing it would."""
PER_CLASS = (100, 50, 20, 10, 5, 3, 2, 1)
"""The caps on training examples per class that a shrunk baseline tries, largest first."""
FEATURES = (3 * 16 * 16, 3 * 8 * 8, 3 * 4 * 4)
"""The caps on features that the smallest versions try: raw pixels of 16, 8 and 4 pixels a side,
or as many of the most frequent n-grams."""


@dataclass
class Baseline:
    name: str
    test_accuracy: float | None
    note: str = ""
    """Why it did not train, when it did not."""


@dataclass(frozen=True)
class Shrink:
    """A cheaper classical baseline: at most ``per_class`` training examples of each class (a seeded
    choice), the TF-IDF ``family`` alone rather than each one tried, and at most ``features``
    features (raw pixels of a smaller side, or the most frequent n-grams); None: as the whole has it."""

    per_class: int | None = None
    family: str | None = None
    features: int | None = None

    def note(self) -> str:
        return ", ".join(
            filter(
                None,
                (
                    self.family and f"TF-IDF of {self.family} alone",
                    self.per_class and f"at most {self.per_class} training example(s) a class",
                    self.features and f"at most {self.features} features",
                ),
            )
        )

    def examples(self, examples: list[Example], seed: int) -> list[Example]:
        if self.per_class is None:
            return examples
        order = random.Random(seed).sample(range(len(examples)), len(examples))
        taken: Counter = Counter()
        kept = set()
        for i in order:
            if taken[examples[i].label] < self.per_class:
                taken[examples[i].label] += 1
                kept.add(i)
        return [e for i, e in enumerate(examples) if i in kept]

    def side(self, dataset: Dataset) -> int:
        """The raw pixels' side: the images' own, at most ``classical.RAW_SIDE``, and within ``features``."""
        most = math.isqrt(self.features // 3) if self.features else classical.RAW_SIDE
        return max(1, min(median_side(dataset), classical.RAW_SIDE, most))


@dataclass
class ClassicalResult:
    row: Row
    """Its validation score on the same folds or split as the candidates, with its standard error."""
    model: classical.ClassicalModel
    """Fitted on train+val."""
    test_accuracy: float
    test_metric: float
    fold_seconds: float
    """The mean time of one fold's fit and validation: what a probe on cached features is first priced at."""
    validated: list[np.ndarray]
    """Its probabilities on each fold's validation examples."""
    test_predictions: np.ndarray


def run_classical(
    dataset: Dataset, folds: list[dict[str, list[Example]]], metric: str, seed: int, shrink: Shrink = Shrink()
) -> ClassicalResult:
    """Fitted on train+val (where a text's TF-IDF family is chosen, once), validated on each of
    ``folds`` (train+val's folds, or the train/val split) with that family, and tested once; each
    fit on the examples ``shrink`` keeps, every validation and test example predicted."""
    classes = dataset.classes
    index = {label: i for i, label in enumerate(classes)}

    def fitted(examples: list[Example], family: str | None = None) -> classical.ClassicalModel:
        return fit_classical(dataset, examples, seed, shrink, family)

    def scored(probabilities: np.ndarray, examples: list[Example], name: str) -> float:
        return score(name, [index[e.label] for e in examples], probabilities.argmax(1), len(classes))

    final = fitted(dataset.splits["train"] + dataset.splits["val"])
    family = getattr(final.representation, "family", None)
    started = time.monotonic()
    validated = [fitted(fold["train"], family).probabilities([e.input for e in fold["val"]]) for fold in folds]
    values = [scored(probabilities, fold["val"], metric) for probabilities, fold in zip(validated, folds)]
    fold_seconds = (time.monotonic() - started) / len(folds)
    examples = sum(len(fold["val"]) for fold in folds)
    mean = float(np.mean(values))
    se = fold_se(values, examples) if len(folds) > 1 else binomial_se(mean, examples)
    test = dataset.splits["test"]
    tested = final.probabilities([e.input for e in test])
    footing = "the same folds" if len(folds) > 1 else "the same validation split"
    row = Row(
        f"{CLASSICAL}: {final.description}",
        "",
        "classical",
        "",
        val_metric=mean,
        val_se=se,
        folds=len(folds),
        state=RowState.BASELINE,
        reason="; ".join(
            filter(
                None,
                (
                    f"no-transfer baseline, on {footing} as the candidates",
                    shrink.note() and f"shrunk to fit the budget: {shrink.note()}",
                ),
            )
        ),
    )
    return ClassicalResult(
        row=row,
        model=final,
        test_accuracy=scored(tested, test, "accuracy"),
        test_metric=scored(tested, test, metric),
        fold_seconds=fold_seconds,
        validated=validated,
        test_predictions=tested.argmax(1),
    )


def fit_classical(
    dataset: Dataset, examples: list[Example], seed: int, shrink: Shrink, family: str | None = None
) -> classical.ClassicalModel:
    """The baseline on the ``examples`` that ``shrink`` keeps, with ``family`` (by default
    ``shrink``'s, else each one tried)."""
    kept = shrink.examples(examples, seed)
    index = {label: i for i, label in enumerate(dataset.classes)}
    parts = len(classical.TEXT_FAMILIES[family or shrink.family]) if family or shrink.family else 1
    return classical.fit(
        dataset.modality,
        [e.input for e in kept],
        [index[e.label] for e in kept],
        dataset.classes,
        seed,
        shrink.side(dataset),
        family or shrink.family,
        shrink.features and max(1, shrink.features // parts),
    )


class ClassicalForecast:
    """Predicted seconds of the classical baseline, whole or shrunk: its fits in the units of
    ``costs.logistic_units`` (their examples, features and classes), at the seconds a unit took
    in one fit on a sample of the data, here and now."""

    def __init__(self, dataset: Dataset, folds: list[dict[str, list[Example]]], seed: int, clock: Callable[[], float]):
        self.dataset, self.folds, self.seed = dataset, folds, seed
        self.pool = dataset.splits["train"] + dataset.splits["val"]
        self.text = dataset.modality == "text"
        self.unit_s = 0.0
        """Seconds a unit took in the sample's fit; 0 for data no larger than the sample."""
        if len(self.pool) > SAMPLE_CLASSES * SAMPLE_PER_CLASS:
            chosen = set(random.Random(seed).sample(dataset.classes, min(SAMPLE_CLASSES, len(dataset.classes))))
            timed = Shrink(SAMPLE_PER_CLASS, next(iter(classical.TEXT_FAMILIES)) if self.text else None)
            sample = [e for e in self.pool if e.label in chosen]
            started = clock()
            fit_classical(dataset, sample, seed, timed)
            self.unit_s = (clock() - started) / self.units(timed, sample, final=False)

    def units(self, shrink: Shrink, examples: list[Example], final: bool) -> float:
        """One fit's units, each TF-IDF family's in the ``final`` one when it tries them all. Texts
        count as many features as examples (their vocabulary is larger, and the fit runs in the
        examples' row space), images their pixels."""
        kept = shrink.examples(examples, self.seed)
        counts = Counter(e.label for e in kept)
        features = min(len(kept), shrink.features or len(kept)) if self.text else 3 * shrink.side(self.dataset) ** 2
        families = len(classical.TEXT_FAMILIES) if final and self.text and not shrink.family else 1
        return families * logistic_units(len(kept), features, len(counts), min(counts.values()))

    def seconds(self, shrink: Shrink) -> float:
        """The final fit on train+val, and one fit per fold."""
        fits = [self.units(shrink, self.pool, final=True), *(self.units(shrink, f["train"], False) for f in self.folds)]
        return self.unit_s * sum(fits)

    def fitting(self, seconds: float) -> Shrink:
        """The largest version of the baseline predicted to take at most ``seconds``; the smallest
        when none is."""
        versions = self.versions()
        return next((shrink for shrink in versions if self.seconds(shrink) <= seconds), versions[-1])

    def versions(self) -> list[Shrink]:
        """From the whole baseline down: one TF-IDF family, then fewer examples a class, then fewer features."""
        family = next(iter(classical.TEXT_FAMILIES)) if self.text else None
        most = max(Counter(e.label for e in self.pool).values())
        capped = [Shrink(cap, family) for cap in PER_CLASS if cap < most]
        smallest = capped[-1].per_class if capped else None
        whole = len(self.pool) if self.text else 3 * Shrink().side(self.dataset) ** 2
        fewer = [Shrink(smallest, family, features) for features in FEATURES if features < whole]
        return list(dict.fromkeys([Shrink(), Shrink(family=family), *capped, *fewer]))


def median_side(dataset: Dataset) -> int:
    """The images' median shorter side, which raw pixels are not enlarged beyond."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes:
        return classical.RAW_SIDE
    return int(min(sizes["width"]["median"], sizes["height"]["median"]))


def classical_baseline(trials: "Trials") -> ClassicalResult:
    """The classical baseline, validated like the probes, so that it can be compared with them; its
    fold time is what a probe on cached features is first priced at. Shrunk, with a note, when the
    whole of it is predicted to take more than its share of the budget, or than the time left (a
    busy machine's start-up can spend most of a short budget)."""
    budget, folds = trials.budget, trials.cv_folds or [trials.unseen_test]
    started = budget.clock()
    forecast = ClassicalForecast(trials.dataset, folds, trials.seed, budget.clock)
    allowed = min(CLASSICAL_SHARE * budget.seconds, budget.left()) - (budget.clock() - started)
    shrink = forecast.fitting(allowed)
    if shrink != Shrink():
        trials.progress(
            f"No-transfer baseline shrunk to {shrink.note()} (~{forecast.seconds(shrink):.0f}s): the whole of it would "
            f"take ~{forecast.seconds(Shrink()):.0f}s, over its {max(0.0, allowed):.0f}s share of the budget"
        )
    result = run_classical(trials.dataset, folds, trials.metric, trials.seed, shrink)
    result.row.seconds = budget.clock() - started
    result.row.predictions = trials.on_footing.gather([fold["val"] for fold in folds], result.validated)
    result.row.footing = trials.on_footing.digest
    trials.costs.classical_timed(result.fold_seconds)
    trials.record(result.row)
    trials.progress(
        f"No-transfer baseline, {result.model.description}: val {trials.metric} {result.row.val_metric:.4f} ± "
        f"{result.row.val_se:.4f} ({result.row.seconds:.0f}s)"
    )
    return result


def schedule(
    trials: "Trials", baseline: Strategy, candidate: Candidate, time_a_step: bool
) -> tuple[Candidate, TrainParams, float | None]:
    """A no-transfer ``baseline`` strategy on ``candidate``'s architecture at its whole default
    schedule, and what that and the test should take (None when that needs a step timed and
    ``time_a_step`` is false). It trains with a regularizer that adds no penalty when one is a candidate's."""
    plain = next((c.regularizer for c in trials.candidates if not c.regularizer.penalises), candidate.regularizer)
    run = Candidate(candidate.source, baseline, plain)
    params = trials.params(run)
    if not time_a_step and not trials.costs.can_predict(run, params):
        return run, params, None
    return run, params, trials.costs.predicted(run, params) + trials.costs.test_seconds(candidate.source.name)


def reserve(trials: "Trials", baselines: list[Strategy], candidate: Candidate) -> tuple[float, str]:
    """Seconds the search keeps for the no-transfer baselines, and why: each one's whole schedule
    while they fit in their share of the budget, else none for it (a cut schedule would report
    nothing). No step is timed for them: on a short budget that alone can cost more than the probes."""
    if not baselines:
        return 0.0, "no no-transfer baseline strategy is registered"
    kept, reasons, share = 0.0, [], SHARE * trials.budget.seconds
    for baseline in baselines:
        needed = schedule(trials, baseline, candidate, time_a_step=False)[2]
        if needed is None:
            reasons.append(
                f"none kept for the {baseline.name} baseline (its cost is not known before an end-to-end step is timed)"
            )
        elif kept + needed > share:
            reasons.append(
                f"none kept for the {baseline.name} baseline (its whole schedule and the test ~{needed:.0f}s, "
                f"over its {share:.0f}s share)"
            )
        else:
            kept += needed
            reasons.append(f"{needed:.0f}s kept for the {baseline.name} baseline")
    return kept, "; ".join(reasons)


def no_transfer(trials: "Trials", baselines: list[Strategy], architecture: Row) -> list[Baseline]:
    """Each no-transfer baseline strategy on the chosen architecture at its whole default schedule,
    when that and the test fit in the time left; else why not. Never cut short: a truncated run says nothing."""
    candidate = trials.candidate(architecture.candidate)
    budget, share = trials.budget, SHARE * trials.budget.seconds
    results = []
    for baseline in baselines:
        run, params, needed = schedule(trials, baseline, candidate, time_a_step=budget.left() > share)
        name = f"{baseline.name} {candidate.source.name}"
        if needed is None:
            results.append(
                Baseline(
                    name,
                    None,
                    f"not trained: no end-to-end step of it was timed, and {max(0.0, budget.left()):.1f}s "
                    f"left (under its {share:.0f}s share) would not pay for timing and training it",
                )
            )
            continue
        if not budget.fits(needed):
            results.append(
                Baseline(
                    name,
                    None,
                    f"not trained: its {params.epochs}-epoch schedule and the test {trials.short_of_time(needed)}",
                )
            )
            continue
        trials.progress(f"Baseline: {name}, lr {params.lr:.2g}, {params.epochs} epochs (~{needed:.0f}s)")
        trained = baseline.train(trials.job(run, params))
        labels = trials.job(run, params, trials.dataset.splits).labels("test")
        predictions = trials.test_probabilities(trained, params.batch_size).argmax(1)
        results.append(Baseline(name, score("accuracy", labels, predictions, len(trials.dataset.classes))))
    return results
