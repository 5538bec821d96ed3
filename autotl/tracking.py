"""MLflow: where runs go, what each run records, and the logged model.

The embedded store is ``sqlite:///mlruns/mlflow.db`` with artifacts under
``mlruns/artifacts``; ``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` point
elsewhere.
"""

import base64
import logging
import os
import platform
import re
import tempfile
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable, Iterator

import mlflow

from autotl import __version__
from autotl.contracts.data import Dataset
from autotl.data import within
from autotl.errors import AutotlError
from autotl.processes import is_gone, this_process
from autotl.secrets import masked

PROCESS_TAG = "autotl.process"
"""The process a select run belongs to (``processes.this_process``), so that a rerun of its study
on this machine marks KILLED only a dead one's runs."""

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# A tracking server's run links would go to stdout, which --json owns.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
logging.getLogger("mlflow").setLevel(
    logging.WARNING
)  # its "creating tables" and "validating input example" lines: autotl's progress says what runs

DEFAULT_URI = "sqlite:///mlruns/mlflow.db"
PACKAGES = ("torch", "torchvision", "transformers", "mlflow", "optuna", "scikit-learn", "numpy")


def resolve_uri(uri: str | None = None, data: Path | None = None) -> str:
    """The store to use; the default one is made absolute, so a later change of directory cannot
    move it. A SQLite store (and so its artifacts) inside the ``data`` folder is refused before
    anything is written: it would become part of the data. A tracking server that does not answer
    is said now, in seconds (``reachable``)."""
    named = "--tracking-uri" if uri else "MLFLOW_TRACKING_URI"
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if uri == DEFAULT_URI:
        uri = f"sqlite:///{Path('mlruns/mlflow.db').resolve()}"
    store = sqlite_file(uri)
    if store is not None:
        if data is not None and data.is_dir() and within(store, data):
            raise AutotlError(
                f"the tracking store {store} would be inside --data {data}; run from another folder "
                "or give --tracking-uri (or MLFLOW_TRACKING_URI) outside the data"
            )
        store.parent.mkdir(parents=True, exist_ok=True)
    elif uri.startswith(("http://", "https://")):
        reachable(uri, named)
    return uri


def sqlite_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI, without its query; None for any other store."""
    from sqlalchemy.engine import make_url

    if not uri.startswith("sqlite:///"):
        return None
    return Path(make_url(uri).database)


SERVER_TIMEOUT_S = 10
"""How long a tracking server may take to answer the first request. MLflow's own requests wait
far longer (``MLFLOW_HTTP_REQUEST_TIMEOUT``, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``: minutes, to ride
out a busy server), which for a wrong address or a server that is down means minutes of silence."""


def reachable(uri: str, named: str = "--tracking-uri") -> None:
    """Refuses a tracking server that does not answer (``named``: where its URI came from): any
    HTTP answer, or a TLS handshake that MLflow's own settings may accept, counts as an answer."""
    import requests

    try:
        requests.get(_without_user_info(uri), timeout=SERVER_TIMEOUT_S)
    except requests.exceptions.SSLError:
        return
    except requests.RequestException as error:
        where = f"{named} {masked(uri)}" if named.startswith("--") else f"{named}={masked(uri)}"
        raise AutotlError(
            f"{where}: cannot reach the tracking server ({_network_reason(error)}); check the address and "
            "that the server runs"
        ) from None


