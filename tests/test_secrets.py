"""No credential is shown, logged or tagged: ``tracking.masked`` is the one helper, fed here every
form a URI carries one in, and the commands that take a URI never print, log or tag it unmasked."""

import json
import time
from pathlib import Path

import pytest

from autotl.tracking import masked

SECRET = "RRpw"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("http://bob:RRpw@127.0.0.1:1", "http://bob:***@127.0.0.1:1"),
        ("https://bob:RRpw@mlflow.example:5000/path", "https://bob:***@mlflow.example:5000/path"),
        ("https://RRpw@mlflow.example/", "https://***@mlflow.example/"),  # a token as the user-info
        ("postgresql://alice:RRpw@db.example:5432/optuna", "postgresql://alice:***@db.example:5432/optuna"),
        ("postgresql+psycopg://alice:RRpw@db/optuna", "postgresql+psycopg://alice:***@db/optuna"),
        (
            "postgresql://127.0.0.1:1/optuna?user=alice&password=RRpw",
            "postgresql://127.0.0.1:1/optuna?user=alice&password=***",
        ),
        ("postgresql://db/optuna?passwd=RRpw&sslmode=require", "postgresql://db/optuna?passwd=***&sslmode=require"),
        ("mysql://db/x?ssl=1&Password=RRpw", "mysql://db/x?ssl=1&Password=***"),
        ("postgresql://db/x?sslpassword=RRpw", "postgresql://db/x?sslpassword=***"),
        (
            "https://mirror.example/x?token=RRpw&api_key=RRpw&client_secret=RRpw&X-Amz-Signature=RRpw&sig=RRpw",
            "https://mirror.example/x?token=***&api_key=***&client_secret=***&X-Amz-Signature=***&sig=***",
        ),
        ("postgresql://bob:RR%40pw%3A1@db/x", "postgresql://bob:***@db/x"),  # percent-encoded password
        ("postgresql://db/x?pass%77ord=RRpw", "postgresql://db/x?pass%77ord=***"),  # percent-encoded name
        ("postgresql://db/x?password=RRpw%26a%3Db", "postgresql://db/x?password=***"),  # percent-encoded value
        ("postgresql://bob:RR@p/w@db:5432/x", "postgresql://bob:***@db:5432/x"),  # '@' and '/' left raw
        ("Driver={PostgreSQL};Server=db;Uid=bob;Pwd=RRpw;", "Driver={PostgreSQL};Server=db;Uid=bob;Pwd=***;"),
        ("sqlite:///mlruns/optuna.db", "sqlite:///mlruns/optuna.db"),  # no host: nothing to hide
        ("sqlite:////tmp/a@b/mlflow.db", "sqlite:////tmp/a@b/mlflow.db"),
        ("sqlite:////tmp/mlflow.db?password=RRpw", "sqlite:////tmp/mlflow.db?password=***"),
        ("file:///home/me/mlruns", "file:///home/me/mlruns"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://huggingface.co/gpt2", "https://huggingface.co/gpt2"),
        ("runs:/0123/model", "runs:/0123/model"),
        (
            "API request to http://bob:RRpw@127.0.0.1:1/api/2.0/mlflow/runs/get failed",
            "API request to http://bob:***@127.0.0.1:1/api/2.0/mlflow/runs/get failed",
        ),
        (
            "--storage 'postgresql://a:RRpw@h/x' or 'mysql://h/y?password=RRpw'",
            "--storage 'postgresql://a:***@h/x' or 'mysql://h/y?password=***'",
        ),
    ],
)
def test_the_one_helper_masks_every_form_a_uri_carries_a_secret_in(given, shown):
    assert masked(given) == shown
    assert masked(shown) == shown  # masking twice changes nothing
    assert SECRET not in masked(given)


def test_settings_whose_names_merely_contain_a_secret_word_are_shown():
    assert masked("--set max_tokens=256 --set tokenizer=fast") == "--set max_tokens=256 --set tokenizer=fast"


def one_line_without_the_secret(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert SECRET not in result.output
    return lines[0]


STORAGES = [
    "postgresql://127.0.0.1:1/optuna?user=alice&password=RRpw",
    "postgresql://alice:RRpw@127.0.0.1:1/optuna",
    "postgresql://RRpw@127.0.0.1:1/optuna",
    "postgresql://127.0.0.1:1/optuna?sslpassword=RRpw",
    "postgresql://alice:RRpw@127.0.0.1:abc/optuna",
    "nosuchdb://alice:RRpw@db.example/x?password=RRpw",
]


@pytest.mark.parametrize("storage", STORAGES)
def test_a_worker_never_shows_the_storage_password(cli, storage):
    pytest.importorskip("psycopg")
    line = one_line_without_the_secret(cli("worker", "--study", "s", "--storage", storage, "--wait", "1s"))
    assert line.startswith("Error: --storage ")


TRACKING_URIS = ["http://bob:RRpw@127.0.0.1:1", "http://RRpw@127.0.0.1:1/", "http://127.0.0.1:1/?token=RRpw"]


@pytest.mark.parametrize("uri", TRACKING_URIS)
def test_an_unreachable_tracking_server_is_one_line_in_seconds_without_its_password(cli, text_file, uri):
    rows = [["text", "label"], ["good day", "a"], ["bad day", "b"]]
    started = time.monotonic()
    result = cli("predict", "--model", "runs:/0123456789abcdef/model", "--data", text_file(rows), "--tracking-uri", uri)
    line = one_line_without_the_secret(result)
    assert time.monotonic() - started < 30
    assert f"--tracking-uri {masked(uri)}: cannot reach the tracking server" in line


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ui_announces_the_store_without_its_password_and_puts_it_on_no_command_line(cli, tmp_path, monkeypatch):
    import os

    store = f"sqlite:///{tmp_path / 'mlflow.db'}?password=RRpw"
    started: dict = {}

    def exec_mlflow(path, arguments, environment=None):
        started.update(arguments=arguments, environment=environment or os.environ)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execve", exec_mlflow)
    monkeypatch.setattr(os, "execv", exec_mlflow)
    result = cli("ui", "--tracking-uri", store, "--port", free_port())
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output and masked(store) in result.stderr
    assert not any(SECRET in argument for argument in started["arguments"])
    assert started["environment"]["MLFLOW_BACKEND_STORE_URI"] == store


def test_a_select_logs_tags_and_prints_no_password_of_its_store_or_study(cli, tiny, colour_images, tmp_path):
    """sqlite takes a password only in the query (ignored there): the forms a select can run with offline."""
    import mlflow
    import optuna

    tracking_uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}?password=RRpw"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}?user=alice&password=RRpw"
    result = cli(
        *["select", "--data", colour_images, "--models", "tiny", "--strategies", "linear_probe", "--budget", "1h"],
        *["--tracking-uri", tracking_uri, "--storage", storage, "--study", "secrets", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("autotl")
    runs = client.search_runs([experiment.experiment_id])
    assert runs
    for run in runs:
        assert SECRET not in json.dumps(run.data.params) and SECRET not in json.dumps(run.data.tags)
    [select] = [run for run in runs if run.info.run_name.startswith("select")]
    assert select.data.params["storage"] == masked(storage)
    artifacts = Path(experiment.artifact_location.removeprefix("file://"))
    for path in artifacts.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".json", ".csv", ".yaml", ".html", ""):
            assert SECRET not in path.read_text(errors="replace"), path
    study = optuna.load_study(study_name="secrets", storage=storage)
    assert SECRET not in json.dumps(study.user_attrs, default=str)
