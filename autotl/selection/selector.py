"""The selection, in the order a practitioner spends a budget: transferability scores on frozen
features; a classical no-transfer baseline; every kept source's probes on cached features,
cross-validated when the validation split is small; a proven portfolio of end-to-end settings
on the best sources; then an Optuna study of the rest. The winner is decided under noise on one
footing (out-of-fold predictions, paired), possibly an ensemble, refit on train+val (or, when
that no longer fits, kept as its trial trained it) and tested once, beside the baselines.

This module only runs the stages in order. Each lives in its own module: scoring in
:mod:`.scoring`, the cost model in :mod:`.costs`, trials in :mod:`.trials`, the search in
:mod:`.search` (its plan in :mod:`.portfolio`, the study's storage and heartbeats in
:mod:`.study`), standard errors in :mod:`.noise`, the decision in :mod:`.decision`, the final
model in :mod:`.final_model`, the baselines in :mod:`.baselines` and the table in
:mod:`.leaderboard`.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import optuna

from autotl.contracts.data import Dataset
from autotl.contracts.options import SelectOptions
from autotl.contracts.scorers import Scorer
from autotl.contracts.strategies import Strategy
from autotl.progress import bar
from autotl.registry import Candidate
from autotl.selection import baselines as no_transfer
from autotl.selection.baselines import Baseline, ClassicalResult
from autotl.selection.budget import CLOSING_SHARE, Budget
from autotl.selection.decision import ENSEMBLE, Decision, Expected, decide
from autotl.selection.final_model import final_model, refit
from autotl.selection.leaderboard import Row, RowState
from autotl.selection.scoring import score_sources
from autotl.selection.search import Search
from autotl.selection.trials import Trials
from autotl.training.calibration import MIN_HELD_OUT, Calibration, calibrate
from autotl.training.ensemble import EnsembleModel, Member
from autotl.training.features import FeatureCache
from autotl.training.job import TrainedModel, TrainingJob
from autotl.training.metrics import score

TEST_PASS_SHARE = CLOSING_SHARE
"""A test pass predicted to take more than this share of the budget is paid early: mispredicted
by half, it would break the overrun's allowance by itself."""


@dataclass
class Selection:
    rows: list[Row]
    chosen: Row
    """The winning trial, the ensemble's row, or the classical baseline's row when it won or no
    transfer trial finished."""
    decision: str
    """Why the winner won."""
    final: TrainedModel | None
    """The chosen trial's final model (None when the classical baseline or an ensemble won)."""
    final_job: TrainingJob | None
    classical: ClassicalResult | None
    test_metric: float | None
    test_accuracy: float | None
    test_predictions: np.ndarray
    """The final model's class indices on the test split."""
    baselines: list[Baseline] = field(default_factory=list)
    exhausted: bool = False
    final_note: str = ""
    """Empty when the final model was refit on train+val; else which trial's model it is, and why."""
    calibration: Calibration | None = None
    """The final model's temperature, from the choice's out-of-fold predictions (None when there
    were too few, or the classical baseline won)."""
    expected: Expected | None = None
    """The chosen configuration's bias-corrected expected accuracy (None when nothing was compared)."""
    ensemble: EnsembleModel | None = None
    """The final model when an ensemble won."""
    advice: str = ""
    """The budget that a favoured candidate that did not run would need ("" when none)."""

    @property
    def classical_won(self) -> bool:
        return self.classical is not None and self.chosen is self.classical.row


