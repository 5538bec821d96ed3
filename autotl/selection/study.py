"""The Optuna study behind a selection: its storage, resuming it by name, and sharing it with
other processes (none runs a setting another has finished or is running)."""

import random
import time
from datetime import datetime
from typing import Callable

import optuna
from optuna.trial import FrozenTrial, TrialState

from autotl.processes import is_gone
from autotl.selection.leaderboard import Row, TrialKey


def open_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``. Processes that start together on a new database race to create
    its tables (PostgreSQL then refuses the second copy of a type): the loser waits and tries again."""
    import sqlalchemy

    for attempt in range(attempts - 1):
        try:
            return optuna.storages.RDBStorage(url)
        except sqlalchemy.exc.DBAPIError:
            time.sleep(1 + attempt + random.random())
    return optuna.storages.RDBStorage(url)


def abandoned(trial: FrozenTrial) -> bool:
    """Left RUNNING by a process that is gone. A trial names its process right after it is asked
    for; one that does not yet is given a minute (after that, an older autotl's or a killed one's)."""
    process = trial.user_attrs.get("process")
    if process is None:
        started = trial.datetime_start
        return started is None or (datetime.now() - started).total_seconds() > 60
    return is_gone(process)


def claims(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that hold their setting: finished with a result, or running in a live process."""
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("key") and (
        (t.state.is_finished() and "row" in t.user_attrs) or (t.state == TrialState.RUNNING and not abandoned(t)))]


def claimed_keys(study: optuna.Study) -> set[TrialKey]:
    return {TrialKey.from_json(t.user_attrs["key"]) for t in claims(study)}


def take_up(study: optuna.Study, rows: list[Row], labels: set[str], mine: bool) -> int:
    """Adds to ``rows`` the finished trials of the study that it lacks (of candidates in
    ``labels``); ``mine``: those are from an earlier run, not from another process sharing the study now."""
    listed = {r.trial for r in rows if r.trial is not None}
    added = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and "row" in trial.user_attrs and trial.number not in listed:
            row = Row(**trial.user_attrs["row"])
            if row.candidate not in labels:
                continue
            origin = "from an earlier run of this study" if mine else "by another process sharing this study"
            row.reason = "; ".join(filter(None, (row.reason, origin)))
            rows.append(row)
            added += 1
    return added


def resume(study: optuna.Study, rows: list[Row], labels: set[str], name: str, progress: Callable[[str], None]) -> set[TrialKey]:
    """Takes up what an earlier process left in a study of the same name: its finished trials
    join the leaderboard and are not run again; trials a dead process left running are marked
    failed. Returns the settings finished or being run, which this process leaves alone."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if abandoned(trial):
            study.tell(trial.number, state=TrialState.FAIL)
    taken = take_up(study, rows, labels, mine=True)
    if taken:
        progress(f"Study {name}: {taken} finished trial(s) taken up from an earlier run")
    return claimed_keys(study)
