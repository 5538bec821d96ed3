"""What a trial is and how one runs: a candidate's training jobs, its settings and their grid,
its folds (train+val's, when the validation split is too small to decide alone, or with
``--cv``), its predicted seconds, and one trial's training on each fold, raced against the
leader and reported to the study and to MLflow. The rows of finished trials, with their
out-of-fold predictions, and which of them leads, live here too: every stage of a selection
reads them.
"""

import math
from dataclasses import replace
from functools import partial
from itertools import product
from statistics import NormalDist
from typing import Callable

import mlflow
import numpy as np
import optuna
from optuna.trial import TrialState

from autotl import tracking
from autotl.contracts.data import Dataset, Example
from autotl.contracts.options import SelectOptions
from autotl.contracts.settings import CLASS_WEIGHT, Setting, TrainParams
from autotl.data.profile import IMBALANCED, imbalance_ratio
from autotl.progress import Advance, bar
from autotl.registry import Candidate
from autotl.selection import priors
from autotl.selection.budget import Budget
from autotl.selection.coordination import Coordination
from autotl.selection.costs import CostModel
from autotl.selection.decision import Contender, Resamples, single_choice
from autotl.selection.folds import OnFooting, auto_folds, folds, scored_folds
from autotl.selection.leaderboard import Row, RowState, TrialKey
from autotl.selection.noise import binomial_se, fold_se
from autotl.selection.study import settle
from autotl.training.classifier import predict_proba
from autotl.training.device import peak_memory_mb, release_memory, reset_peak_memory, retry_at_half_batch
from autotl.training.features import FeatureCache
from autotl.training.job import TrainedModel, TrainingJob

LR_SCALES = (0.3, 1.0, 3.0)
EPOCH_SCALES = (0.5, 1.0, 2.0)
STALE = "another process failed this trial: its heartbeats stopped for longer than the grace period"
RACING_ERROR = 0.05
"""A trial on the folds stops once its paired lead in accuracy over the leader, on the examples of
the folds it has done, has a one-sided upper bound below zero at this error, shared among the
looks it takes (Bonferroni over the folds but the last; racing: Maron and Moore 1994, Birattari
et al. 2002). Racing compares accuracy whatever the metric: per-example correctness pairs."""


