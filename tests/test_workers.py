"""What `select --gpus` does with its workers, shown on plain commands: their lines reach the
select's progress with a mark, and they stop when the select does, on Ctrl-C too."""

import sys

import pytest

from autotl.contracts.options import SelectOptions
from autotl.runs.local_workers import local_workers, worker_command, worker_environment

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


RACE = """
import sys, time
from pathlib import Path
from autotl import tracking
folder = Path(sys.argv[1])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.01)
uri = tracking.resolve_uri(f"sqlite:///{folder / 'mlruns' / 'mlflow.db'}")
print(tracking.kill_stale_runs(uri, "autotl", "study"))
"""


def test_two_selects_that_open_a_fresh_store_at_once_both_go_on(tmp_path):
    """What two selects started together do first: the second waits while the first creates the tables."""
    import subprocess
    import time

    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(tmp_path), str(number)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in (1, 2)
    ]
    deadline = time.monotonic() + 240
    while not all((tmp_path / f"ready-{number}").exists() for number in (1, 2)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (tmp_path / "go").touch()
    ended = [racer.communicate(timeout=240) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], [stderr[-2000:] for _, stderr in ended]


def test_the_plan_names_the_data_by_its_absolute_path_for_workers_in_other_folders(colour_images, monkeypatch):
    from pathlib import Path

    from autotl.contracts.options import RunOptions
    from autotl.data.intake import read_dataset
    from autotl.plugins import build_registry
    from autotl.selection.coordination import plan_for

    monkeypatch.chdir(colour_images.parent)
    dataset = read_dataset(Path(colour_images.name), RunOptions().intake, build_registry().items("data_formats"))
    plan = plan_for(dataset, SelectOptions(), parent_run_id="run", tracking_uri="uri", budget_s=1.0, kept_sources=[])
    assert plan.data == str(colour_images)  # absolute, as the coordinator reached it
