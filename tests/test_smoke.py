"""One real process per command, as a user runs them."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from PIL import Image

from fakes import save_fake_checkpoint
from test_train_predict import install_tiny_plugin


def tiny_env(tmp_path: Path) -> dict[str, str]:
    """A process environment in which the tiny source is an installed plugin, with its cache in
    tmp_path and the default tracking store (``./mlruns`` in the process's folder)."""
    env = {**install_tiny_plugin(tmp_path / "site"), "AUTOTL_TINY_CHECKPOINT": str(save_fake_checkpoint(tmp_path / "tiny.pt")),
           "AUTOTL_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def autotl(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotl", *map(str, args)], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def test_help_and_version():
    assert "inspect" in autotl("--help").stdout
    assert autotl("--version").stdout.startswith("autotl ")


def test_inspect(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (5, 5), (i * 40, 0, 0)).save(tmp_path / label / f"{i}.png")
    result = autotl("inspect", "--data", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "6 examples in 2 classes" in result.stdout


def test_inspect_bad_input_exits_2():
    result = autotl("inspect", "--data", "/no/such/place")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: /no/such/place does not exist")


def test_plugins():
    result = autotl("plugins", "--json")
    assert result.returncode == 0
    assert "autotl.data.images" in [p["name"] for p in json.loads(result.stdout)["plugins"]]


def test_models():
    result = autotl("models", "--json")
    assert result.returncode == 0
    assert "models" in json.loads(result.stdout)


def test_train_then_predict(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    trained = autotl("train", "--data", colour_images, "--model", "tiny", "--strategy", "mlp_probe", "--set", "epochs=2", "--json", env=env, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert "epoch 2/2" in trained.stderr
    predicted = autotl("predict", "--model", report["model_uri"], "--data", colour_images, env=env, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert "Accuracy:" in predicted.stderr


def test_train_with_a_strategy_setting_and_a_regularizer(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    trained = autotl("train", "--data", colour_images, "--model", "tiny", "--strategy", "partial_freeze", "--regularizer", "l2sp",
                     "--set", "frozen_blocks=1", "--set", "l2sp_alpha=0.1", "--set", "epochs=2", "--json", env=env, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["params"]["frozen_blocks"] == 1 and report["params"]["l2sp_alpha"] == 0.1
    assert "--set frozen_blocks=1" in report["train_command"]


def test_select(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    result = autotl("select", "--data", colour_images, "--budget", "1h", "--models", "tiny", "--strategies", "linear_probe",
                    env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Chosen: tiny + linear_probe + none" in result.stdout
    assert (tmp_path / "mlruns" / "optuna.db").is_file()


def test_cache(tmp_path):
    (tmp_path / ".autotl-cache").write_text("")  # a cache autotl made
    (tmp_path / "tiny-0123456789ab").mkdir()
    (tmp_path / "tiny-0123456789ab" / ".autotl-features").touch()
    (tmp_path / "tiny-0123456789ab" / "a.npy").write_bytes(b"0" * 2000)
    assert "0.0 MB" in autotl("cache", "info", "--cache-dir", tmp_path).stdout
    cleared = autotl("cache", "clear", "--cache-dir", tmp_path)
    assert cleared.returncode == 0 and not tmp_path.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ui_serves_the_store(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "autotl", "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200 and b"MLflow" in page.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, "the MLflow UI did not answer within 90 s"
                assert server.poll() is None, "autotl ui exited"
                time.sleep(1)
    finally:
        server.terminate()  # autotl ui became the MLflow server: the signal reaches it
        server.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # and whatever workers it started
    assert server.returncode is not None


def select_on_tiny(data: Path, tmp_path: Path, study: str) -> tuple[dict[str, str], list[str]]:
    """The environment and command of a `select` of the MLP probe's settings on the tiny source,
    in a process of its own, with its tracking store in tmp_path."""
    env = tiny_env(tmp_path)
    return env, [sys.executable, "-m", "autotl", "select", "--data", str(data), "--budget", "1h", "--models", "tiny",
                 "--strategies", "mlp_probe", "--study", study]


def test_select_killed_mid_study_resumes_with_the_same_study(colour_images, tmp_path):
    import mlflow
    import optuna

    env, command = select_on_tiny(colour_images, tmp_path, "killed")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    finished = 0
    for line in process.stderr:
        finished += "  val accuracy" in line
        if finished == 2:
            os.kill(process.pid, signal.SIGKILL)  # no chance to clean up
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    study = optuna.load_study(study_name="killed", storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
    done = [t for t in study.trials if t.state.is_finished() and "row" in t.user_attrs]  # complete or pruned, not skipped
    assert len(done) >= 2

    rerun = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "run(s) left RUNNING by an earlier process marked KILLED" in rerun.stderr
    assert f"{len(done)} finished trial(s) taken up from an earlier run" in rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["exhausted"]  # the rest of the space was searched: the budget allowed it all
    kept = [row["trial"] for row in report["leaderboard"] if row["reason"].endswith("from an earlier run of this study")]
    assert sorted(kept) == sorted(t.number for t in done)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    statuses = {run.info.status for run in client.search_runs([client.get_experiment_by_name("autotl").experiment_id])}
    assert "RUNNING" not in statuses and "KILLED" in statuses


@pytest.mark.skipif(not os.environ.get("AUTOTL_TEST_POSTGRES_URL"), reason="no PostgreSQL server: .ci/run starts one")
def test_two_processes_share_one_study_on_postgresql_and_never_run_a_trial_twice(colour_images, tmp_path):
    import optuna

    storage, study = os.environ["AUTOTL_TEST_POSTGRES_URL"], f"shared-{uuid.uuid4().hex[:8]}"
    env = tiny_env(tmp_path)
    processes = [
        subprocess.Popen([sys.executable, "-m", "autotl", "select", "--data", str(colour_images), "--budget", "1h", "--models", "tiny",
                          "--strategies", "linear_probe,mlp_probe", "--storage", storage, "--study", study, "--json",
                          "--tracking-uri", f"sqlite:///{tmp_path / f'mlflow-{n}.db'}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        for n in (1, 2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    ran = [t for t in optuna.load_study(study_name=study, storage=storage).trials if "row" in t.user_attrs]
    keys = [json.dumps(t.user_attrs["key"]) for t in ran]
    assert len(keys) == len(set(keys))  # no setting trained twice
    assert len(keys) == 1 + 3 * 9  # and every one trained once: the convex probe once, the MLP at 3 lr x 3 epochs x 3 widths
    assert len({t.user_attrs["process"] for t in ran}) == 2  # both processes did part of the work
    # Each leaderboard holds the other process's trials too: all of them for the one that ended last,
    # all but the one still running for the other.
    listed = sorted(len([row for row in json.loads(out)["leaderboard"] if row["trial"] is not None and row["state"] in ("complete", "pruned")])
                    for out, _ in outputs)
    assert listed[1] == len(keys) and listed[0] >= len(keys) - 1
    import mlflow

    from autotl.tracking import masked

    for n in (1, 2):  # the storage URL carries a password: the select runs log it masked
        client = mlflow.MlflowClient(f"sqlite:///{tmp_path / f'mlflow-{n}.db'}")
        runs = client.search_runs([client.get_experiment_by_name("autotl").experiment_id], "attributes.run_name LIKE 'select%'")
        assert [run.data.params["storage"] for run in runs] == [masked(storage)] and ":***@" in masked(storage)


def test_select_terminated_ends_its_runs_killed_and_its_trial_failed(colour_images, tmp_path):
    import mlflow
    import optuna

    env, command = select_on_tiny(colour_images, tmp_path, "terminated")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    for line in process.stderr:
        if "] Trial 2:" in line:
            process.send_signal(signal.SIGTERM)  # docker stop, Kubernetes, Slurm
            break
    process.communicate(timeout=60)
    assert process.returncode == 130  # as for Ctrl-C
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    statuses = {run.info.status for run in client.search_runs([client.get_experiment_by_name("autotl").experiment_id])}
    assert "RUNNING" not in statuses and "KILLED" in statuses
    study = optuna.load_study(study_name="terminated", storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