class Trials:
    """One selection's trials, from the settings they may take to the rows of their results."""

    def __init__(
        self,
        dataset: Dataset,
        candidates: list[Candidate],
        budget: Budget,
        options: SelectOptions,
        *,
        device,
        cache: FeatureCache,
        progress: Callable[[str], None],
        source_data: Dataset | None = None,
    ):
        self.dataset, self.candidates, self.budget = dataset, candidates, budget
        self.metric, self.seed, self.device, self.cache = options.metric, options.seed, device, cache
        self.report, self.source_data = progress, source_data
        self.unseen_test = {**dataset.splits, "test": []}
        """The splits with test left out: nothing before the final model looks at it (nor pays to)."""
        cv = options.cv
        self.cv_folds = [{**fold, "test": []} for fold in folds(dataset, cv or auto_folds(dataset), self.seed) or []]
        """Stratified folds of train+val (``--cv K``, or as many as a small validation split calls
        for): every trial runs on them, so that every result is out of fold on the same examples."""
        self.on_footing = OnFooting(dataset, self.cv_folds, self.seed)
        """The examples every contender of the final decision is judged on."""
        self.weigh_classes = imbalance_ratio(dataset) > IMBALANCED
        """Whether class-weighted losses are searched."""
        self.costs = CostModel(
            dataset,
            lambda candidate, params: self.job(candidate, params),
            budget.clock,
            self.progress,
            source_data is not None,
            lambda: budget.left() / max(1, len(self.cv_folds)),  # a trial runs on every fold: one fold's share
        )
        self.rows: list[Row] = []
        self.budget_bar: Advance = lambda amount=1, completed=None: None
        self.scores: dict[str, dict[str, float]] = {}
        """Each scored source's transferability scores, by scorer."""
        self.parent_run_id: str | None = None
        """The run that trial runs nest under: the active run, or on a worker its coordinator's select run."""
        self._leading: tuple[tuple, Row | None] = ((), None)
        """The rows the leader was last decided among, and that leader."""
        self.kept: tuple[Row, TrainedModel, TrainingJob] | None = None
        """The leading trial's model (on the CPU), the final model when a refit will not fit."""

    def record(self, *rows: Row) -> None:
        """Rows for the leaderboard: trials, baselines, candidates dropped, skipped or never reached."""
        self.rows.extend(rows)

    def scored(self, scores: dict[str, dict[str, float]]) -> None:
        """The kept sources' transferability scores, which the priors and the decision read."""
        self.scores = scores

    def join(self, plan: Coordination) -> None:
        """A worker's start: the coordinator's scores, blocks and featurizing speeds (the cost
        model's start), and its select run, which this process's trial runs nest under."""
        self.scores = plan.scores
        self.costs.num_blocks.update(plan.num_blocks)
        self.costs.inference_s.update(plan.inference_s)
        self.parent_run_id = plan.parent_run_id

    def progress(self, message: str) -> None:
        self.report(f"[{self.budget.elapsed():5.0f}s] {message}")
        self.budget_bar(completed=self.budget.elapsed())

    def job(
        self, candidate: Candidate, params: TrainParams, splits: dict | None = None, on_epoch=lambda e: None
    ) -> TrainingJob:
        return TrainingJob(
            source=candidate.source,
            regularizer=candidate.regularizer,
            classes=self.dataset.classes,
            splits=splits or self.unseen_test,
            params=params,
            device=self.device,
            metric=self.metric,
            cache=self.cache,
            seed=self.seed,
            on_epoch=on_epoch,
            source_data=self.source_data,
        )

    def params(
        self, candidate: Candidate, lr_scale: float = 1.0, epochs_scale: float = 1.0, settings: dict | None = None
    ) -> TrainParams:
        base = TrainParams.from_strings({}, candidate.strategy.defaults, candidate.settings)
        size = image_size(self.dataset, candidate.source)
        return replace(
            base,
            lr=base.lr * lr_scale,
            epochs=max(1, round(base.epochs * epochs_scale)),
            image_size=size,
            batch_size=self.costs.batch_that_fits(candidate.label, size, base.batch_size),
            extra=base.extra | (settings or {}),
        )

    def folds_for(self, candidate: Candidate) -> list[dict[str, list[Example]]]:
        """The folds of train+val when the validation split is too small to decide alone (or with
        ``--cv``), for every trial: only on the same examples can a fine-tune be compared with the
        probes and the baseline, example by example. Else the validation split."""
        return self.cv_folds or [self.unseen_test]

    def searched(self, setting: Setting, candidate: Candidate) -> tuple[float, ...]:
        """The values of ``setting`` that the search tries: its choices, except for a class-weighted
        loss on balanced data, which is the plain loss (its default)."""
        if setting.name == CLASS_WEIGHT.name and not self.weigh_classes:
            return (setting.default,)
        return tuple(setting.values(self.costs.num_blocks.get(candidate.source.name, 0)))

    def setting_grid(self, candidate: Candidate) -> list[dict[str, float]]:
        """Every combination of the candidate's declared settings' searched values."""
        names = [s.name for s in candidate.settings]
        return [
            dict(zip(names, values)) for values in product(*(self.searched(s, candidate) for s in candidate.settings))
        ]

    def keys_of(self, candidate: Candidate) -> list[TrialKey]:
        """Every setting of ``candidate``; one learning rate and epoch count for a strategy without a schedule."""
        rates, lengths = (LR_SCALES, EPOCH_SCALES) if candidate.strategy.schedule else ((1.0,), (1.0,))
        return [
            TrialKey(candidate.label, lr, epochs, tuple(grid.items()))
            for grid in self.setting_grid(candidate)
            for lr in rates
            for epochs in lengths
        ]

    def predicted(self, candidate: Candidate, params: TrainParams) -> float:
        return self.costs.predicted(candidate, params) * len(self.folds_for(candidate))

    def refit_seconds(self, row: Row | None) -> float:
        """What refitting ``row`` on train+val and testing it should take: one fold's cost at its best
        epoch count, in proportion to the larger training split (0 when there is no result yet)."""
        if row is None:
            return 0.0
        return self.refit_estimate(self.candidate(row.candidate), refit_params(row))

    def refit_estimate(self, candidate: Candidate, params: TrainParams) -> float:
        """What training ``candidate`` on train+val at ``params`` and testing it should take."""
        trained_on = self.folds_for(candidate)[0]
        grown = (len(self.dataset.splits["train"]) + len(self.dataset.splits["val"])) / len(trained_on["train"])
        tested = self.costs.test_seconds(candidate.source.name, candidate.strategy.cached_features)
        return self.costs.predicted(candidate, params) * grown + tested

    def candidate(self, label: str) -> Candidate:
        return next(c for c in self.candidates if c.label == label)

    def judged(self) -> list[Row]:
        """The finished trials with predictions on the footing: the contenders of the final decision."""
        return [
            r
            for r in self.rows
            if r.state == RowState.COMPLETE
            and r.trial is not None
            and r.predictions
            and r.footing == self.on_footing.digest
        ]

    def contender(self, row: Row) -> Contender:
        """A row as the decision sees it: a trial, or (without one) the no-transfer baseline."""
        name = row.candidate if row.trial is None else f"trial {row.trial}: {row.candidate}"
        if row.trial is None:
            return Contender(name, np.asarray(row.predictions), 0.0, transfers=False)
        depth = self.candidate(row.candidate).strategy.depth
        return Contender(name, np.asarray(row.predictions), 1.0 if depth is None else depth)

    def prior_depth(self) -> float:
        """How deeply the data's size and the most similar source's frozen features say to adapt."""
        classes = len(self.dataset.classes)
        per_class = len(self.dataset.splits["train"]) / classes
        similar = [priors.knn_similarity(s.get("knn"), classes) for s in self.scores.values()]
        return priors.prior(per_class, max((s for s in similar if s is not None), default=None)).depth

    def leader(self) -> Row | None:
        """The single trial the decision would choose now (:func:`.decision.single_choice`): its
        model is kept, and its refit kept time for."""
        judged = self.judged()
        if not judged:
            return None
        key = tuple(id(row) for row in judged)
        if self._leading[0] != key:
            footing = self.on_footing.footing
            named = {self.contender(row).name: row for row in judged}
            chosen = single_choice(
                footing,
                [self.contender(row) for row in judged],
                self.metric,
                self.prior_depth(),
                Resamples(len(footing), self.seed),
            )[0]
            self._leading = key, named[chosen.name]
        return self._leading[1]

    def race(self, done: list[dict[str, list[Example]]], probabilities: list[np.ndarray]) -> None:
        """Stops a trial (pruned) whose predictions on the folds ``done`` are surely behind the
        leader's out-of-fold predictions on the same examples, paired per example."""
        leader = self.leader()
        if leader is None:
            return
        positions = [self.on_footing.position[id(e)] for split in done for e in split["val"]]
        labels = self.on_footing.footing.labels[positions]
        mine = np.concatenate(probabilities).argmax(1) == labels
        theirs = np.asarray(leader.predictions)[positions].argmax(1) == labels
        lead = mine.astype(float) - theirs
        z = NormalDist().inv_cdf(1 - RACING_ERROR / max(1, len(self.cv_folds) - 1))
        if len(lead) > 1 and lead.mean() + z * lead.std(ddof=1) / math.sqrt(len(lead)) < 0:
            raise optuna.TrialPruned(
                f"raced out after fold {len(done)}: accuracy {mine.mean():.3f} against the leader's "
                f"{theirs.mean():.3f} ({leader.candidate}) on the same {len(lead)} examples"
            )

    def run(
        self,
        study,
        trial,
        candidate: Candidate,
        params: TrainParams,
        row: Row,
        keep: float = 0.0,
    ) -> None:
        """Trains one trial, on each of its folds, raced against the leader fold by fold. A trial
        predicted short may run long: once an earlier trial has a result, this one stops before an
        epoch that would not end with ``keep`` seconds left."""
        started = self.budget.clock()
        trial_folds = self.folds_for(candidate)
        epochs = Epochs(self, trial, params.epochs * len(trial_folds), keep)
        self.progress(
            f"Trial {trial.number}: {candidate.label}"
            + (f", lr {params.lr:.2g}, {params.epochs} epochs" if candidate.strategy.schedule else "")
            + (f", {len(trial_folds)} folds" if len(trial_folds) > 1 else "")
            + f" (~{row.predicted_s:.0f}s)"
        )
        try:
            with (
                bar(self.report, f"trial {trial.number}", epochs.due, "epochs") as epochs.tick,
                tracking.nested_run(
                    f"trial {trial.number}: {candidate.label}",
                    finished_on=(optuna.TrialPruned,),
                    parent_run_id=self.parent_run_id,
                ) as run,
            ):
                row.run_id = run.info.run_id
                trial.set_user_attr("run_id", run.info.run_id)  # for whoever fails the trial, should this process die
                mlflow.log_params(
                    {"source": row.source, "strategy": row.strategy, "regularizer": row.regularizer, **params.as_dict()}
                )
                reset_peak_memory(self.device)
                fits, validated_probabilities = [], []
                for fold, splits in enumerate(trial_folds):
                    trained, batch_size = retry_at_half_batch(
                        lambda size, splits=splits, fold=fold: candidate.strategy.train(
                            self.job(candidate, replace(params, batch_size=size), splits, partial(epochs.ended, fold))
                        ),
                        row.params["batch_size"],
                        self.device,
                        self.progress,
                    )
                    if batch_size != row.params["batch_size"]:
                        row.reason = f"out of memory at batch size {row.params['batch_size']}, retried at {batch_size}"
                        row.params["batch_size"] = batch_size
                        self.costs.fitting_batch[(candidate.label, params.image_size)] = batch_size
                        mlflow.set_tag("autotl.batch_size_after_oom", batch_size)
                    fits.append(trained.fit)
                    validated_probabilities.append(trained.probabilities["val"])
                    if len(trial_folds) > 1:
                        mlflow.log_metric(f"fold_val_{self.metric}", trained.fit.val_metric, step=fold)
                    if fold == 0:
                        first = trained, self.job(candidate, replace(params, batch_size=batch_size), splits)
                    del trained
                    if fold < len(trial_folds) - 1 and not candidate.strategy.cached_features:
                        self.race(trial_folds[: fold + 1], validated_probabilities)
                peak = peak_memory_mb(self.device)
                if peak is not None:
                    mlflow.log_metric("peak_gpu_memory_mb", peak)
                values, best_epoch, at_best_epoch = scored_folds(fits)
                validated = sum(len(splits["val"]) for splits in trial_folds)
                val_metric = float(np.mean(values))
                val_se = fold_se(values, validated) if len(fits) > 1 else binomial_se(val_metric, validated)
                mlflow.log_metrics({f"best_val_{self.metric}": val_metric, f"val_{self.metric}_se": val_se})
        except optuna.TrialPruned as pruned:
            row.state, row.seconds = RowState.PRUNED, self.budget.clock() - started
            row.reason = "; ".join(filter(None, (row.reason, str(pruned))))
            self.progress(f"  {pruned}")
            settle(study, trial, TrialState.PRUNED, row=row)
            return
        except KeyboardInterrupt:
            settle(study, trial, TrialState.FAIL)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            row.state, row.reason = RowState.FAILED, STALE
            self.progress(f"  failed: {row.reason}")
            return
        except Exception as error:  # one trial's fault must not end the study
            row.state, row.reason = RowState.FAILED, f"{type(error).__name__}: {error}"
            settle(study, trial, TrialState.FAIL)
            self.progress(f"  failed: {row.reason}")
            return
        finally:
            release_memory(self.device)
            row.seconds = self.budget.clock() - started
            if epochs.run:
                self.costs.observed(
                    candidate, params, row.seconds / len(trial_folds), max(1, epochs.run // len(trial_folds))
                )
        row.state, row.val_metric, row.val_se = RowState.COMPLETE, val_metric, val_se
        row.predictions = self.on_footing.gather(
            [splits["val"] for splits in trial_folds], at_best_epoch or validated_probabilities
        )
        row.footing = self.on_footing.digest
        row.params["best_epoch"] = best_epoch
        if not settle(study, trial, TrialState.COMPLETE, val_metric, row=row):
            row.reason = "; ".join(filter(None, (row.reason, f"{STALE}: in this process's leaderboard only")))
        if self.leader() is row:
            first[0].classifier.cpu()  # off the accelerator, which the next trial needs
            self.kept = (row, *first)
        del first
        folds_note = f", mean of {len(fits)} folds" if len(fits) > 1 else ""
        self.progress(f"  val {self.metric} {val_metric:.4f} ± {val_se:.4f}{folds_note} ({row.seconds:.0f}s)")

    def short_of_time(self, needed: float) -> str:
        """Why something was not run, to a tenth of a second: whole seconds can print a need equal to what was left."""
        return f"would take ~{needed:.1f}s, {max(0.0, self.budget.left()):.1f}s were left"

    def test_probabilities(self, trained: TrainedModel, batch_size: int) -> np.ndarray:
        """A model's one pass over the test split, which its training job left out."""
        inputs = [e.input for e in self.dataset.splits["test"]]
        probabilities = predict_proba(
            trained.classifier, inputs, trained.classifier.backbone.preprocessor, self.device, batch_size
        )
        trained.classifier.cpu()
        return probabilities


class Epochs:
    """One trial's epochs over all its folds: each counts for the cost model; the first fold's are
    logged and judged by the pruner. Once an earlier trial has a result, the trial stops before an
    epoch that would not end with ``keep`` seconds left."""

    def __init__(self, trials: Trials, trial, due: int, keep: float):
        self.trials, self.trial, self.due, self.keep = trials, trial, due, keep
        self.run = 0
        self.mark = trials.budget.clock()
        self.tick: Advance = lambda amount=1, completed=None: None
        """The trial's progress bar, once it is shown."""

    def ended(self, fold: int, epoch) -> None:
        trials, budget = self.trials, self.trials.budget
        self.run += 1
        self.tick()
        trials.budget_bar(completed=budget.elapsed())
        now = budget.clock()
        epoch_s, self.mark = now - self.mark, now
        if (
            self.run < self.due
            and not budget.fits(epoch_s, keep=self.keep)
            and any(r.state == RowState.COMPLETE for r in trials.rows)
        ):
            raise optuna.TrialPruned(f"stopped after epoch {epoch.epoch}: another would overrun the budget")
        if fold > 0:
            return
        mlflow.log_metrics({f"val_{trials.metric}": epoch.val_metric, "train_loss": epoch.train_loss}, step=epoch.epoch)
        self.trial.report(epoch.val_metric, epoch.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch.epoch}")


def refit_params(row: Row) -> TrainParams:
    """A trial's settings, for its best epoch count."""
    params = TrainParams.from_dict({k: v for k, v in row.params.items() if k != "best_epoch"})
    return replace(params, epochs=row.params["best_epoch"])


def image_size(dataset: Dataset, source) -> int:
    """Small images are not blown up to the source's full input size: four times their shorter
    median side, in steps of 32, at least 64 pixels, at most the source's own size (0 for text)."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes or "height" not in sizes:
        return 0  # text, or an image format that does not report sizes: the source's own
    native = source.spec.input_size[-1]
    side = min(sizes["width"]["median"], sizes["height"]["median"])
    return int(min(native, max(64, 32 * math.ceil(4 * side / 32))))
