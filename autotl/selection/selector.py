"""The selection, in the order a practitioner spends a budget: transferability scores on frozen
features; a classical no-transfer baseline; every kept source's probes on cached features,
cross-validated; a proven portfolio of end-to-end settings on the best sources; then an Optuna
study of the rest. The winner is decided under noise (the one-standard-error rule), refit on
train+val (or, when that no longer fits, kept as its trial trained it) and tested once, beside
the baselines.

This module only runs the stages in order. Each lives in its own module: scoring in
:mod:`.scoring`, the cost model in :mod:`.costs`, trials in :mod:`.trials`, the search in
:mod:`.search` (its plan in :mod:`.portfolio`, the study's storage and heartbeats in
:mod:`.study`), the noise rules in :mod:`.noise`, the final model in :mod:`.final_model`, the
baselines in :mod:`.baselines` and the table in :mod:`.leaderboard`.
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
from autotl.selection.budget import Budget
from autotl.selection.final_model import final_model, held_out
from autotl.selection.leaderboard import Row
from autotl.selection.noise import beats_every, one_standard_error
from autotl.selection.scoring import score_sources
from autotl.selection.search import Search
from autotl.selection.trials import Trials
from autotl.training.calibration import Calibration, calibrate
from autotl.training.features import FeatureCache
from autotl.training.job import TrainedModel, TrainingJob
from autotl.training.metrics import score


@dataclass
class Selection:
    rows: list[Row]
    chosen: Row
    """The winning trial, or the classical baseline's row when it won or no transfer trial finished."""
    decision: str
    """Why the winner won."""
    final: TrainedModel | None
    final_job: TrainingJob | None
    classical: ClassicalResult | None
    test_metric: float | None
    test_accuracy: float | None
    baselines: list[Baseline] = field(default_factory=list)
    exhausted: bool = False
    final_note: str = ""
    """Empty when the final model was refit on train+val; else which trial's model it is, and why."""
    calibration: Calibration | None = None
    """The final model's temperature, from the chosen trial's held-out predictions (None when
    there were none here, or the classical baseline won)."""

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

    def run(self) -> Selection:
        trials = self.trials
        with bar(trials.report, "budget", round(trials.budget.seconds), "s") as trials.budget_bar:
            return self.select()

    def select(self) -> Selection:
        trials = self.trials
        classical = no_transfer.classical_baseline(trials)  # first: seconds, and a result whatever the budget
        trials.progress(f"Scoring {len({c.source.name for c in trials.candidates})} source(s) on frozen features")
        kept, trials.scores, self.combined, dropped = score_sources(
            trials.candidates,
            lambda c: trials.job(c, trials.params(c)),
            trials.costs,
            self.scorers,
            trials.budget,
            trials.progress,
            trials.report,
        )
        trials.rows += dropped
        exhausted = False
        if kept:
            search = Search(trials, self.options, self.baselines, kept)
            self.study = search.study
            exhausted = search.run()
        complete = [r for r in trials.rows if r.state == "complete" and r.trial is not None]
        baselines = [Baseline(classical.row.candidate, classical.test_accuracy)]
        if not complete:
            decision = (
                f"no transfer: no transfer trial finished within the budget of {trials.budget.seconds:.0f}s "
                "(give a larger --budget to try transfer); the classical baseline is the final model"
            )
            return self.classical_choice(classical, decision, baselines, exhausted)
        chosen, decision = one_standard_error(complete, trials.simplicity)
        if beats_every(classical.row, complete):
            best = max(complete, key=lambda row: row.val_metric)
            decision = (
                f"no transfer: the classical baseline's {classical.row.val_metric:.4f} ± {classical.row.val_se:.4f} "
                f"beats every transfer candidate by more than the noise (the best, {best.candidate}, "
                f"{best.val_metric:.4f})"
            )
            baselines += no_transfer.no_transfer(trials, self.baselines, chosen)
            return self.classical_choice(classical, decision, baselines, exhausted)
        trials.progress(f"Chosen: {chosen.candidate}: {decision}")
        final, job, final_note = final_model(trials, chosen)
        labels, classes = job.labels("test"), len(trials.dataset.classes)
        predictions = final.probabilities["test"].argmax(1)
        validated = held_out(trials, chosen)
        calibration = (
            None if validated is None else calibrate(*validated, final.probabilities["test"], np.asarray(labels))
        )
        if calibration is not None:
            final.classifier.temperature = calibration.temperature
        baselines += no_transfer.no_transfer(trials, self.baselines, chosen)
        return Selection(
            trials.rows,
            chosen,
            decision,
            final,
            job,
            classical,
            score(self.options.metric, labels, predictions, classes),
            score("accuracy", labels, predictions, classes),
            baselines,
            exhausted,
            final_note,
            calibration,
        )

    def classical_choice(
        self, classical: ClassicalResult, decision: str, baselines: list[Baseline], exhausted: bool
    ) -> Selection:
        self.trials.progress(f"Chosen: {decision}")
        return Selection(
            self.trials.rows,
            classical.row,
            decision,
            None,
            None,
            classical,
            classical.test_metric,
            classical.test_accuracy,
            baselines,
            exhausted,
            "the classical baseline, fitted on train+val",
        )
