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

from autotl.contracts.options import SelectOptions
from autotl.contracts.strategies import Strategy
from autotl.processes import this_process
from autotl.registry import Candidate
from autotl.selection.arbitration import Coordinator, Role
from autotl.selection.leaderboard import Row, TrialKey, row_for
from autotl.selection.left_over import left_over
from autotl.selection.plan import StagePlan
from autotl.selection.pruning import AmongLikeTrials
from autotl.selection.reserve import Reserve
from autotl.selection.study import beating, claimed_keys, claims, fail_stale, open_storage, resume, taken_up
from autotl.selection.trials import EPOCH_SCALES, LR_SCALES, Trials


class Search:
    def __init__(
        self,
        trials: Trials,
        options: SelectOptions,
        no_transfer: list[Strategy],
        kept_sources: list[str],
        role: Role | None = None,
    ):
        """Opens (or joins) the study; ``kept_sources`` are the scored sources worth searching, best
        first. ``role``: how this process shares the study; the coordinator's, keeping time for the
        ``no_transfer`` baselines, unless another is given."""
        self.trials, self.budget = trials, trials.budget
        self.pool = [c for c in trials.candidates if c.source.name in kept_sources]
        self.by_label = {c.label: c for c in self.pool}
        everyone = {c.label: c for c in trials.candidates}
        self.space = {  # every candidate, not just the pool: processes sharing the study may keep different sources
            "candidate": CategoricalDistribution(list(everyone)),
            "lr_scale": CategoricalDistribution(list(LR_SCALES)),
            "epochs_scale": CategoricalDistribution(list(EPOCH_SCALES)),
        }
        self.role = role or Coordinator(
            trials, options, kept_sources, Reserve.for_baselines(trials, no_transfer, kept_sources)
        )
        self.reserve = self.role.reserve
        self.storage = open_storage(options.storage)
        self.study = open_study(options.study, self.storage, self.role.sampler_seed(), everyone)
        self.seed = options.seed
        taken, self.seen = resume(
            self.study,
            trials.rows,
            set(self.by_label),
            options.study,
            trials.progress,
            mine=self.role.finished_trials_are_mine,
        )
        trials.record(*taken)
        self.mine: set[TrialKey] = set()
        """Settings this process took (a failed one too: it is not tried again here)."""
        self.ran: list[Row] = []
        """The rows of the trials this process ran."""
        self.stages = StagePlan(trials, self.pool, kept_sources)
        self.advice = ""
        """The budget that the first favoured setting that did not run would need ("" when they all ran)."""
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
                        f"cheapest trial ~{self.cheapest:.0f}s",
                    ),
                )
            )
        )
        if self.reserve.why:  # what was kept for the no-transfer baselines: for the run, not the terminal
            mlflow.set_tag("autotl.baselines_reserve", self.reserve.why[:5000])
        self.role.take_part(study, self.take_trials, self.running_elsewhere, self.storage.get_heartbeat_interval())
        self.take_up_others()
        trials.record(*left_over(trials, self.pool, self.too_long))
        if self.too_long:
            trials.progress(
                f"Skipped for time: {len({label for label, _ in self.too_long})} candidate(s) at some epoch counts "
                "(see the leaderboard)"
            )
        tried = claimed_keys(study) | self.mine
        self.advice = self.stages.budget_advice(tried, self.reserve.baselines_s)
        if self.advice:
            trials.progress(self.advice)
        done = len(tried & set(self.settings))
        if done < len(self.settings):
            kept = self.reserve.keep()
            trials.progress(
                f"Search stopped: {len(self.settings) - done} of {len(self.settings)} settings untried, for lack of "
                f"time (of the {max(0.0, self.budget.left()):.0f}s left, ~{kept:.0f}s are kept for testing the final "
                f"model on {len(trials.dataset.splits['test'])} test inputs"
                + (" and the baselines" if self.reserve.baselines_s else "")
                + ")"
            )
        return done >= len(self.settings)

    def take_trials(self) -> None:
        """Runs the plan's settings, then the study's choices, while one fits and the role goes on."""
        trials, study = self.trials, self.study
        trial, waiting = None, False
        try:
            while self.budget.fits(self.cheapest, keep=self.reserve.keep()) and self.role.goes_on(study):
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
                planned = self.stages.next(self.seen, self.is_too_long, self.take_up_others)
                if planned:
                    self.enqueue(*planned)
                trial = study.ask(self.space)
                with beating(self.storage, study, trial):  # from now until it is told, or its process is gone
                    self.take(trial)
        except KeyboardInterrupt:  # or SIGTERM: the trial asked for is not left RUNNING for others to wait on
            if trial is not None:
                study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise

    def take_up_others(self) -> None:
        """Brings to the leaderboard the trials that other processes sharing the study finished."""
        self.trials.record(*taken_up(self.study, self.trials.rows, set(self.by_label), mine=False))

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
        if key not in self.seen and not self.budget.fits(predicted, keep=self.reserve.keep(candidate)):
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
            params=params.shown(candidate.strategy.schedule),
            predicted_s=predicted,
            folds=len(trials.folds_for(candidate)),
            reason=trial.user_attrs.get("why", ""),
        )
        trials.record(row)
        self.ran.append(row)
        trials.run(study, trial, candidate, params, row, keep=self.reserve.keep(candidate))

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
            self.trials.predicted(candidate, params), keep=self.reserve.keep(candidate)
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

    def running_elsewhere(self) -> int:
        settings = set(self.settings)
        return sum(
            t.state == TrialState.RUNNING
            for t in claims(self.study)
            if TrialKey.from_json(t.user_attrs["key"]) in settings
        )


def open_study(
    name: str, storage: optuna.storages.RDBStorage, seed: int, everyone: dict[str, Candidate]
) -> optuna.Study:
    """Creates the study, or joins it when another process (or an earlier run) created it; its
    pruner compares a trial with those of ``everyone``'s candidates of its source and strategy."""
    return optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=AmongLikeTrials(lambda trial: like_trials(everyone.get(trial.params.get("candidate")))),
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
