"""The no-transfer baselines a selection reports beside its choice, so that the uplift it prints
is what transfer bought: the classical one (:mod:`autotl.classical`), which costs seconds and
always runs, and ``scratch`` (the chosen architecture from random weights), which runs only with
its whole default schedule: a truncated one-epoch scratch says nothing. ``scratch`` is a role
(``Strategy.baseline``), not a name: any strategy registered with it is run the same way."""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from autotl.contracts.data import Dataset, Example
from autotl.contracts.settings import TrainParams
from autotl.contracts.strategies import Strategy
from autotl.registry import Candidate
from autotl.selection.leaderboard import Row
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


@dataclass
class Baseline:
    name: str
    test_accuracy: float | None
    note: str = ""
    """Why it did not train, when it did not."""


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


def run_classical(dataset: Dataset, folds: list[dict[str, list[Example]]], metric: str, seed: int) -> ClassicalResult:
    """Fitted on train+val (where a text's TF-IDF family is chosen, once), validated on each of
    ``folds`` (train+val's folds, or the train/val split) with that family, and tested once."""
    classes = dataset.classes
    index = {label: i for i, label in enumerate(classes)}
    side = median_side(dataset)

    def fitted(examples: list[Example], family: str | None = None) -> classical.ClassicalModel:
        return classical.fit(
            dataset.modality,
            [e.input for e in examples],
            [index[e.label] for e in examples],
            classes,
            seed,
            side,
            family,
        )

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
    row = Row(
        f"{CLASSICAL}: {final.description}",
        "",
        "classical",
        "",
        val_metric=mean,
        val_se=se,
        folds=len(folds),
        state="baseline",
        reason="no-transfer baseline, on the same folds as the candidates"
        if len(folds) > 1
        else "no-transfer baseline, on the same validation split as the candidates",
    )
    return ClassicalResult(
        row, final, scored(tested, test, "accuracy"), scored(tested, test, metric), fold_seconds, validated
    )


def median_side(dataset: Dataset) -> int:
    """The images' median shorter side, which raw pixels are not enlarged beyond."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes:
        return classical.RAW_SIDE
    return int(min(sizes["width"]["median"], sizes["height"]["median"]))


def classical_baseline(trials: "Trials") -> ClassicalResult:
    """The classical baseline, validated like the probes, so that it can be compared with them; its
    fold time is what a probe on cached features is first priced at."""
    started = trials.budget.clock()
    result = run_classical(trials.dataset, trials.cv_folds or [trials.unseen_test], trials.metric, trials.seed)
    result.row.seconds = trials.budget.clock() - started
    folds = trials.cv_folds or [trials.unseen_test]
    result.row.predictions = trials.on_footing.gather([fold["val"] for fold in folds], result.validated)
    result.row.footing = trials.on_footing.digest
    trials.costs.frozen_guess_s = result.fold_seconds
    trials.rows.append(result.row)
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
