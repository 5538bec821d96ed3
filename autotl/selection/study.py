"""The Optuna study behind a selection: its storage, resuming it by name, and sharing it with
other processes (none runs a setting another has finished or is running).

Whether a process running a trial still lives is Optuna's heartbeat, judged by the database's
clock: each running trial records one every ``AUTOTL_HEARTBEAT_S`` seconds (10 by default), and
any process of the study fails a trial silent for ``GRACE_BEATS`` of them, ends its MLflow run
(and the select run above it) KILLED, and queues its setting to run again, once.
"""

import os
import random
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from typing import Callable, Iterator

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from autotl import tracking
from autotl.errors import AutotlError
from autotl.selection.leaderboard import Row, TrialKey

warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used with Study.optimize", UserWarning)
"""With ask and tell, this module records the heartbeats itself (``beating``), as Optuna's optimize loop does."""

GRACE_BEATS = 6
"""Heartbeats a running trial may miss before another process fails it: enough to ride out a
busy database or a slow moment, as Optuna's own guidance (a grace of several intervals) suggests."""


def heartbeat_seconds() -> int:
    """The heartbeat interval from ``AUTOTL_HEARTBEAT_S``: a positive whole number of seconds."""
    value = os.environ.get("AUTOTL_HEARTBEAT_S", "10")
    if not value.isdigit() or int(value) == 0:
        raise AutotlError(f"AUTOTL_HEARTBEAT_S={value!r}: give a whole number of seconds, 1 or more (10 by default)")
    return int(value)


def open_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``, with heartbeats. Processes that start together on a new
    database race to create its tables (PostgreSQL then refuses the second copy of a type): the
    loser waits and tries again."""
    import sqlalchemy

    interval = heartbeat_seconds()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # what the study does, autotl's progress says

    def connect() -> optuna.storages.RDBStorage:
        with warnings.catch_warnings():  # heartbeats are marked experimental; they are what we want
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=interval,
                grace_period=GRACE_BEATS * interval,
                heartbeat_stale_trial_callback=rerun_stale,
            )

    for attempt in range(attempts - 1):
        try:
            return connect()
        except sqlalchemy.exc.DBAPIError:
            time.sleep(1 + attempt + random.random())
    return connect()


def fail_stale(study: optuna.Study) -> None:
    """Fails the study's trials whose process stopped sending heartbeats (``rerun_stale`` follows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def rerun_stale(study: optuna.Study, trial: FrozenTrial) -> None:
    """Called by the one process that failed ``trial`` for want of heartbeats: its MLflow runs end
    KILLED, and its setting is queued again unless it was itself a rerun (a setting that kills
    its process must not take every process of the study down in turn)."""
    if trial.user_attrs.get("run_id"):
        tracking.kill_run(trial.user_attrs["run_id"])
    if "rerun_of" in trial.user_attrs or "key" not in trial.user_attrs:
        return
    study.enqueue_trial(
        trial.params,
        user_attrs={
            "rerun_of": trial.number,
            "why": f"rerun of trial {trial.number}, whose process stopped sending heartbeats",
        },
    )


@contextmanager
def beating(storage: optuna.storages.RDBStorage, study: optuna.Study, trial: Trial) -> Iterator[None]:
    """Records ``trial``'s heartbeat now and every interval until the block ends. A beat that
    fails (the database busy or briefly away) is tried again at the next one."""
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name(study.study_name), trial.number
    )
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(storage.get_heartbeat_interval()):
            try:
                storage.record_heartbeat(trial_id)
            except Exception:  # noqa: BLE001 - the grace period allows for a missed beat
                continue

    storage.record_heartbeat(trial_id)  # before the block: a trial is never RUNNING without one
    trial.set_user_attr("heartbeat_s", storage.get_heartbeat_interval())  # so others know it can be judged
    thread = threading.Thread(target=beat, name=f"heartbeat of trial {trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def settle(
    study: optuna.Study, trial: Trial, state: TrialState, value: float | None = None, row: Row | None = None
) -> bool:
    """Tells the study how ``trial`` ended (with its leaderboard ``row``). False when another
    process had already failed it for want of heartbeats: the result then stays in this
    process's leaderboard alone, and the setting's rerun in the study."""
    try:
        if row is not None:
            trial.set_user_attr("row", asdict(row))
        return study.tell(trial, value, state=state, skip_if_finished=True).state == state
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def claims(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that hold their setting: finished with a result, or running with heartbeats (whose
    process sends them, or has not yet missed enough to be failed). A trial left RUNNING by an
    autotl from before heartbeats can never be judged, so it holds nothing: nobody waits on it."""
    return [
        t
        for t in study.get_trials(deepcopy=False)
        if t.user_attrs.get("key")
        and (
            (t.state.is_finished() and "row" in t.user_attrs)
            or (t.state == TrialState.RUNNING and "heartbeat_s" in t.user_attrs)
        )
    ]


def claimed_keys(study: optuna.Study) -> set[TrialKey]:
    return {TrialKey.from_json(t.user_attrs["key"]) for t in claims(study)}


def taken_up(study: optuna.Study, rows: list[Row], labels: set[str], mine: bool) -> list[Row]:
    """The rows of the study's finished trials that ``rows`` lack (of candidates in ``labels``);
    ``mine``: those are from an earlier run, not from another process sharing the study now."""
    listed = {r.trial for r in rows if r.trial is not None}
    added = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state.is_finished() and "row" in trial.user_attrs and trial.number not in listed:
            row = Row(**trial.user_attrs["row"])
            if row.candidate not in labels:
                continue
            origin = "from an earlier run of this study" if mine else "by another process sharing this study"
            row.reason = "; ".join(filter(None, (row.reason, origin)))
            added.append(row)
    return added


def resume(
    study: optuna.Study,
    rows: list[Row],
    labels: set[str],
    name: str,
    progress: Callable[[str], None],
    mine: bool = True,
) -> tuple[list[Row], set[TrialKey]]:
    """Takes up what an earlier process left in a study of the same name (``mine``), or what the
    processes running it did so far: its finished trials' rows join the leaderboard and are not
    run again; trials whose process stopped sending heartbeats are failed and queued again.
    Returns those rows and the settings finished or being run, which this process leaves alone."""
    fail_stale(study)
    taken = taken_up(study, rows, labels, mine=mine)
    if taken:
        origin = "from an earlier run" if mine else "that other processes finished"
        progress(f"Study {name}: {len(taken)} finished trial(s) taken up, {origin}")
    return taken, claimed_keys(study)
