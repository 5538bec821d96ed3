"""The search: the plan first (every kept source's probes on cached features, then the portfolio
on the best sources and the priors' guesses), then an Optuna study of what is left, one trial at
a time while a setting still fits the budget. Processes that share the study (same name and
storage) take different settings and see one another's results; one whose heartbeats stop has
its trial failed and queued again.
"""

import random
import time
from typing import Iterator

import mlflow
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from autotl import tracking
from autotl.contracts.options import SelectOptions
from autotl.contracts.strategies import Strategy
from autotl.processes import this_process
from autotl.registry import Candidate
from autotl.selection import baselines, coordination, portfolio, priors
from autotl.selection.budget import suggested_budget
from autotl.selection.leaderboard import Row, TrialKey, row_for
from autotl.selection.pruning import AmongLikeTrials
from autotl.selection.study import beating, claimed_keys, claims, fail_stale, open_storage, resume, take_up
from autotl.selection.trials import EPOCH_SCALES, LR_SCALES, Trials


class Search:
    joins_a_select = False
    """Whether this process joins a study that a running select coordinates (a worker)."""

    def __init__(self, trials: Trials, options: SelectOptions, no_transfer: list[Strategy], kept_sources: list[str]):
        """Opens (or joins) the study; ``kept_sources`` are the scored sources worth searching, best first."""
        self.trials, self.budget, self.kept_sources = trials, trials.budget, kept_sources
        self.pool = [c for c in trials.candidates if c.source.name in kept_sources]
        self.by_label = {c.label: c for c in self.pool}
        everyone = {c.label: c for c in trials.candidates}
        self.space = {  # every candidate, not just the pool: processes sharing the study may keep different sources
            "candidate": CategoricalDistribution(list(everyone)),
            "lr_scale": CategoricalDistribution(list(LR_SCALES)),
            "epochs_scale": CategoricalDistribution(list(EPOCH_SCALES)),
        }
        self.storage = open_storage(options.storage)
        self.study = optuna.create_study(
            study_name=options.study,
            storage=self.storage,
            direction="maximize",
            load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=self.sampler_seed(options)),
            pruner=AmongLikeTrials(lambda trial: like_trials(everyone.get(trial.params.get("candidate")))),
        )
        self.seed, self.options = options.seed, options
        self.seen = resume(
            self.study, trials.rows, set(self.by_label), options.study, trials.progress, mine=not self.joins_a_select
        )
        self.mine: set[TrialKey] = set()
        """Settings this process took (a failed one too: it is not tried again here)."""
        self.ran: list[Row] = []
        """The rows of the trials this process ran."""
        self.frozen = portfolio.frozen_stage(self.pool, kept_sources, trials.costs.num_blocks)
        self.plan: list[tuple[TrialKey, str]] = [(key, "stage 1: frozen features, every source") for key in self.frozen]
        self.planned_portfolio = False
        self.favoured: list[TrialKey] = []
        """The portfolio and the priors' guesses: what the budget is advised on when they did not run."""
        self.portfolio_from = 0.0
        """When the portfolio could start (seconds into the budget)."""
        self.advice = ""
        """The budget that the first favoured setting that did not run would need ("" when they all ran)."""
        best_source = next(c for c in self.pool if c.source.name == kept_sources[0])
        self.reserve, self.reserved = baselines.reserve(trials, no_transfer, best_source) if no_transfer else (0.0, "")
        cheapest_pool = [c for c in self.pool if c.strategy.cached_features] or self.pool
        self.cheapest = min(
            trials.predicted(c, trials.params(c, 1.0, min(EPOCH_SCALES) if c.strategy.schedule else 1.0))
            for c in cheapest_pool
        )
        self.settings = [key for c in self.pool for key in trials.keys_of(c)]
        self.spare = random.Random(self.seed)
        self.too_long: dict[tuple[str, float], tuple[float, str]] = {}
        """(candidate, epochs scale) pairs whose predicted time no longer fits: the prediction, and why."""

    def run(self) -> bool:
        """Runs the plan, then the study, while a setting fits; returns whether every setting was tried."""
        trials, study = self.trials, self.study
        trials.progress(
            f"Searching {len(self.pool)} candidates: probes on every source first, then the portfolio; "
            + ", ".join(
                filter(
                    None,
                    (
                        "class-weighted losses too (imbalanced classes)" if trials.weigh_classes else "",
                        self.reserved,
                        f"cheapest trial ~{self.cheapest:.0f}s",
                    ),
                )
            )
        )
        self.open_to_workers()
        trial, waiting = None, False
        try:
            while self.budget.fits(self.cheapest, keep=self.keep()) and self.goes_on():
                fail_stale(study)  # a trial of a process gone silent: failed, and queued again
                self.seen = claimed_keys(study) | self.mine  # what this process and those sharing the study took
                if next(self.untried(), None) is None:
                    running = self.running_elsewhere()
                    if not running:
                        break
                    if not waiting:
                        trials.progress(f"Waiting for {running} trial(s) that other processes are running")
                    waiting = True
                    time.sleep(self.storage.get_heartbeat_interval())  # their results, or their heartbeats' silence
                    continue
                waiting = False
                self.plan = [(key, why) for key, why in self.plan if key not in self.seen and not self.is_too_long(key)]
                if not self.plan and not self.planned_portfolio:
                    self.planned_portfolio = True
                    take_up(study, trials.rows, set(self.by_label), mine=False)  # stage 1's trials run elsewhere
                    self.plan = self.after_stage_one()
                    self.favoured, self.portfolio_from = [key for key, _ in self.plan], self.budget.elapsed()
                if self.plan:
                    self.enqueue(*self.plan.pop(0))
                trial = study.ask(self.space)
                with beating(self.storage, study, trial):  # from now until it is told, or its process is gone
                    self.take(trial)
        except KeyboardInterrupt:  # or SIGTERM: the trial asked for is not left RUNNING for others to wait on
            if trial is not None:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        finally:
            self.close_to_workers()
        self.wait_for_others()
        take_up(study, trials.rows, set(self.by_label), mine=False)
        self.list_left_over()
        self.advice = self.budget_advice(claimed_keys(study) | self.mine)
        if self.advice:
            trials.progress(self.advice)
        tried = len((claimed_keys(study) | self.mine) & set(self.settings))
        if tried < len(self.settings):
            trials.progress(
                f"Search stopped: {len(self.settings) - tried} of {len(self.settings)} settings untried, for lack of "
                "time"
            )
        return tried >= len(self.settings)

    def sampler_seed(self, options: SelectOptions) -> int:
        return options.seed

    def open_to_workers(self) -> None:
        """Publishes in the study what ``autotl worker`` processes need to run its trials."""
        trials = self.trials
        plan = coordination.plan_for(
            trials.dataset,
            self.options,
            parent_run_id=mlflow.active_run().info.run_id,
            tracking_uri=tracking.masked(mlflow.get_tracking_uri()),
            budget_s=self.budget.seconds,
            kept_sources=self.kept_sources,
            scores=trials.scores,
            num_blocks=trials.costs.num_blocks,
            inference_s=trials.costs.inference_s,
        )
        coordination.publish(self.study, plan, self.trials_end_in())

    def trials_end_in(self) -> float:
        return self.budget.left() - self.keep()

    def goes_on(self) -> bool:
        """Whether to take another trial; the coordinator moves the workers' deadline as its own moves."""
        coordination.set_deadline(self.study, self.trials_end_in())
        return True

    def close_to_workers(self) -> None:
        coordination.close(self.study)

    def wait_for_others(self) -> None:
        """Waits for the trials that workers (or other selects) still run, while they may end within the budget."""
        running = self.running_elsewhere()
        if running:
            self.trials.progress(f"Waiting for {running} trial(s) that other processes are running")
        while self.running_elsewhere() and self.trials_end_in() > 0:
            time.sleep(min(self.storage.get_heartbeat_interval(), max(0.1, self.trials_end_in())))
            fail_stale(self.study)

    def take(self, trial: optuna.Trial) -> None:
        """Runs the trial the study gave, unless its setting was tried, is taken by another process at
        the same moment, or no longer fits: then it steps aside and queues an untried setting."""
        trials, study = self.trials, self.study
        trial.set_user_attr("process", this_process())
        candidate = self.by_label.get(trial.params["candidate"])
        if candidate is None:  # a candidate of a source this process dropped
            study.tell(trial, state=TrialState.PRUNED)
            self.queue_untried(self.spare)
            return
        chosen = {
            s.name: trial.suggest_categorical(_param_name(candidate, s.name), list(trials.searched(s, candidate)))
            for s in candidate.settings
        }
        scheduled = candidate.strategy.schedule
        key = TrialKey(
            candidate.label,
            trial.params["lr_scale"] if scheduled else 1.0,
            trial.params["epochs_scale"] if scheduled else 1.0,
            tuple(chosen.items()),
        )
        params = trials.params(candidate, key.lr_scale, key.epochs_scale, chosen)
        predicted = trials.predicted(candidate, params)
        if key not in self.seen and not self.budget.fits(predicted, keep=self.keep(candidate.source.name)):
            self.too_long[(key.candidate, key.epochs_scale)] = (
                predicted,
                f"predicted {predicted:.0f}s at {params.epochs} epochs would not leave time for the best "
                "trial's refit and the baseline",
            )
        if key in self.seen or self.is_too_long(key):  # known, or too long now: queue an untried setting that may fit
            study.tell(trial, state=TrialState.PRUNED)
            self.queue_untried(self.spare, key if self.is_too_long(key) else None)
            return
        trial.set_user_attr("key", key.to_json())
        if any(t.number != trial.number and t.user_attrs["key"] == key.to_json() for t in claims(study)):
            # Another process claimed the same setting at the same moment: both step aside, and each queues
            # a setting of its own choosing (a shared seed would choose the same one again).
            study.tell(trial, state=TrialState.PRUNED)
            self.queue_untried(random.Random(f"{self.seed}:{this_process()}:{trial.number}"))
            return
        self.mine.add(key)
        row = row_for(
            candidate,
            trials.scores,
            trial=trial.number,
            params=params.as_dict(),
            predicted_s=predicted,
            folds=len(trials.folds_for(candidate)),
            reason=trial.user_attrs.get("why", ""),
        )
        trials.rows.append(row)
        self.ran.append(row)
        trials.run(study, trial, candidate, params, row, keep=self.keep(candidate.source.name))

    def is_too_long(self, key: TrialKey) -> bool:
        return (key.candidate, key.epochs_scale) in self.too_long

    def untried(self) -> Iterator[TrialKey]:
        return (s for s in self.settings if s not in self.seen and not self.is_too_long(s))

    def enqueue(self, key: TrialKey, why: str = "") -> None:
        self.study.enqueue_trial(
            {
                "candidate": key.candidate,
                "lr_scale": key.lr_scale,
                "epochs_scale": key.epochs_scale,
                **{_param_name(self.by_label[key.candidate], name): value for name, value in key.settings},
            },
            user_attrs={"why": why} if why else None,
        )

    def may_fit(self, label: str, epochs_scale: float) -> bool:
        """Whether a candidate at an epoch count is predicted to fit now (or cannot be predicted yet)."""
        candidate = self.by_label[label]
        params = self.trials.params(candidate, 1.0, epochs_scale)
        return not self.trials.costs.can_predict(candidate, params) or self.budget.fits(
            self.trials.predicted(candidate, params), keep=self.keep(candidate.source.name)
        )

    def fitting_now(self, keys: list[TrialKey]) -> list[TrialKey]:
        fit = {pair for pair in {(s.candidate, s.epochs_scale) for s in keys} if self.may_fit(*pair)}
        return [s for s in keys if (s.candidate, s.epochs_scale) in fit]

    def queue_untried(self, rng: random.Random, too_long_now: TrialKey | None = None) -> None:
        """Queues an untried setting, one predicted to fit when there is one: drawing one that
        will only be set aside costs a round trip to the study each time."""
        every = list(self.untried())
        options = fallbacks(every, too_long_now)
        if options:
            self.enqueue(rng.choice(self.fitting_now(options) or self.fitting_now(every) or options))

    def keep(self, source: str | None = None) -> float:
        """Seconds no trial may take: the baseline's, and the refit of the leading result while
        that still fits, else its test pass (before any result, the test pass of the trial's
        ``source``, or of the quickest source when there is no trial yet to ask about). A trial
        may leave no time to refit itself: if it wins, its own model is kept (``final_model``),
        and the time left goes to more trials; but every final model is tested, and on a large
        test split that takes a while."""
        costs, leader = self.trials.costs, self.trials.leader()
        if leader is None:  # the first result will be tested, whatever else happens
            tested = [source] if source else self.kept_sources
            return self.reserve + min(map(costs.test_seconds, tested))
        refit = self.trials.refit_seconds(leader)
        if self.budget.fits(refit, keep=self.reserve):
            return self.reserve + refit
        return self.reserve + costs.test_seconds(leader.source)  # a refit already lost is not kept for

    def running_elsewhere(self) -> int:
        settings = set(self.settings)
        return sum(
            t.state == TrialState.RUNNING
            for t in claims(self.study)
            if TrialKey.from_json(t.user_attrs["key"]) in settings
        )

    def after_stage_one(self) -> list[tuple[TrialKey, str]]:
        """The portfolio on the best sources by stage 1, then the priors' guess on each kept source."""
        trials, blocks = self.trials, self.trials.costs.num_blocks
        frozen_strategies = {trials.candidate(key.candidate).strategy.name for key in self.frozen}
        ranked = portfolio.ranked_sources(trials.rows, self.kept_sources, frozen_strategies)
        plan = [
            (
                key,
                f"portfolio: {trials.candidate(key.candidate).strategy.name} at its defaults on the "
                f"{'best' if key.candidate.startswith(ranked[0] + ' ') else 'second'} source by stage 1",
            )
            for key in portfolio.portfolio_stage(self.pool, ranked, blocks)
        ]
        dataset = trials.dataset
        per_class = len(dataset.splits["train"]) / len(dataset.classes)
        for source in ranked:
            similarity = priors.knn_similarity(trials.scores.get(source, {}).get("knn"), len(dataset.classes))
            guide = priors.prior(per_class, similarity)
            guesses = [
                c
                for c in priors.rank([c for c in self.pool if c.source.name == source], guide)
                if c.strategy.depth is not None
            ]
            if guesses:
                plan.append((portfolio.default_key(guesses[0], blocks.get(source, 0)), f"prior: {guide.reason}"))
        return [(key, why) for key, why in plan if key not in self.seen]

    def budget_advice(self, tried: set[TrialKey]) -> str:
        """What budget the first setting of the portfolio or the priors that did not run would need:
        the time before the portfolio could start, its trial on every fold, its refit and the
        baselines' reserve, rounded up to a budget a person would type ("" when all of them ran,
        or none can be priced without timing a step now)."""
        trials = self.trials
        for key in self.favoured:
            candidate = self.by_label[key.candidate]
            params = trials.params(candidate, key.lr_scale, key.epochs_scale, dict(key.settings))
            if key in tried or not trials.costs.can_predict(candidate, params):
                continue
            trial = trials.predicted(candidate, params)
            needed = self.portfolio_from + trial + trials.refit_estimate(candidate, params) + self.reserve
            folds = len(trials.folds_for(candidate))
            return (
                f"Budget: {candidate.strategy.name} on {candidate.source.name}, which the portfolio or the priors "
                f"favour, did not run: it needs ~{trial:.0f}s"
                + (f" on {folds} folds" if folds > 1 else "")
                + f" and ~{needed:.0f}s in all; rerun with --budget {suggested_budget(needed)} to try it"
            )
        return ""

    def list_left_over(self) -> None:
        """Rows for the candidates skipped for time (once each, at their cheapest epoch count) and those never
        reached."""
        trials, too_long = self.trials, self.too_long
        for label in dict.fromkeys(label for label, _ in too_long):
            predicted, reason = min(v for (other, _), v in too_long.items() if other == label)
            trials.rows.append(
                row_for(trials.candidate(label), trials.scores, predicted_s=predicted, state="skipped", reason=reason)
            )
        if too_long:
            trials.progress(
                f"Skipped for time: {len({label for label, _ in too_long})} candidate(s) at some epoch counts (see "
                "the leaderboard)"
            )
        listed = {r.candidate for r in trials.rows}
        for c in self.pool:
            if c.label not in listed:
                params = trials.params(c)
                predicted = trials.predicted(c, params) if trials.costs.can_predict(c, params) else None
                trials.rows.append(
                    row_for(
                        c,
                        trials.scores,
                        predicted_s=predicted,
                        state="untried",
                        reason="the budget ran out before the search reached it",
                    )
                )


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
