"""How a process takes part in a study that several share. The coordinator (the ``select`` that
opened it) publishes what workers need, moves their deadline as its own moves, closes the study
when its search ends and waits for the trials they still run; a worker joins it
(``joining.Joiner``). Each draws settings with a sampler seed of its own.
"""

import time
from typing import Callable, Protocol

import mlflow
import optuna

from autotl import tracking
from autotl.contracts.options import SelectOptions
from autotl.selection import coordination
from autotl.selection.reserve import NothingKept, Reserve
from autotl.selection.study import fail_stale
from autotl.selection.trials import Trials


class Role(Protocol):
    reserve: Reserve | NothingKept
    finished_trials_are_mine: bool
    """Whether the finished trials found on opening the study are from an earlier run of it (a select
    resuming), not from the processes running it now."""

    def sampler_seed(self) -> int: ...

    def take_part(
        self, study: optuna.Study, search: Callable[[], None], running: Callable[[], int], interval: float
    ) -> None:
        """Runs ``search`` in ``study``; ``running`` counts the trials that other processes still run,
        whose heartbeats come every ``interval`` seconds."""

    def goes_on(self, study: optuna.Study) -> bool:
        """Whether to take another trial."""


class Coordinator:
    """The part of the ``select`` that opened the study: it alone publishes the plan and closes the study."""

    finished_trials_are_mine = True

    def __init__(self, trials: Trials, options: SelectOptions, kept_sources: list[str], reserve: Reserve):
        self.trials, self.options, self.kept_sources, self.reserve = trials, options, kept_sources, reserve

    def sampler_seed(self) -> int:
        return self.options.seed

    def take_part(
        self, study: optuna.Study, search: Callable[[], None], running: Callable[[], int], interval: float
    ) -> None:
        """Opens the study to workers for the time of ``search``, then waits for their trials."""
        self.open_to_workers(study)
        try:
            search()
        finally:
            coordination.close(study)
        self.wait_for_others(study, running, interval)

    def open_to_workers(self, study: optuna.Study) -> None:
        """Publishes in the study what ``autotl worker`` processes need to run its trials."""
        trials = self.trials
        plan = coordination.plan_for(
            trials.dataset,
            self.options,
            parent_run_id=mlflow.active_run().info.run_id,
            tracking_uri=tracking.masked(mlflow.get_tracking_uri()),
            budget_s=trials.budget.seconds,
            kept_sources=self.kept_sources,
            scores=trials.scores,
            num_blocks=trials.costs.num_blocks,
            inference_s=trials.costs.inference_s,
        )
        coordination.publish(study, plan, self.trials_end_in())

    def trials_end_in(self) -> float:
        return self.trials.budget.left() - self.reserve.keep()

    def goes_on(self, study: optuna.Study) -> bool:
        """Always; the coordinator moves the workers' deadline as its own moves."""
        coordination.set_deadline(study, self.trials_end_in())
        return True

    def wait_for_others(self, study: optuna.Study, running: Callable[[], int], interval: float) -> None:
        """Waits for the trials that workers (or other selects) still run, while they may end within the budget."""
        count = running()
        if count:
            self.trials.progress(f"Waiting for {count} trial(s) that other processes are running")
        while running() and self.trials_end_in() > 0:
            time.sleep(min(interval, max(0.1, self.trials_end_in())))
            fail_stale(study)
