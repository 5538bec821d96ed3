"""A worker's share of a search: the coordinator's study and plan, trials only. The coordinator
(the ``select`` that opened the study) alone scores the sources, refits the winner and trains the
baselines; a worker runs trials until the coordinator closes the study, the settings run out, or
no trial fits before the coordinator's deadline.
"""

import time
import zlib
from collections import Counter
from typing import Callable

import optuna

from autotl.contracts.options import SelectOptions
from autotl.errors import AutotlError
from autotl.processes import this_process
from autotl.selection import coordination
from autotl.selection.budget import Budget
from autotl.selection.coordination import Coordination
from autotl.selection.reserve import NothingKept
from autotl.selection.search import Search
from autotl.selection.study import heartbeat_seconds, open_storage
from autotl.selection.trials import Trials


class Deadline(Budget):
    """A worker's budget: the time until the coordinator's deadline for trials, which its
    coordinator moves as it learns what its own closing needs (``follow``)."""

    def __init__(self, seconds: float, clock=time.monotonic):
        super().__init__(seconds, clock)
        self.ends_at = self.clock()

    def follow(self, seconds_left: float) -> None:
        self.ends_at = self.clock() + seconds_left

    def left(self) -> float:
        return self.ends_at - self.clock()


class Joiner:
    """A worker's part in the coordinator's search: it keeps nothing back (the coordinator's deadline
    already keeps its refit, baselines and closing), follows that deadline, and stops when the
    coordinator closes the study."""

    finished_trials_are_mine = False
    reserve = NothingKept()

    def __init__(self, budget: Deadline, options: SelectOptions):
        self.budget, self.options = budget, options

    def sampler_seed(self) -> int:
        """Not the coordinator's: TPE would draw the same settings in both processes."""
        return zlib.crc32(f"{self.options.seed}:{this_process()}".encode())

    def take_part(
        self, study: optuna.Study, search: Callable[[], None], running: Callable[[], int], interval: float
    ) -> None:
        """Only searches: the coordinator opens the study, closes it and waits for the trials left running."""
        search()

    def goes_on(self, study: optuna.Study) -> bool:
        self.budget.follow(coordination.seconds_left(study))
        return not coordination.is_closed(study)


def wait_for_coordinator(
    storage_url: str, study_name: str, wait_s: float, progress, clock=time.monotonic
) -> tuple[Coordination, float]:
    """The plan of the select coordinating ``study_name``, and the seconds its trials have left.
    A study whose select has closed it is waited on too: a rerun of that select opens it again."""
    storage = open_storage(storage_url)
    started, told = clock(), False
    while True:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            study = None
        plan = coordination.published(study) if study else None
        if plan is not None and not coordination.is_closed(study) and coordination.seconds_left(study) > 0:
            return plan, coordination.seconds_left(study)
        if clock() - started > wait_s:
            raise AutotlError(
                f"--study {study_name}: no select coordinated it within {wait_s:.0f}s; start `autotl select --study "
                f"{study_name} --storage ...` (before or after the workers), or give a longer --wait"
            )
        if not told:
            progress(f"Waiting for a select to coordinate study {study_name}")
            told = True
        time.sleep(min(heartbeat_seconds(), 2))


def work(trials: Trials, options: SelectOptions, plan: Coordination, seconds_left: float) -> dict[str, int]:
    """Runs trials of the coordinator's study; returns how many ended in each state."""
    trials.join(plan)
    trials.budget.follow(seconds_left)
    search = Search(trials, options, [], plan.kept_sources, Joiner(trials.budget, options))
    search.run()
    return dict(Counter(row.state for row in search.ran))
