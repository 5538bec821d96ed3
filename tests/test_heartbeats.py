"""A running trial is kept alive by its heartbeat, judged by the database's clock; a silent one is
failed, its setting queued again once, and a process that outlived its own trial's failure is
told so without an error. (Two real processes, one killed on "another host": test_smoke.)"""

import time

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from autotl.selection import study as studies
from autotl.selection.leaderboard import TrialKey

SPACE = {"candidate": CategoricalDistribution(["tiny + linear_probe + none", "tiny + finetune + none"])}


SILENCE = 3.5
"""Longer than the grace period of 2 beats of 1 s, by SQLite's clock, which counts whole seconds."""


@pytest.fixture
def storage(tmp_path, monkeypatch) -> optuna.storages.RDBStorage:
    monkeypatch.setenv("AUTOTL_HEARTBEAT_S", "1")
    monkeypatch.setattr(studies, "GRACE_BEATS", 2)
    return studies.open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")


@pytest.fixture
def study(storage) -> optuna.Study:
    return optuna.create_study(study_name="beats", storage=storage)


def claimed(study: optuna.Study) -> optuna.trial.Trial:
    trial = study.ask(SPACE)
    trial.set_user_attr("key", TrialKey(trial.params["candidate"], 1.0, 1.0, ()).to_json())
    return trial


def test_a_trial_that_beats_outlives_the_grace_period(storage, study):
    trial = claimed(study)
    with studies.beating(storage, study, trial):
        time.sleep(SILENCE)
        studies.fail_stale(study)
        assert study.trials[trial.number].state == TrialState.RUNNING
    assert studies.settle(study, trial, TrialState.COMPLETE, 0.9)


def test_a_silent_trial_is_failed_and_its_setting_queued_again_once(storage, study):
    trial = claimed(study)
    with studies.beating(storage, study, trial):
        pass  # the process dies here: no more beats
    time.sleep(SILENCE)
    studies.fail_stale(study)
    failed, rerun = study.trials
    assert failed.state == TrialState.FAIL and rerun.state == TrialState.WAITING
    assert rerun.user_attrs["rerun_of"] == failed.number
    assert studies.claimed_keys(study) == set()  # the setting is free for whoever asks next

    again = claimed(study)
    assert again.number == rerun.number and again.params == failed.params
    with studies.beating(storage, study, again):
        pass
    time.sleep(SILENCE)
    studies.fail_stale(study)
    assert [t.state for t in study.trials] == [
        TrialState.FAIL,
        TrialState.FAIL,
    ]  # a rerun is not rerun: it may be what kills


def test_a_process_whose_trial_was_failed_meanwhile_is_told_so_without_an_error(storage, study):
    trial = claimed(study)
    with studies.beating(storage, study, trial):
        pass
    time.sleep(SILENCE)
    studies.fail_stale(study)  # another process's view: this one went silent too long
    assert not studies.settle(study, trial, TrialState.COMPLETE, 0.9)
    assert study.trials[trial.number].state == TrialState.FAIL


@pytest.mark.parametrize(("trial_process", "select_ends"), [("host:1", "KILLED"), ("host:2", "RUNNING")])
def test_a_dead_trials_select_run_is_ended_only_when_the_same_process_ran_both(tmp_path, trial_process, select_ends):
    """A select's own trial dies with the select; a worker's trial hangs under a coordinator that lives on."""
    import mlflow

    from autotl import tracking

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    experiment = client.create_experiment("beats")
    select = client.create_run(experiment, tags={tracking.PROCESS_TAG: "host:1"}).info.run_id
    trial = client.create_run(
        experiment, tags={tracking.PROCESS_TAG: trial_process, "mlflow.parentRunId": select}
    ).info.run_id
    tracking.kill_run(trial)
    assert client.get_run(trial).info.status == "KILLED"
    assert client.get_run(select).info.status == select_ends