class Selector:
    def __init__(
        self,
        dataset: Dataset,
        candidates: list[Candidate],
        budget: Budget,
        options: SelectOptions,
        *,
        baselines: list[Strategy],
        device,
        cache: FeatureCache,
        progress: Callable[[str], None],
        source_data: Dataset | None = None,
        scorers: list[Scorer] = (),
    ):
        """``options`` with its storage and study resolved; ``baselines``: the no-transfer strategies."""
        self.trials = Trials(
            dataset, candidates, budget, options, device=device, cache=cache, progress=progress, source_data=source_data
        )
        self.options, self.baselines, self.scorers = options, baselines, list(scorers)
        self.study: optuna.Study | None = None
        self.combined: dict[str, float] = {}
        """Each scored source's combined transferability score."""
        self.advice = ""

    def run(self) -> Selection:
        trials = self.trials
        with bar(trials.report, "budget", round(trials.budget.seconds), "s") as trials.budget_bar:
            selection = self.select()
        selection.advice = self.advice
        return selection

    def select(self) -> Selection:
        trials = self.trials
        classical = no_transfer.classical_baseline(trials)  # first: seconds, and a result whatever the budget
        trials.progress(f"Scoring {len({c.source.name for c in trials.candidates})} source(s) on frozen features")
        kept, scores, self.combined, dropped = score_sources(
            trials.candidates,
            lambda c: trials.job(c, trials.params(c)),
            trials.costs,
            self.scorers,
            trials.budget,
            trials.progress,
            trials.report,
        )
        trials.scored(scores)
        trials.record(*dropped)
        exhausted = False
        if kept:
            self.featurize_test(kept[0])
            search = Search(trials, self.options, self.baselines, kept)
            self.study = search.study
            exhausted = search.run()
            self.advice = search.advice
        baselines = [Baseline(classical.row.candidate, classical.test_accuracy)]
        judged = trials.judged()
        for row in trials.rows:
            if row.state == RowState.COMPLETE and row.trial is not None and all(row is not j for j in judged):
                row.reason = "; ".join(
                    filter(
                        None, (row.reason, f"not compared: it has no predictions on {trials.on_footing.footing.what}")
                    )
                )
        if not judged:
            why = f"; {dropped[0].source}: {dropped[0].reason}" if dropped and not kept else ""
            decision = (
                f"no transfer: no transfer trial finished within the budget of {trials.budget.seconds:.0f}s{why} "
                "(give a larger --budget to try transfer); the classical baseline is the final model"
            )
            return self.classical_choice(classical, decision, baselines, exhausted)
        compared = [*judged, classical.row] if classical.row.predictions is not None else judged
        rows = {trials.contender(row).name: row for row in compared}
        decided = decide(
            trials.on_footing.footing,
            [trials.contender(row) for row in compared],
            self.options.metric,
            trials.prior_depth(),
            self.options.seed,
        )
        for name, note in decided.notes.items():
            if name in rows and rows[name] is not classical.row:
                rows[name].reason = "; ".join(filter(None, (rows[name].reason, note)))
        expected = decided.expected
        if expected is not None:
            trials.progress(
                f"Expected accuracy on new data: {expected.accuracy:.4f} ({expected.low:.4f} to "
                f"{expected.high:.4f}), {expected.method}"
            )
        architecture = max(judged, key=lambda r: r.val_metric)  # what the no-transfer baselines train
        ensemble = self.ensemble_row(decided) if decided.ensemble is not None else None
        if decided.chosen == ENSEMBLE:
            ensembled = self.ensemble_choice(decided, rows, classical, ensemble)
            if ensembled is not None:
                ensembled.baselines = baselines + no_transfer.no_transfer(trials, self.baselines, architecture)
                ensembled.exhausted = exhausted
                return ensembled
            decided.why = f"{decided.single}: the ensemble won, but refitting its members no longer fits the budget"
            ensemble.state, ensemble.reason = (
                RowState.NOT_CHOSEN,
                f"{ensemble.reason}; but its members' refits did not fit",
            )
        single = rows[decided.single]
        if single is classical.row:
            baselines += no_transfer.no_transfer(trials, self.baselines, architecture)
            return self.classical_choice(classical, decided.why, baselines, exhausted, expected)
        chosen = single
        trials.progress(f"Chosen: {chosen.candidate}: {decided.why}")
        final, job, final_note = final_model(trials, chosen)
        labels, classes = job.labels("test"), len(trials.dataset.classes)
        predictions = final.probabilities["test"].argmax(1)
        held_out = np.asarray(chosen.predictions)  # its own, also when an ensemble won but could not be refit
        calibration = self.calibrate(held_out, final.probabilities["test"], np.asarray(labels))
        final.classifier.temperature = calibration.temperature
        baselines += no_transfer.no_transfer(trials, self.baselines, chosen)
        return Selection(
            rows=trials.rows,
            chosen=chosen,
            decision=decided.why,
            final=final,
            final_job=job,
            classical=classical,
            test_metric=score(self.options.metric, labels, predictions, classes),
            test_accuracy=score("accuracy", labels, predictions, classes),
            test_predictions=predictions,
            baselines=baselines,
            exhausted=exhausted,
            final_note=final_note,
            calibration=calibration,
            expected=expected,
        )

    def featurize_test(self, source: str) -> None:
        """The test split's frozen features of the best-scored source, now, when its test pass is
        a large part of the budget: a probe on it is the likeliest final model, and its test pass
        then costs what it costs while the budget can still adapt (on a busy machine it took from
        one to four times the prediction), not at the end, where it cannot. Only its features are
        computed; no label is read and nothing is decided on them."""
        trials = self.trials
        needed = trials.costs.test_seconds(source)
        if needed <= TEST_PASS_SHARE * trials.budget.seconds or not trials.budget.fits(needed):
            return
        candidate = next(c for c in trials.candidates if c.source.name == source)
        job = trials.job(
            candidate, trials.params(candidate), {**trials.unseen_test, "test": trials.dataset.splits["test"]}
        )
        trials.progress(f"Featurizing the test split with {source} for its final test pass (~{needed:.0f}s)")
        test = trials.dataset.splits["test"]
        with bar(trials.report, f"featurizing the test split ({source})", len(test), "inputs") as advance:
            job.cache.features(job.load_backbone(pretrained=True), job.source, test, job.device, on_batch=advance)
        trials.costs.test_cached.add(source)

    def calibrate(self, held_out: np.ndarray, test: np.ndarray, test_labels: np.ndarray) -> Calibration:
        """The temperature fitted on the choice's out-of-fold predictions (none on too few of them)."""
        calibration = calibrate(held_out, self.trials.on_footing.footing.labels, test, test_labels)
        if not calibration.fitted:
            self.trials.progress(
                f"Not calibrated: {calibration.held_out} held-out predictions, fewer than the {MIN_HELD_OUT} a "
                "temperature needs"
            )
        return calibration

    def ensemble_row(self, decided: Decision) -> Row:
        """The ensemble's row in the leaderboard, its members and weights, and why it won or lost."""
        ensemble = decided.ensemble
        row = Row(
            f"ensemble: {', '.join(f'{name} x{weight:.2f}' for name, weight in ensemble.weights.items())}",
            "",
            ENSEMBLE,
            "",
            val_metric=ensemble.score,
            folds=len(set(self.trials.on_footing.footing.folds.tolist())),
            state=RowState.ENSEMBLE if decided.chosen == ENSEMBLE else RowState.NOT_CHOSEN,
            reason=decided.notes[ENSEMBLE],
        )
        self.trials.record(row)
        return row

    def ensemble_choice(
        self, decided: Decision, rows: dict[str, Row], classical: ClassicalResult, chosen: Row
    ) -> "Selection | None":
        """The ensemble, each member refit on train+val (the classical baseline already is) and
        tested once; None when the refits no longer fit the time left."""
        trials = self.trials
        members = {name: rows[name] for name in decided.ensemble.weights}
        needed = sum(trials.refit_seconds(row) for row in members.values() if row is not classical.row)
        if not trials.budget.fits(needed):
            trials.progress(f"Not the ensemble: refitting its members {trials.short_of_time(needed)}")
            return None
        trials.progress(f"Chosen: {decided.why}")
        test = trials.dataset.splits["test"]
        inputs = [e.input for e in test]
        fitted, test_probabilities = [], []
        for name, row in members.items():
            weight = decided.ensemble.weights[name]
            if row is classical.row:
                fitted.append(Member(name, weight, classical.model.probabilities, classical.model.save))
                test_probabilities.append(classical.model.probabilities(inputs))
                continue
            trained, job = refit(trials, row)
            fitted.append(Member(name, weight, _probabilities_of(trained, trials.device), _save(trained, job)))
            test_probabilities.append(trained.probabilities["test"])
        classes = trials.dataset.classes
        labels = np.asarray([classes.index(e.label) for e in test])
        averaged = sum(m.weight * p for m, p in zip(fitted, test_probabilities))
        calibration = self.calibrate(decided.probabilities, averaged, labels)
        model = EnsembleModel(fitted, classes, calibration.temperature)
        predictions = averaged.argmax(1)
        return Selection(
            rows=trials.rows,
            chosen=chosen,
            decision=decided.why,
            final=None,
            final_job=None,
            classical=classical,
            test_metric=score(self.options.metric, labels, predictions, len(classes)),
            test_accuracy=score("accuracy", labels, predictions, len(classes)),
            test_predictions=predictions,
            final_note="each member refit on train+val",
            calibration=calibration,
            expected=decided.expected,
            ensemble=model,
        )

    def classical_choice(
        self,
        classical: ClassicalResult,
        decision: str,
        baselines: list[Baseline],
        exhausted: bool,
        expected: Expected | None = None,
    ) -> Selection:
        self.trials.progress(f"Chosen: {decision}")
        return Selection(
            rows=self.trials.rows,
            chosen=classical.row,
            decision=decision,
            final=None,
            final_job=None,
            classical=classical,
            test_metric=classical.test_metric,
            test_accuracy=classical.test_accuracy,
            test_predictions=classical.test_predictions,
            baselines=baselines,
            exhausted=exhausted,
            final_note="the classical baseline, fitted on train+val",
            expected=expected,
        )


def _probabilities_of(trained: TrainedModel, device) -> Callable[[list[str]], np.ndarray]:
    from autotl.training.classifier import predict_proba

    classifier = trained.classifier
    return lambda inputs: predict_proba(classifier, inputs, classifier.backbone.preprocessor, device)


def _save(trained: TrainedModel, job: TrainingJob) -> Callable:
    from functools import partial

    from autotl.training.classifier import save

    return partial(save, trained.classifier, job.source, job.classes, job.record())
