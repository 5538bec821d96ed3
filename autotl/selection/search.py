"""The selection, in the order a practitioner spends a budget: transferability scores on frozen
features; a classical no-transfer baseline; every kept source's probes on cached features,
cross-validated; a proven portfolio of end-to-end settings on the best sources; then an Optuna
study of the rest. The winner is decided under noise (the one-standard-error rule), refit on
train+val (or, when that no longer fits, kept as its trial trained it) and tested once, beside
the baselines.

Scoring lives in :mod:`.scoring`, the cost model in :mod:`.costs`, the study's storage, sharing
and heartbeats in :mod:`.study`, the plan in :mod:`.portfolio`, the noise rules in :mod:`.noise`,
cross-validation in :mod:`.folds`, the baselines in :mod:`.baselines` and the table in
:mod:`.leaderboard`; this module runs them.
"""

import math
import random
import time
from dataclasses import dataclass, field, replace
from itertools import product
from typing import Callable, Iterator

import mlflow
import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from autotl import tracking
from autotl.contracts.data import Dataset, Example
from autotl.contracts.options import SelectOptions
from autotl.contracts.scorers import Scorer
from autotl.contracts.settings import TrainParams
from autotl.contracts.strategies import Strategy
from autotl.processes import this_process
from autotl.progress import Advance, bar
from autotl.registry import Candidate
from autotl.selection import portfolio, priors
from autotl.selection.baselines import Baseline, ClassicalResult, run_classical
from autotl.selection.budget import Budget
from autotl.selection.costs import CostModel
from autotl.selection.folds import auto_folds, folds, scored_folds
from autotl.selection.leaderboard import Row, TrialKey, row_for
from autotl.selection.noise import beats_every, binomial_se, fold_se, one_standard_error
from autotl.selection.pruning import AmongLikeTrials
from autotl.selection.scoring import score_sources
from autotl.selection.study import beating, claimed_keys, claims, fail_stale, open_storage, resume, settle, take_up
from autotl.training.classifier import predict_proba
from autotl.training.device import release_memory, retry_at_half_batch
from autotl.training.features import FeatureCache
from autotl.training.job import TrainedModel, TrainingJob
from autotl.training.metrics import score

