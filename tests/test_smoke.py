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
from fakes import save_fake_checkpoint
from PIL import Image
from test_train_predict import install_tiny_plugin


def tiny_env(tmp_path: Path) -> dict[str, str]:
    """A process environment in which the tiny source is an installed plugin, with its cache in
    tmp_path and the default tracking store (``./mlruns`` in the process's folder)."""
    env = {
        **install_tiny_plugin(tmp_path / "site"),
        "AUTOTL_TINY_CHECKPOINT": str(save_fake_checkpoint(tmp_path / "tiny.pt")),
        "AUTOTL_CACHE_DIR": str(tmp_path / "cache"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def autotl(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autotl", *map(str, args)], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


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
    assert "autotl.builtins.data_formats.image_folder" in [p["name"] for p in json.loads(result.stdout)["plugins"]]


def test_models():
    result = autotl("models", "--json")
    assert result.returncode == 0
    assert "models" in json.loads(result.stdout)


def test_export(tmp_path):
    result = autotl("export", "--model", tmp_path / "no-model", "--format", "onnx", "--output", tmp_path / "m.onnx")
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: --model {tmp_path / 'no-model'}: give runs:/")


def test_models_pull():
    result = autotl("models", "pull", "no-such-model")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: unknown source model 'no-such-model'; `autotl models` lists them: ")


def test_train_then_predict(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    trained = autotl(
        "train",
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "mlp_probe",
        "--set",
        "epochs=2",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert "epoch 2/2" in trained.stderr
    predicted = autotl("predict", "--model", report["model_uri"], "--data", colour_images, env=env, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert "Accuracy:" in predicted.stderr


def test_train_with_a_strategy_setting_and_a_regularizer(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    trained = autotl(
        "train",
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "partial_freeze",
        "--regularizer",
        "l2sp",
        "--set",
        "frozen_blocks=1",
        "--set",
        "l2sp_alpha=0.1",
        "--set",
        "epochs=2",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["params"]["frozen_blocks"] == 1 and report["params"]["l2sp_alpha"] == 0.1
    assert "--set frozen_blocks=1" in report["train_command"]


def test_select(colour_images, tmp_path):
    env = tiny_env(tmp_path)
    result = autotl(
        "select",
        "--data",
        colour_images,
        "--budget",
        "1h",
        "--models",
        "tiny",
        "--strategies",
        "linear_probe",
        env=env,
        cwd=tmp_path,
    )
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
        [
            sys.executable,
            "-m",
            "autotl",
            "ui",
            "--port",
            str(port),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
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
    return env, [
        sys.executable,
        "-m",
        "autotl",
        "select",
        "--data",
        str(data),
        "--budget",
        "1h",
        "--models",
        "tiny",
        "--strategies",
        "mlp_probe",
        "--study",
        study,
    ]


HANGS_IN_ITS_SECOND_TRIAL = """
import socket, sys, time
socket.gethostname = lambda: "another-host"  # its owner tags name a machine the survivor cannot look at
from autotl.selection import trials
scored, calls = trials.scored_folds, []
def hang(fits):  # inside a trial's MLflow run, after its training: the trial is RUNNING and beating
    calls.append(fits)
    if len(calls) == 2:
        print("hanging in a trial", file=sys.stderr, flush=True)
        time.sleep(3600)
    return scored(fits)
trials.scored_folds = hang
from autotl.cli import main
main()
"""


@pytest.mark.skipif(not os.environ.get("AUTOTL_TEST_POSTGRES_URL"), reason="no PostgreSQL server: .ci/run starts one")
def test_a_process_killed_mid_trial_on_another_host_has_its_trial_failed_and_rerun_by_the_survivor(
    colour_images, tmp_path
):
    """Two selects share one study on PostgreSQL and one MLflow store. One, which names another
    machine in its owner tags, is SIGKILLed mid-trial: its heartbeats stop, and after the grace
    period (6 beats of 1 s here) the survivor fails that trial, ends its runs KILLED and reruns
    its setting. No setting is trained twice otherwise, and nothing is left RUNNING."""
    import mlflow
    import optuna

    from autotl.tracking import masked

    storage, study = os.environ["AUTOTL_TEST_POSTGRES_URL"], f"shared-{uuid.uuid4().hex[:8]}"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**tiny_env(tmp_path), "AUTOTL_HEARTBEAT_S": "1"}
    mlflow.MlflowClient(store).search_experiments()  # the store's tables made once: two processes would race to
    arguments = [
        "select",
        "--data",
        str(colour_images),
        "--budget",
        "1h",
        "--models",
        "tiny",
        "--strategies",
        "linear_probe,mlp_probe",
        "--storage",
        storage,
        "--study",
        study,
        "--tracking-uri",
        store,
    ]
    doomed = subprocess.Popen(
        [sys.executable, "-c", HANGS_IN_ITS_SECOND_TRIAL, *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    next(line for line in doomed.stderr if line.startswith("hanging in a trial"))
    survivor = subprocess.Popen(
        [sys.executable, "-m", "autotl", *arguments, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    said = []
    for line in survivor.stderr:  # the survivor at work on the study beside the doomed process
        said.append(line)
        if "] Trial " in line:
            doomed.kill()  # SIGKILL, mid-trial: no chance to clean up
            break
    assert doomed.wait(timeout=60) == -signal.SIGKILL
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, "".join(said) + err[-3000:]

    trials = optuna.load_study(study_name=study, storage=storage).trials
    assert not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    [stale] = [
        t
        for t in trials
        if t.user_attrs.get("process", "").startswith("another-host:")
        and "row" not in t.user_attrs
        and "key" in t.user_attrs
    ]
    assert stale.state == optuna.trial.TrialState.FAIL
    [rerun] = [t for t in trials if t.user_attrs.get("rerun_of") == stale.number and "row" in t.user_attrs]
    assert rerun.user_attrs["key"] == stale.user_attrs["key"] and not rerun.user_attrs["process"].startswith(
        "another-host:"
    )
    ran = [json.dumps(t.user_attrs["key"]) for t in trials if "row" in t.user_attrs]
    assert (
        len(ran) == len(set(ran)) == 1 + 3 * 9
    )  # every setting trained once to the end: the convex probe, the MLP's 3 lr x 3 epochs x 3 widths
    assert {t.user_attrs["process"].split(":")[0] for t in trials if "row" in t.user_attrs} == {
        "another-host",
        socket.gethostname(),
    }
    report = json.loads(out)
    assert report["exhausted"]
    [reason] = [row["reason"] for row in report["leaderboard"] if row["trial"] == rerun.number]
    assert reason.startswith(f"rerun of trial {stale.number}, whose process stopped sending heartbeats")
    assert len(
        [row for row in report["leaderboard"] if row["trial"] is not None and row["state"] in ("complete", "pruned")]
    ) == len(ran)

    client = mlflow.MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("autotl").experiment_id])
    assert "RUNNING" not in {run.info.status for run in runs}
    status = {run.info.run_id: run.info.status for run in runs}
    assert (
        status[stale.user_attrs["run_id"]] == "KILLED"
    )  # the dead trial's run, and the dead process's select run above it
    assert status[client.get_run(stale.user_attrs["run_id"]).data.tags["mlflow.parentRunId"]] == "KILLED"
    selects = [run for run in runs if run.info.run_name.startswith("select")]
    assert [run.data.params["storage"] for run in selects] == [masked(storage)] * 2 and ":***@" in masked(storage)


def test_select_terminated_ends_its_runs_killed_and_its_trial_failed(colour_images, tmp_path):
    import mlflow
    import optuna

    env, command = select_on_tiny(colour_images, tmp_path, "terminated")
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path
    )
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


@pytest.mark.skipif(
    not (os.environ.get("AUTOTL_TEST_POSTGRES_URL") and os.environ.get("AUTOTL_TEST_TRACKING_URL")),
    reason="no PostgreSQL and MLflow tracking servers: .ci/run starts them",
)
def test_a_select_coordinates_two_workers_through_postgresql_and_a_tracking_server(colour_images, tmp_path):
    """Two `autotl worker` processes wait for the study; a select opens it on PostgreSQL and
    tracks to a real MLflow server. Every setting is trained once, by the three processes; every
    trial's run hangs under the one select run; the select alone logs a model; nothing is left RUNNING."""
    import mlflow
    import optuna

    storage, tracking_url = os.environ["AUTOTL_TEST_POSTGRES_URL"], os.environ["AUTOTL_TEST_TRACKING_URL"]
    study = f"workers-{uuid.uuid4().hex[:8]}"
    env = {**tiny_env(tmp_path), "AUTOTL_HEARTBEAT_S": "1"}
    shared = ["--study", study, "--storage", storage, "--tracking-uri", tracking_url]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "autotl", "worker", *shared, "--device", "cpu", "--wait", "5m"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    coordinator = autotl(
        *["select", "--data", colour_images, "--budget", "1h", "--models", "tiny"],
        *["--strategies", "linear_probe,mlp_probe", "--experiment", study, *shared, "--json"],
        env=env,
        cwd=tmp_path,
    )
    said = [worker.communicate(timeout=120)[1] for worker in workers]
    assert coordinator.returncode == 0, coordinator.stderr[-3000:]
    assert [worker.returncode for worker in workers] == [0, 0], said

    trials = optuna.load_study(study_name=study, storage=storage).trials
    ran = [json.dumps(t.user_attrs["key"]) for t in trials if "row" in t.user_attrs]
    assert len(ran) == len(set(ran)) == 1 + 3 * 9  # the convex probe, the MLP's 3 lr x 3 epochs x 3 widths
    by_process = [t.user_attrs["process"] for t in trials if "row" in t.user_attrs]
    assert len(set(by_process)) == 3, "the select and each worker ran trials"
    for text in said:
        assert "Worker done: trials run here:" in text and "complete" in text.splitlines()[-1]
    report = json.loads(coordinator.stdout)
    assert report["exhausted"]
    assert (
        sum(row["trial"] is not None and row["state"] in ("complete", "pruned") for row in report["leaderboard"]) == 28
    )

    client = mlflow.MlflowClient(tracking_url)
    experiment = client.get_experiment_by_name(study).experiment_id
    runs = client.search_runs([experiment])
    [select] = [run for run in runs if run.info.run_name.startswith("select")]
    assert select.info.run_id == report["run_id"]
    children = [run for run in runs if run is not select]
    assert len(children) == len(ran)
    assert {run.data.tags.get("mlflow.parentRunId") for run in children} == {select.info.run_id}
    assert {run.data.tags["autotl.process"] for run in children} == set(by_process)
    assert "RUNNING" not in {run.info.status for run in runs}
    [model] = client.search_logged_models(experiment_ids=[experiment])
    assert model.source_run_id == select.info.run_id