def _without_user_info(uri: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _network_reason(error: Exception) -> str:
    """``Connection refused``, ``Name or service not known``, ``no answer within 10s``: the cause
    that requests wraps in three layers of exceptions."""
    import requests

    if isinstance(error, requests.Timeout):
        return f"no answer within {SERVER_TIMEOUT_S}s"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return found[-1].strip() if found else type(error).__name__


def default_study_storage(tracking_uri: str) -> str:
    """Optuna's own SQLite file beside MLflow's (both keep an alembic_version table, so not the same file)."""
    store = sqlite_file(tracking_uri)
    if store is not None:
        return f"sqlite:///{store.parent / 'optuna.db'}"
    Path("mlruns").mkdir(exist_ok=True)
    return f"sqlite:///{Path('mlruns/optuna.db').resolve()}"


def _experiment_id(name: str, uri: str) -> str:
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    store = sqlite_file(uri)
    location = (store.parent / "artifacts").as_uri() if store else None  # beside the store, wherever it is
    return mlflow.create_experiment(name, artifact_location=location)


def open_store(uri: str) -> None:
    """Opens the store, creating a new SQLite store's tables one process at a time. Processes that
    start together on a new store would otherwise each run MLflow's migrations, and all but one
    fail (``duplicate column name``); a lock file beside the store makes the others wait, then
    find the tables made."""
    import fcntl

    store = sqlite_file(uri)
    if store is None:
        return
    with open(store.with_name(store.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        mlflow.MlflowClient(uri).search_experiments(max_results=1)


@contextmanager
def tracked_run(uri: str, experiment: str, run_name: str) -> Iterator[mlflow.ActiveRun]:
    """The command's run. It ends FINISHED, FAILED on an error, or KILLED on Ctrl-C: never left RUNNING."""
    open_store(uri)
    mlflow.set_tracking_uri(uri)
    with _ended(mlflow.start_run(experiment_id=_experiment_id(experiment, uri), run_name=run_name)) as run:
        yield run


@contextmanager
def nested_run(
    run_name: str, finished_on: tuple[type[BaseException], ...] = (), parent_run_id: str | None = None
) -> Iterator[mlflow.ActiveRun]:
    """A child (a trial) of the active run, or of ``parent_run_id`` (a worker's trial, under its
    coordinator's select run), ended like ``tracked_run``; the exceptions in ``finished_on`` (a
    pruned trial) still end it FINISHED. It names its process, so that whoever finds the process
    dead ends this run alone, not a select run of another process above it."""
    parent = mlflow.active_run() or mlflow.get_run(parent_run_id)
    child = mlflow.start_run(
        run_name=run_name,
        nested=True,
        experiment_id=parent.info.experiment_id,
        parent_run_id=parent_run_id,
        tags={PROCESS_TAG: this_process()},
    )
    with _ended(child, finished_on) as run:
        yield run


@contextmanager
def _ended(run: mlflow.ActiveRun, finished_on: tuple[type[BaseException], ...] = ()) -> Iterator[mlflow.ActiveRun]:
    status = "FINISHED"
    try:
        yield run
    except finished_on:
        raise
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        mlflow.end_run(status=status)


def kill_stale_runs(uri: str, experiment: str, study: str) -> int:
    """Marks KILLED the runs of ``study`` that a hard-killed process of this machine left RUNNING
    (its select run and their trial runs); returns how many. Runs of processes still alive, and
    of other machines, are left alone: a run whose trial stopped sending heartbeats is ended by
    whichever process fails that trial (``kill_run``)."""
    open_store(uri)
    client = mlflow.MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return 0
    query = f"params.study = '{study}' and attributes.status = 'RUNNING'"
    parents = [
        run for run in client.search_runs([found.experiment_id], query) if is_gone(run.data.tags.get(PROCESS_TAG))
    ]
    children = [
        run
        for parent in parents
        for run in client.search_runs(
            [found.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}' and attributes.status = 'RUNNING'"
        )
    ]
    for run in [*children, *parents]:
        client.set_terminated(run.info.run_id, status="KILLED")
    return len(parents) + len(children)


CLOSING_METRIC = "closing_s"
"""Logged on each select run: the seconds its closing took (the model, the leaderboard, the
figures, the result's facts)."""
OPENING_METRIC = "opening_s"
"""Logged on each select run: the seconds that opening it on the store took."""


def closing_per_opening(experiment_id: str) -> float | None:
    """How long the latest select run's closing took for each second of its opening, in this
    experiment (the same store, most often the same machine): both touch the same store, so the
    ratio carries over to a machine busier or quieter now. None before the first such run."""
    found = mlflow.MlflowClient().search_runs(
        [experiment_id],
        f"metrics.{CLOSING_METRIC} >= 0 and metrics.{OPENING_METRIC} > 0",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not found:
        return None
    metrics = found[0].data.metrics
    return metrics[CLOSING_METRIC] / metrics[OPENING_METRIC]


def kill_run(run_id: str) -> None:
    """Marks KILLED a trial's run whose process is gone, and the select run above it when that is
    the same process's (a worker's trial hangs under its coordinator's run, which lives on). A run
    this process's store does not hold (each process may track to its own) is not its to end."""
    client = mlflow.MlflowClient()
    try:
        run = client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return
    parent_id = run.data.tags.get("mlflow.parentRunId")
    parent = parent_id and client.get_run(parent_id)
    process = run.data.tags.get(PROCESS_TAG)
    if parent and process and parent.data.tags.get(PROCESS_TAG) != process:
        parent = None
    for ended in filter(None, (run, parent)):
        if ended.info.status == "RUNNING":
            client.set_terminated(ended.info.run_id, status="KILLED")


def log_environment(seed: int) -> None:
    mlflow.log_param("seed", seed)
    versions = {"autotl": __version__, "python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    mlflow.set_tags({f"version.{name}": value for name, value in versions.items()})


def log_dataset(dataset, report: dict) -> None:
    """The profile, and the split as a CSV (input, label, split) so it can be reproduced."""
    import pandas as pd

    mlflow.log_dict(report, "data/profile.json")
    rows = [(e.input, e.label, split) for split, examples in dataset.splits.items() for e in examples]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "split.csv"
        pd.DataFrame(rows, columns=["input", "label", "split"]).to_csv(path, index=False)
        mlflow.log_artifact(str(path), "data")
    mlflow.log_params(
        {"data.path": str(dataset.path), "data.modality": dataset.modality, "data.classes": len(dataset.classes)}
    )


RESULT_FILE = "autotl-result.json"


def log_result(run_id: str, facts: dict) -> None:
    """The run's ``--json`` facts beside its model, which ``autotl.load("runs:/...")`` reads back."""
    mlflow.MlflowClient().log_dict(run_id, facts, RESULT_FILE)


def serving_example(dataset: Dataset) -> list[str]:
    """Three test texts, or the first test image's bytes in base64 (one: images weigh more)."""
    inputs = [e.input for e in dataset.splits["test"]]
    if dataset.modality != "image":
        return inputs[:3]
    return [base64.b64encode(Path(inputs[0]).read_bytes()).decode("ascii")]


def log_model(write_bundle: Callable[[Path], Path], dataset: Dataset, register: str | None = None) -> str:
    """Logs a model as an MLflow pyfunc whose bundle (``write_bundle(folder)``: weights or arrays,
    labels and preprocessing) is all it holds: ``autotl.logged_model`` is its loader module, so
    loading it imports installed code and unpickles nothing. Its input example is what a server
    takes: test texts, or a test image's bytes in base64 (a served model reads no path). Returns
    its runs:/ URI, or its models:/NAME/VERSION URI once ``register`` puts it in the model registry."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    signature = ModelSignature(
        inputs=Schema([ColSpec("string")]),
        outputs=Schema([ColSpec("string", "prediction"), ColSpec("double", "confidence")]),
    )
    with tempfile.TemporaryDirectory() as folder:
        mlflow.pyfunc.log_model(
            name="model",
            loader_module="autotl.logged_model",
            data_path=str(write_bundle(Path(folder) / "bundle")),
            signature=signature,
            input_example=serving_example(dataset),
            pip_requirements=[f"autotl=={__version__}", f"torch=={version('torch')}", f"mlflow=={version('mlflow')}"],
        )
    uri = f"runs:/{mlflow.active_run().info.run_id}/model"
    if register:
        registered = mlflow.register_model(uri, register)
        return f"models:/{registered.name}/{registered.version}"
    return uri