LR_SCALES = (0.3, 1.0, 3.0)
EPOCH_SCALES = (0.5, 1.0, 2.0)
BASELINE_SHARE = 0.2
"""The search keeps time for the no-transfer baselines (``scratch``) only while their whole default
schedules and the test fit in this share of the budget; else it keeps none for them, and they run
at the end only if their whole schedules still fit."""
STALE = "another process failed this trial: its heartbeats stopped for longer than the grace period"
REFIT_OVERRUN = 0.05
"""A refit of the chosen trial may run this share of the budget past it: half the 10 % the command
is allowed (logging needs the rest). The search keeps the refit's time, but a trial stopped
between epochs overruns that by the cost of stopping, and a fold's model gives way to one
trained on all of train+val for that."""


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
        self.dataset, self.candidates, self.budget, self.baselines = dataset, candidates, budget, baselines
        self.metric, self.seed, self.device, self.cache = options.metric, options.seed, device, cache
        self.storage, self.study_name, self.report = options.storage, options.study, progress
        cv = options.cv
        self.source_data = source_data
        self.scorers = list(scorers)
        self.unseen_test = {**dataset.splits, "test": []}
        """The splits with test left out: nothing before the final model looks at it (nor pays to)."""
        self.cv_folds = [{**fold, "test": []} for fold in folds(dataset, cv or auto_folds(dataset), self.seed) or []]
        """Stratified folds of train+val: every trial's with ``--cv K``, else the probes' alone."""
        self.forced_cv = cv > 0
        self.costs = CostModel(
            dataset,
            lambda candidate, params: self.job(candidate, params),
            budget.clock,
            self.progress,
            source_data is not None,
            budget.left,
        )
        self.rows: list[Row] = []
        self.budget_bar: Advance = lambda amount=1, completed=None: None
        self.study: optuna.Study | None = None
        self.scores: dict[str, dict[str, float]] = {}
        """Each scored source's transferability scores, by scorer."""
        self.combined: dict[str, float] = {}
        self.kept: tuple[Row, TrainedModel, TrainingJob] | None = None
        """The leading trial's model (on the CPU), the final model when a refit will not fit."""

    def progress(self, message: str) -> None:
        self.report(f"[{self.budget.elapsed():5.0f}s] {message}")
        self.budget_bar(completed=self.budget.elapsed())

    # -- jobs -------------------------------------------------------------------------------
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
        return replace(
            base,
            lr=base.lr * lr_scale,
            epochs=max(1, round(base.epochs * epochs_scale)),
            image_size=image_size(self.dataset, candidate.source),
            extra=base.extra | (settings or {}),
        )

    def folds_for(self, candidate: Candidate) -> list[dict[str, list[Example]]]:
        """Cross-validation for probes on cached features (seconds each), and for every trial with
        ``--cv``; else the validation split."""
        if self.cv_folds and (self.forced_cv or candidate.strategy.cached_features):
            return self.cv_folds
        return [self.unseen_test]

    def setting_grid(self, candidate: Candidate) -> list[dict[str, float]]:
        """Every combination of the candidate's declared settings' choices."""
        blocks = self.costs.num_blocks.get(candidate.source.name, 0)
        names = [s.name for s in candidate.settings]
        return [dict(zip(names, values)) for values in product(*(s.values(blocks) for s in candidate.settings))]

    def keys_of(self, candidate: Candidate) -> list[TrialKey]:
        """Every setting of ``candidate``; one learning rate and epoch count for a strategy without a schedule."""
        rates, lengths = (LR_SCALES, EPOCH_SCALES) if candidate.strategy.schedule else ((1.0,), (1.0,))
        return [
            TrialKey(candidate.label, lr, epochs, tuple(grid.items()))
            for grid in self.setting_grid(candidate)
            for lr in rates
            for epochs in lengths
        ]

    # -- costs ------------------------------------------------------------------------------
    def predicted(self, candidate: Candidate, params: TrainParams) -> float:
        return self.costs.predicted(candidate, params) * len(self.folds_for(candidate))

    def refit_seconds(self, row: Row | None) -> float:
        """What refitting ``row`` on train+val and testing it should take: one fold's cost at its best
        epoch count, in proportion to the larger training split (0 when there is no result yet)."""
        if row is None:
            return 0.0
        candidate = self.candidate(row.candidate)
        grown = (len(self.dataset.splits["train"]) + len(self.dataset.splits["val"])) / len(
            self.folds_for(candidate)[0]["train"]
        )
        return self.costs.predicted(candidate, refit_params(row)) * grown + self.costs.test_seconds(row.source)

    def baseline_schedule(
        self, baseline: Strategy, candidate: Candidate, time_a_step: bool
    ) -> tuple[Candidate, TrainParams, float | None]:
        """A no-transfer ``baseline`` strategy on ``candidate``'s architecture at its whole default
        schedule, and what that and the test should take (None when that needs a step timed and
        ``time_a_step`` is false). It trains with a regularizer that adds no penalty when one is a candidate's."""
        plain = next((c.regularizer for c in self.candidates if not c.regularizer.penalises), candidate.regularizer)
        run = Candidate(candidate.source, baseline, plain)
        params = self.params(run)
        if not time_a_step and not self.costs.can_predict(run, params):
            return run, params, None
        return run, params, self.costs.predicted(run, params) + self.costs.test_seconds(candidate.source.name)

    def baseline_reserve(self, candidate: Candidate) -> tuple[float, str]:
        """Seconds the search keeps for the no-transfer baselines, and why: each one's whole schedule
        while they fit in their share of the budget, else none for it (a cut schedule would report
        nothing). No step is timed for them: on a short budget that alone can cost more than the probes."""
        if not self.baselines:
            return 0.0, "no no-transfer baseline strategy is registered"
        kept, reasons, share = 0.0, [], BASELINE_SHARE * self.budget.seconds
        for baseline in self.baselines:
            needed = self.baseline_schedule(baseline, candidate, time_a_step=False)[2]
            if needed is None:
                reasons.append(
                    f"none kept for the {baseline.name} baseline (its cost is not known before an end-to-end step is "
                    "timed)"
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

    def candidate(self, label: str) -> Candidate:
        return next(c for c in self.candidates if c.label == label)

    def simplicity(self, row: Row) -> tuple[float, float]:
        """What the one-standard-error rule prefers: less adaptation of the source, then less time."""
        depth = self.candidate(row.candidate).strategy.depth
        return (1.0 if depth is None else depth, row.seconds or 0.0)

    def leader(self) -> Row | None:
        complete = [r for r in self.rows if r.state == "complete" and r.trial is not None]
        return one_standard_error(complete, self.simplicity)[0] if complete else None

    # -- the study --------------------------------------------------------------------------
    def search(self, kept_sources: list[str]) -> bool:
        """Runs the plan, then the study, while a setting fits; returns whether every setting was tried."""
        pool = [c for c in self.candidates if c.source.name in kept_sources]
        by_label = {c.label: c for c in pool}
        everyone = {c.label: c for c in self.candidates}
        space = {  # every candidate, not just the pool: processes sharing the study may keep different sources
            "candidate": CategoricalDistribution(list(everyone)),
            "lr_scale": CategoricalDistribution(list(LR_SCALES)),
            "epochs_scale": CategoricalDistribution(list(EPOCH_SCALES)),
        }
        storage = open_storage(self.storage)
        study = self.study = optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=AmongLikeTrials(lambda trial: like_trials(everyone.get(trial.params.get("candidate")))),
        )
        seen = resume(study, self.rows, set(by_label), self.study_name, self.progress)
        mine: set[TrialKey] = set()
        """Settings this process took (a failed one too: it is not tried again here)."""
        blocks = self.costs.num_blocks
        frozen = portfolio.frozen_stage(pool, kept_sources, blocks)
        plan: list[tuple[TrialKey, str]] = [(key, "stage 1: frozen features, every source") for key in frozen]
        planned_portfolio = False
        best_source = next(c for c in pool if c.source.name == kept_sources[0])
        reserve, reserved = self.baseline_reserve(best_source)
        cheapest_pool = [c for c in pool if c.strategy.cached_features] or pool
        cheapest = min(
            self.predicted(c, self.params(c, 1.0, min(EPOCH_SCALES) if c.strategy.schedule else 1.0))
            for c in cheapest_pool
        )
        self.progress(
            f"Searching {len(pool)} candidates: probes on every source first, then the portfolio; {reserved}, "
            f"cheapest trial ~{cheapest:.0f}s"
        )
        settings = [key for c in pool for key in self.keys_of(c)]
        spare = random.Random(self.seed)
        too_long: dict[tuple[str, float], tuple[float, str]] = {}
        """(candidate, epochs scale) pairs whose predicted time no longer fits: the prediction, and why."""

        def untried() -> Iterator[TrialKey]:
            return (s for s in settings if s not in seen and (s.candidate, s.epochs_scale) not in too_long)

        def enqueue(key: TrialKey, why: str = "") -> None:
            study.enqueue_trial(
                {
                    "candidate": key.candidate,
                    "lr_scale": key.lr_scale,
                    "epochs_scale": key.epochs_scale,
                    **{_param_name(by_label[key.candidate], name): value for name, value in key.settings},
                },
                user_attrs={"why": why} if why else None,
            )

        def may_fit(label: str, epochs_scale: float) -> bool:
            """Whether a candidate at an epoch count is predicted to fit now (or cannot be predicted yet)."""
            candidate = by_label[label]
            params = self.params(candidate, 1.0, epochs_scale)
            return not self.costs.can_predict(candidate, params) or self.budget.fits(
                self.predicted(candidate, params), keep=keep(candidate.source.name)
            )

        def fitting_now(keys: list[TrialKey]) -> list[TrialKey]:
            fit = {pair for pair in {(s.candidate, s.epochs_scale) for s in keys} if may_fit(*pair)}
            return [s for s in keys if (s.candidate, s.epochs_scale) in fit]

        def queue_untried(rng: random.Random, too_long_now: TrialKey | None = None) -> None:
            """Queues an untried setting, one predicted to fit when there is one: drawing one that
            will only be set aside costs a round trip to the study each time."""
            every = list(untried())
            options = fallbacks(every, too_long_now)
            if options:
                enqueue(rng.choice(fitting_now(options) or fitting_now(every) or options))

        def keep(source: str | None = None) -> float:
            """Seconds no trial may take: the baseline's, and the refit of the leading result while
            that still fits, else its test pass (before any result, the test pass of the trial's
            ``source``, or of the quickest source when there is no trial yet to ask about). A trial
            may leave no time to refit itself: if it wins, its own model is kept (``final_model``),
            and the time left goes to more trials; but every final model is tested, and on a large
            test split that takes a while."""
            leader = self.leader()
            if leader is None:  # the first result will be tested, whatever else happens
                return reserve + (
                    self.costs.test_seconds(source) if source else min(map(self.costs.test_seconds, kept_sources))
                )
            refit = self.refit_seconds(leader)
            if self.budget.fits(refit, keep=reserve):
                return reserve + refit
            return reserve + (
                self.costs.test_seconds(leader.source) if leader else 0.0
            )  # a refit already lost is not kept for

        def running_elsewhere() -> int:
            return sum(
                t.state == TrialState.RUNNING
                for t in claims(study)
                if TrialKey.from_json(t.user_attrs["key"]) in settings
            )

        trial, waiting = None, False
        try:
            while self.budget.fits(cheapest, keep=keep()):
                fail_stale(study)  # a trial of a process gone silent: failed, and queued again
                seen = claimed_keys(study) | mine  # what this process and those sharing the study took
                if next(untried(), None) is None:
                    running = running_elsewhere()
                    if not running:
                        break
                    if not waiting:
                        self.progress(f"Waiting for {running} trial(s) that other processes are running")
                    waiting = True
                    time.sleep(storage.get_heartbeat_interval())  # their results, or their heartbeats' silence
                    continue
                waiting = False
                plan = [
                    (key, why)
                    for key, why in plan
                    if key not in seen and (key.candidate, key.epochs_scale) not in too_long
                ]
                if not plan and not planned_portfolio:
                    planned_portfolio = True
                    plan = self.after_stage_one(pool, kept_sources, frozen, seen)
                if plan:
                    enqueue(*plan.pop(0))
                trial = study.ask(space)
                with beating(storage, study, trial):  # from now until it is told, or its process is gone
                    trial.set_user_attr("process", this_process())
                    candidate = by_label.get(trial.params["candidate"])
                    if candidate is None:  # a candidate of a source this process dropped
                        study.tell(trial, state=TrialState.PRUNED)
                        queue_untried(spare)
                        continue
                    chosen = {
                        s.name: trial.suggest_categorical(
                            _param_name(candidate, s.name), list(s.values(blocks.get(candidate.source.name, 0)))
                        )
                        for s in candidate.settings
                    }
                    scheduled = candidate.strategy.schedule
                    key = TrialKey(
                        candidate.label,
                        trial.params["lr_scale"] if scheduled else 1.0,
                        trial.params["epochs_scale"] if scheduled else 1.0,
                        tuple(chosen.items()),
                    )
                    params = self.params(candidate, key.lr_scale, key.epochs_scale, chosen)
                    predicted = self.predicted(candidate, params)
                    if key not in seen and not self.budget.fits(predicted, keep=keep(candidate.source.name)):
                        too_long[(key.candidate, key.epochs_scale)] = (
                            predicted,
                            f"predicted {predicted:.0f}s at {params.epochs} epochs would not leave time for the best "
                            "trial's refit and the baseline",
                        )
                    if (
                        key in seen or (key.candidate, key.epochs_scale) in too_long
                    ):  # known, or too long now: queue an untried setting that may fit
                        study.tell(trial, state=TrialState.PRUNED)
                        queue_untried(spare, key if (key.candidate, key.epochs_scale) in too_long else None)
                        continue
                    trial.set_user_attr("key", key.to_json())
                    if any(t.number != trial.number and t.user_attrs["key"] == key.to_json() for t in claims(study)):
                        # Another process claimed the same setting at the same moment: both step aside, and each queues
                        # a setting of its own choosing (a shared seed would choose the same one again).
                        study.tell(trial, state=TrialState.PRUNED)
                        queue_untried(random.Random(f"{self.seed}:{this_process()}:{trial.number}"))
                        continue
                    mine.add(key)
                    row = row_for(
                        candidate,
                        self.scores,
                        trial=trial.number,
                        params=params.as_dict(),
                        predicted_s=predicted,
                        folds=len(self.folds_for(candidate)),
                        reason=trial.user_attrs.get("why", ""),
                    )
                    self.rows.append(row)
                    self.run_trial(study, trial, candidate, params, row, keep=keep(candidate.source.name))
        except KeyboardInterrupt:  # or SIGTERM: the trial asked for is not left RUNNING for others to wait on
            if trial is not None:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        take_up(study, self.rows, set(by_label), mine=False)
        self.list_left_over(pool, too_long)
        tried = len((claimed_keys(study) | mine) & set(settings))
        if tried < len(settings):
            self.progress(
                f"Search stopped: {len(settings) - tried} of {len(settings)} settings untried, for lack of time"
            )
        return tried >= len(settings)

    def after_stage_one(
        self, pool: list[Candidate], kept: list[str], frozen: list[TrialKey], seen: set[TrialKey]
    ) -> list[tuple[TrialKey, str]]:
        """The portfolio on the best sources by stage 1, then the priors' guess on each kept source."""
        frozen_strategies = {self.candidate(key.candidate).strategy.name for key in frozen}
        ranked = portfolio.ranked_sources(self.rows, kept, frozen_strategies)
        blocks = self.costs.num_blocks
        plan = [
            (
                key,
                f"portfolio: {self.candidate(key.candidate).strategy.name} at its defaults on the "
                f"{'best' if key.candidate.startswith(ranked[0] + ' ') else 'second'} source by stage 1",
            )
            for key in portfolio.portfolio_stage(pool, ranked, blocks)
        ]
        per_class = len(self.dataset.splits["train"]) / len(self.dataset.classes)
        for source in ranked:
            similarity = priors.knn_similarity(self.scores.get(source, {}).get("knn"), len(self.dataset.classes))
            guide = priors.prior(per_class, similarity)
            guesses = [
                c
                for c in priors.rank([c for c in pool if c.source.name == source], guide)
                if c.strategy.depth is not None
            ]
            if guesses:
                plan.append((portfolio.default_key(guesses[0], blocks.get(source, 0)), f"prior: {guide.reason}"))
        return [(key, why) for key, why in plan if key not in seen]

    def list_left_over(self, pool: list[Candidate], too_long: dict[tuple[str, float], tuple[float, str]]) -> None:
        """Rows for the candidates skipped for time (once each, at their cheapest epoch count) and those never "
        "reached."""
        for label in dict.fromkeys(label for label, _ in too_long):
            predicted, reason = min(v for (other, _), v in too_long.items() if other == label)
            self.rows.append(
                row_for(self.candidate(label), self.scores, predicted_s=predicted, state="skipped", reason=reason)
            )
        if too_long:
            self.progress(
                f"Skipped for time: {len({label for label, _ in too_long})} candidate(s) at some epoch counts (see "
                "the leaderboard)"
            )
        listed = {r.candidate for r in self.rows}
        for c in pool:
            if c.label not in listed:
                params = self.params(c)
                predicted = self.predicted(c, params) if self.costs.can_predict(c, params) else None
                self.rows.append(
                    row_for(
                        c,
                        self.scores,
                        predicted_s=predicted,
                        state="untried",
                        reason="the budget ran out before the search reached it",
                    )
                )

    def run_trial(self, study, trial, candidate: Candidate, params: TrainParams, row: Row, keep: float = 0.0) -> None:
        """Trains one trial, on each of its folds. A trial predicted short may run long: once an earlier
        trial has a result, this one stops before an epoch that would not end with ``keep`` seconds left."""
        started = self.budget.clock()
        epochs_run, mark = 0, started
        trial_folds = self.folds_for(candidate)
        epochs_due = params.epochs * len(trial_folds)
        self.progress(
            f"Trial {trial.number}: {candidate.label}"
            + (f", lr {params.lr:.2g}, {params.epochs} epochs" if candidate.strategy.schedule else "")
            + (f", {len(trial_folds)} folds" if len(trial_folds) > 1 else "")
            + f" (~{row.predicted_s:.0f}s)"
        )

        def reporter(fold: int) -> Callable:
            """Every fold's epochs count for the cost model; the first fold's are logged and judged by the pruner."""

            def on_epoch(epoch) -> None:
                nonlocal epochs_run, mark
                epochs_run += 1
                tick()
                self.budget_bar(completed=self.budget.elapsed())
                now, epoch_s = self.budget.clock(), self.budget.clock() - mark
                mark = now
                if (
                    epochs_run < epochs_due
                    and not self.budget.fits(epoch_s, keep=keep)
                    and any(r.state == "complete" for r in self.rows)
                ):
                    raise optuna.TrialPruned(f"stopped after epoch {epoch.epoch}: another would overrun the budget")
                if fold > 0:
                    return
                mlflow.log_metrics(
                    {f"val_{self.metric}": epoch.val_metric, "train_loss": epoch.train_loss}, step=epoch.epoch
                )
                trial.report(epoch.val_metric, epoch.epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch.epoch}")

            return on_epoch

        try:
            with (
                bar(self.report, f"trial {trial.number}", epochs_due, "epochs") as tick,
                tracking.nested_run(
                    f"trial {trial.number}: {candidate.label}", finished_on=(optuna.TrialPruned,)
                ) as run,
            ):
                row.run_id = run.info.run_id
                trial.set_user_attr("run_id", run.info.run_id)  # for whoever fails the trial, should this process die
                mlflow.log_params(
                    {"source": row.source, "strategy": row.strategy, "regularizer": row.regularizer, **params.as_dict()}
                )
                fits = []
                for fold, splits in enumerate(trial_folds):
                    trained, batch_size = retry_at_half_batch(
                        lambda size, splits=splits, fold=fold: candidate.strategy.train(
                            self.job(candidate, replace(params, batch_size=size), splits, reporter(fold))
                        ),
                        row.params["batch_size"],
                        self.device,
                        self.progress,
                    )
                    if batch_size != row.params["batch_size"]:
                        row.reason = f"out of memory at batch size {row.params['batch_size']}, retried at {batch_size}"
                        row.params["batch_size"] = batch_size
                        mlflow.set_tag("autotl.batch_size_after_oom", batch_size)
                    fits.append(trained.fit)
                    if len(trial_folds) > 1:
                        mlflow.log_metric(f"fold_val_{self.metric}", trained.fit.val_metric, step=fold)
                    if fold == 0:
                        first = trained, self.job(candidate, replace(params, batch_size=batch_size), splits)
                    del trained
                values, best_epoch = scored_folds(fits)
                validated = sum(len(splits["val"]) for splits in trial_folds)
                val_metric = float(np.mean(values))
                val_se = fold_se(values, validated) if len(fits) > 1 else binomial_se(val_metric, validated)
                mlflow.log_metrics({f"best_val_{self.metric}": val_metric, f"val_{self.metric}_se": val_se})
        except optuna.TrialPruned as pruned:
            row.state, row.seconds = "pruned", self.budget.clock() - started
            row.reason = "; ".join(filter(None, (row.reason, str(pruned))))
            self.progress(f"  {pruned}")
            settle(study, trial, TrialState.PRUNED, row=row)
            return
        except KeyboardInterrupt:
            settle(study, trial, TrialState.FAIL)
            raise
        except optuna.exceptions.UpdateFinishedTrialError:
            row.state, row.reason = "failed", STALE
            self.progress(f"  failed: {row.reason}")
            return
        except Exception as error:  # one trial's fault must not end the study
            row.state, row.reason = "failed", f"{type(error).__name__}: {error}"
            settle(study, trial, TrialState.FAIL)
            self.progress(f"  failed: {row.reason}")
            return
        finally:
            release_memory(self.device)
            row.seconds = self.budget.clock() - started
            if epochs_run:
                self.costs.observed(
                    candidate, params, row.seconds / len(trial_folds), max(1, epochs_run // len(trial_folds))
                )
        row.state, row.val_metric, row.val_se = "complete", val_metric, val_se
        row.params["best_epoch"] = best_epoch
        if not settle(study, trial, TrialState.COMPLETE, val_metric, row=row):
            row.reason = "; ".join(filter(None, (row.reason, f"{STALE}: in this process's leaderboard only")))
        if self.leader() is row:
            first[0].classifier.cpu()  # off the accelerator, which the next trial needs
            self.kept = (row, *first)
        del first
        folds_note = f", mean of {len(fits)} folds" if len(fits) > 1 else ""
        self.progress(f"  val {self.metric} {val_metric:.4f} ± {val_se:.4f}{folds_note} ({row.seconds:.0f}s)")

    # -- after the search -------------------------------------------------------------------
    def final_model(self, chosen: Row) -> tuple[TrainedModel, TrainingJob, str]:
        """The chosen trial refit on train+val when the time left allows, else (the search spent that
        time on a trial that won) that trial's own model, with why. The refit goes before the
        no-transfer baselines, which get what is left. A trial of another process or an earlier run is always refit."""
        needed = self.refit_seconds(chosen)
        if (
            self.kept is None
            or self.kept[0] is not chosen
            or self.budget.fits(needed, keep=-REFIT_OVERRUN * self.budget.seconds)
        ):
            return *self.refit(chosen), ""
        trained, job = self.kept[1:]
        trained_on = "a fold of train+val" if chosen.folds > 1 else "train"
        short = self.short_of_time(needed)
        note = f"trial {chosen.trial}'s own model, trained on {trained_on}: a refit on train+val {short}"
        self.progress(f"Keeping {note}")
        job = self.job(
            self.candidate(chosen.candidate), job.params, {**job.splits, "test": self.dataset.splits["test"]}
        )
        trained.probabilities["test"] = self.test_probabilities(trained, job.params.batch_size)
        return trained, job, note

    def short_of_time(self, needed: float) -> str:
        """Why something was not run, to a tenth of a second: whole seconds can print a need equal to what was left."""
        return f"would take ~{needed:.1f}s, {max(0.0, self.budget.left()):.1f}s were left"

    def refit(self, chosen: Row) -> tuple[TrainedModel, TrainingJob]:
        """The chosen trial again on train+val, for its best epoch count; test seen once, here."""
        candidate, params = self.candidate(chosen.candidate), refit_params(chosen)
        splits = {
            "train": self.dataset.splits["train"] + self.dataset.splits["val"],
            "val": self.dataset.splits["val"],
            "test": self.dataset.splits["test"],
        }
        job = self.job(candidate, params, splits)
        self.progress(
            f"Refitting {candidate.label} on train+val"
            + (f" for {params.epochs} epochs" if candidate.strategy.schedule else "")
        )
        return candidate.strategy.train(job), job

    def no_transfer_baselines(self, architecture: Row) -> list[Baseline]:
        """Each no-transfer baseline strategy on the chosen architecture at its whole default schedule,
        when that and the test fit in the time left; else why not. Never cut short: a truncated run says nothing."""
        candidate = self.candidate(architecture.candidate)
        share = BASELINE_SHARE * self.budget.seconds
        results = []
        for baseline in self.baselines:
            run, params, needed = self.baseline_schedule(baseline, candidate, time_a_step=self.budget.left() > share)
            name = f"{baseline.name} {candidate.source.name}"
            if needed is None:
                results.append(
                    Baseline(
                        name,
                        None,
                        f"not trained: no end-to-end step of it was timed, and {max(0.0, self.budget.left()):.1f}s "
                        f"left (under its {share:.0f}s share) would not pay for timing and training it",
                    )
                )
                continue
            if not self.budget.fits(needed):
                results.append(
                    Baseline(
                        name,
                        None,
                        f"not trained: its {params.epochs}-epoch schedule and the test {self.short_of_time(needed)}",
                    )
                )
                continue
            self.progress(f"Baseline: {name}, lr {params.lr:.2g}, {params.epochs} epochs (~{needed:.0f}s)")
            trained = baseline.train(self.job(run, params))
            labels = self.job(run, params, self.dataset.splits).labels("test")
            predictions = self.test_probabilities(trained, params.batch_size).argmax(1)
            results.append(Baseline(name, score("accuracy", labels, predictions, len(self.dataset.classes))))
        return results

    def test_probabilities(self, trained: TrainedModel, batch_size: int) -> np.ndarray:
        """A model's one pass over the test split, which its training job left out."""
        inputs = [e.input for e in self.dataset.splits["test"]]
        probabilities = predict_proba(
            trained.classifier, inputs, trained.classifier.backbone.preprocessor, self.device, batch_size
        )
        trained.classifier.cpu()
        return probabilities

    def run(self) -> Selection:
        with bar(self.report, "budget", round(self.budget.seconds), "s") as self.budget_bar:
            return self.select()

    def select(self) -> Selection:
        classical = self.classical_baseline()  # first: seconds, and a result whatever the budget
        self.progress(f"Scoring {len({c.source.name for c in self.candidates})} source(s) on frozen features")
        kept, self.scores, self.combined, dropped = score_sources(
            self.candidates,
            lambda c: self.job(c, self.params(c)),
            self.costs,
            self.scorers,
            self.budget,
            self.progress,
            self.report,
        )
        self.rows += dropped
        exhausted = self.search(kept) if kept else False
        complete = [r for r in self.rows if r.state == "complete" and r.trial is not None]
        baselines = [Baseline(classical.row.candidate, classical.test_accuracy)]
        if not complete:
            decision = (
                f"no transfer: no transfer trial finished within the budget of {self.budget.seconds:.0f}s "
                "(give a larger --budget to try transfer); the classical baseline is the final model"
            )
            return self.classical_choice(classical, decision, baselines, exhausted)
        chosen, decision = one_standard_error(complete, self.simplicity)
        if beats_every(classical.row, complete):
            best = max(complete, key=lambda row: row.val_metric)
            decision = (
                f"no transfer: the classical baseline's {classical.row.val_metric:.4f} ± {classical.row.val_se:.4f} "
                f"beats every transfer candidate by more than the noise (the best, {best.candidate}, "
                f"{best.val_metric:.4f})"
            )
            baselines += self.no_transfer_baselines(chosen)
            return self.classical_choice(classical, decision, baselines, exhausted)
        self.progress(f"Chosen: {chosen.candidate}: {decision}")
        final, job, final_note = self.final_model(chosen)
        labels = job.labels("test")
        predictions = final.probabilities["test"].argmax(1)
        test_metric = score(self.metric, labels, predictions, len(self.dataset.classes))
        test_accuracy = score("accuracy", labels, predictions, len(self.dataset.classes))
        baselines += self.no_transfer_baselines(chosen)
        return Selection(
            self.rows,
            chosen,
            decision,
            final,
            job,
            classical,
            test_metric,
            test_accuracy,
            baselines,
            exhausted,
            final_note,
        )

    def classical_choice(
        self, classical: ClassicalResult, decision: str, baselines: list[Baseline], exhausted: bool
    ) -> Selection:
        self.progress(f"Chosen: {decision}")
        return Selection(
            self.rows,
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

    def classical_baseline(self) -> ClassicalResult:
        """The no-transfer baseline, validated like the probes, so that it can be compared with them."""
        started = self.budget.clock()
        result = run_classical(self.dataset, self.cv_folds or [self.unseen_test], self.metric, self.seed)
        result.row.seconds = self.budget.clock() - started
        self.costs.frozen_guess_s = result.fold_seconds
        self.rows.append(result.row)
        self.progress(
            f"No-transfer baseline, {result.model.description}: val {self.metric} {result.row.val_metric:.4f} ± "
            f"{result.row.val_se:.4f} ({result.row.seconds:.0f}s)"
        )
        return result


def refit_params(row: Row) -> TrainParams:
    """A trial's settings, for its best epoch count."""
    params = TrainParams.from_dict({k: v for k, v in row.params.items() if k != "best_epoch"})
    return replace(params, epochs=row.params["best_epoch"])


def like_trials(candidate: Candidate | None) -> str:
    """The pruner's groups: trials of one source and strategy. Epochs of different strategies
    train different weights, and features of different scales train a head at different speeds:
    an early epoch ranks neither against the other, and a source's first trial runs to the end."""
    return f"{candidate.source.name} {candidate.strategy.name}" if candidate else ""


def fallbacks(untried: list[TrialKey], too_long_now: TrialKey | None) -> list[TrialKey]:
    """The untried settings to queue one from. After a setting too long now: its candidate at the
    next fewer epochs (the same learning rate and settings when untried), so a guess that does not
    fit is tried shorter before a random setting is."""
    if too_long_now is None:
        return untried
    shorter = [
        s for s in untried if s.candidate == too_long_now.candidate and s.epochs_scale < too_long_now.epochs_scale
    ]
    nearest = [s for s in shorter if s.epochs_scale == max(o.epochs_scale for o in shorter)]
    return (
        [s for s in nearest if s.lr_scale == too_long_now.lr_scale and s.settings == too_long_now.settings]
        or nearest
        or untried
    )


def _param_name(candidate: Candidate, setting: str) -> str:
    """Optuna's name for a declared setting: one per candidate, since its choices may depend on the source."""
    return f"{candidate.label}: {setting}"


def image_size(dataset: Dataset, source) -> int:
    """Small images are not blown up to the source's full input size: four times their shorter
    median side, in steps of 32, at least 64 pixels, at most the source's own size (0 for text)."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes or "height" not in sizes:
        return 0  # text, or an image format that does not report sizes: the source's own
    native = source.spec.input_size[-1]
    side = min(sizes["width"]["median"], sizes["height"]["median"])
    return int(min(native, max(64, 32 * math.ceil(4 * side / 32))))
