"""What `select --gpus` does with its workers, shown on plain commands: their lines reach the
select's progress with a mark, and they stop when the select does, on Ctrl-C too."""

import sys

import pytest

from autotl.contracts.options import SelectOptions
from autotl.worker import local_workers, worker_command, worker_environment

TALKS_THEN_WAITS = "import sys, time; print('ready', file=sys.stderr, flush=True); time.sleep(600)"


def wait_for(said: list[str], count: int) -> None:
    import time

    deadline = time.monotonic() + 60
    while len(said) < count:
        assert time.monotonic() < deadline, said
        time.sleep(0.1)


def test_workers_speak_through_the_select_and_stop_with_it():
    said: list[str] = []
    with local_workers([[sys.executable, "-c", TALKS_THEN_WAITS]] * 2, said.append):
        wait_for(said, 2)
    assert sorted(said) == ["[worker 1] ready", "[worker 2] ready"]


def test_workers_stop_when_the_select_is_interrupted():
    import psutil

    with pytest.raises(KeyboardInterrupt), local_workers([[sys.executable, "-c", TALKS_THEN_WAITS]], lambda line: None):
        children = psutil.Process().children()
        raise KeyboardInterrupt
    assert children and not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)


def test_a_worker_of_select_gpus_joins_its_study_on_its_own_gpu_with_no_password_on_its_command_line():
    options = SelectOptions(study="s", storage="postgresql://u:secret@db/optuna", cache_dir="/shared/cache")
    command = worker_command(options, "cuda:1", 900)
    assert command[1:] == [
        *["-m", "autotl", "worker", "--study", "s", "--device", "cuda:1", "--wait", "900s"],
        *["--cache-dir", "/shared/cache"],
    ]
    environment = worker_environment(options.storage, "http://u:secret@tracking:5000")
    assert environment["AUTOTL_STORAGE"] == options.storage
    assert environment["MLFLOW_TRACKING_URI"] == "http://u:secret@tracking:5000"
