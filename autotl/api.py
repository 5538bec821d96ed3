"""The Python API, for notebooks: the same results as the CLI's ``--json``, as objects."""

import shlex
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from autotl.contracts.capabilities import Capability
from autotl.contracts.data import Dataset, IntakeOptions
from autotl.contracts.options import (
    AUTO_METRIC,
    DEFAULT_BUDGET,
    RunOptions,
    SelectOptions,
    TrainOptions,
    remote_code_allowed,
)
from autotl.errors import AutotlError
from autotl.progress import bar, lines
from autotl.registry import Candidate, LeftOut, Registry, summarise_left_out

if TYPE_CHECKING:
    import torch

    from autotl.selection.budget import Budget


@dataclass
class Result:
    source: str | None
    """None when the classical no-transfer baseline won (``strategy`` is then ``classical``)."""
    strategy: str
    regularizer: str | None
    params: dict[str, Any]
    metric: str
    val_metric: float
    test_metric: float
    test_accuracy: float
    run_id: str
    model_uri: str
    elapsed_s: float
    train_command: str
    best_epoch: int
    baseline_test_accuracy: float | None = None
    """The best test accuracy among the no-transfer baselines that trained."""
    baselines: list[dict[str, Any]] = field(default_factory=list)
    """Each no-transfer baseline's name, test accuracy, or why it was not trained."""
    decision: str = ""
    """Why the winner won, under noise."""
    val_se: float | None = None
    """The standard error of ``val_metric``."""
    budget_s: float | None = None
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    final_note: str = ""
    """Empty when the chosen trial was refit on train+val; else why the model is that trial's own."""
    exhausted: bool = False
    calibration: dict[str, float] | None = None
    """The logged model's ``temperature``, fitted on held-out predictions (``fitted`` false, and
    1, when there were fewer than the minimum), and the test expected calibration error without
    it (``test_ece_before``) and with it (``test_ece_after``), on ``test_examples``."""
    expected_accuracy: dict[str, Any] | None = None
    """What to expect of the chosen model on new data: the bias-corrected estimate (``accuracy``,
    with ``low`` and ``high``, a 95 % interval), the ``examples`` and number of configurations
    (``compared``) it rests on, and the ``method``."""
    members: list[dict[str, Any]] | None = None
    """When the final model is an ensemble (``strategy`` ``ensemble``): each member and its weight."""
    advice: str = ""
    """The budget that a candidate the portfolio or the priors favour would need, when it did not run."""
    leaderboard_text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("leaderboard_text")
        return data


@dataclass
class _Setup:
    registry: "Registry"
    dataset: "Dataset"
    candidates: "list[Candidate]"
    left_out: "list[LeftOut]"
    device: "torch.device"
    source_data: "Dataset | None" = None
    metric: str = "accuracy"
    """``--metric``, with ``auto`` resolved for the data."""


def _setup(
    data,
    options: RunOptions,
    names: dict[str, Sequence[str] | None],
    transfer_only: bool = False,
    progress: Callable[[str], None] = lines,
) -> _Setup:
    """What ``train`` and ``select`` both start from; names are checked before the data is read.
    ``transfer_only``: no candidate of a no-transfer baseline strategy (``select`` runs those beside
    its choice), nor any left out."""
    from autotl.data.intake import read_dataset
    from autotl.plugins import build_registry
    from autotl.training.device import keep_freed_memory, resolve_device
    from autotl.training.metrics import METRICS

    if options.metric not in (AUTO_METRIC, *METRICS):
        raise AutotlError(f"--metric {options.metric!r} is not known: choose from {', '.join((AUTO_METRIC, *METRICS))}")
    registry = build_registry()
    chosen = {kind: registry.pick(kind, value) for kind, value in names.items()}
    if transfer_only:
        chosen["strategies"] = [strategy for strategy in chosen["strategies"] if not strategy.baseline]
    target = resolve_device(options.device)
    keep_freed_memory()
    dataset = read_dataset(data, options.intake, registry.items("data_formats"))
    source = _source_data(options.source_data, options.intake, registry, dataset.modality)
    given = frozenset({Capability.SOURCE_TASK}) if source else frozenset()
    candidates, left_out = registry.candidates(dataset.modality, **chosen, given=given)
    return _Setup(registry, dataset, candidates, left_out, target, source, _metric(options.metric, dataset, progress))


def _metric(given: str, dataset: "Dataset", progress: Callable[[str], None]) -> str:
    """``--metric auto``: accuracy, or macro-F1 on imbalanced data, where accuracy rewards
    predicting the large classes; said in one line."""
    from autotl.data.profile import IMBALANCED, imbalance_ratio

    if given != AUTO_METRIC:
        return given
    ratio = imbalance_ratio(dataset)
    if ratio <= IMBALANCED:
        return "accuracy"
    progress(
        f"Imbalanced classes (largest / smallest training class {ratio:.1f}, above {IMBALANCED}): judging by "
        "f1_macro; --metric accuracy judges by accuracy"
    )
    return "f1_macro"


def _source_data(path: str | Path | None, intake: IntakeOptions, registry: Registry, modality: str) -> "Dataset | None":
    """``--source-data``: labelled examples of a source task, in the same layouts as the target."""
    from autotl.data.intake import read_dataset

    if path is None:
        return None
    source = read_dataset(path, intake, registry.items("data_formats"))
    if source.modality != modality:
        raise AutotlError(
            f"--source-data {path}: {source.modality} data, but the target is {modality}: give source examples of "
            "the same kind"
        )
    return source


def train(
    data: str | Path,
    model: str,
    strategy: str,
    regularizer: str = "none",
    settings: dict[str, str] | None = None,
    *,
    progress: Callable[[str], None] = lines,
    **options: Any,
) -> Result:
    """The notebook form of ``autotl train``: ``options`` are any fields of
    :class:`~autotl.contracts.options.TrainOptions` (``metric``, ``seed``, ``tracking_uri``, ...)."""
    chosen = TrainOptions(model=model, strategy=strategy, regularizer=regularizer, settings=settings or {}, **options)
    return train_with(data, chosen, progress)


def train_with(data: str | Path, options: TrainOptions, progress: Callable[[str], None] = lines) -> Result:
    """Fine-tunes one source x strategy x regularizer, keeps the best validation
    epoch, evaluates once on test and logs everything to MLflow."""
    import mlflow
    import numpy as np
    import torch

    from autotl import reports, tracking
    from autotl.contracts.settings import TrainParams
    from autotl.data.profile import profile
    from autotl.training.calibration import calibrate
    from autotl.training.classifier import save
    from autotl.training.job import TrainingJob
    from autotl.training.metrics import score

    started = time.monotonic()
    model, strategy, regularizer = options.model, options.strategy, options.regularizer
    names = {"sources": [model], "strategies": [strategy], "regularizers": [regularizer]}
    setup = _setup(data, options, names, progress=progress)
    options = replace(options, metric=setup.metric)
    metric, seed = options.metric, options.seed
    dataset, target_device = setup.dataset, setup.device
    if not setup.candidates:
        raise AutotlError(f"cannot train {model} + {strategy} + {regularizer}: {setup.left_out[0].reason}")
    candidate = setup.candidates[0]
    params = TrainParams.from_strings(dict(options.settings), candidate.strategy.defaults, candidate.settings)
    if params.threads:
        torch.set_num_threads(params.threads)
    torch.manual_seed(seed)
    uri = tracking.resolve_uri(options.tracking_uri, dataset.path)
    cache = _cache_outside(options.cache_dir, dataset.path)
    progress(
        f"Training {candidate.label} on {len(dataset.splits['train'])} {dataset.modality} examples ({target_device})"
    )
    with tracking.tracked_run(uri, options.experiment, f"train {candidate.label}") as run, _remote_code(options):
        tracking.log_environment(seed)
        tracking.log_dataset(dataset, profile(dataset))
        mlflow.log_params(
            {"source": model, "strategy": strategy, "regularizer": regularizer, "metric": metric, **params.as_dict()}
        )

        def on_epoch(epoch) -> None:
            mlflow.log_metrics(
                {
                    "train_loss": epoch.train_loss,
                    f"val_{metric}": epoch.val_metric,
                    "val_accuracy": epoch.val_accuracy,
                    "val_loss": epoch.val_loss,
                },
                step=epoch.epoch,
            )
            progress(
                f"  epoch {epoch.epoch}/{params.epochs}: loss {epoch.train_loss:.4f}, val {metric} "
                f"{epoch.val_metric:.4f}"
            )
            tick()

        job = TrainingJob(
            source=candidate.source,
            regularizer=candidate.regularizer,
            classes=dataset.classes,
            splits=dataset.splits,
            params=params,
            device=target_device,
            metric=metric,
            cache=cache,
            seed=seed,
            on_epoch=on_epoch,
            source_data=setup.source_data,
        )
        with bar(progress, "epochs", params.epochs, "epochs") as tick:
            trained = candidate.strategy.train(job)
        test_labels = job.labels("test")
        test_predictions = trained.probabilities["test"].argmax(1)
        calibration = calibrate(
            trained.probabilities["val"],
            np.asarray(job.labels("val")),
            trained.probabilities["test"],
            np.asarray(test_labels),
        )
        trained.classifier.temperature = calibration.temperature
        reports.log_calibration(calibration)
        test_metric = score(metric, test_labels, test_predictions, len(dataset.classes))
        test_accuracy = score("accuracy", test_labels, test_predictions, len(dataset.classes))
        mlflow.log_metrics(
            {
                "best_epoch": trained.fit.best_epoch,
                f"best_val_{metric}": trained.fit.val_metric,
                f"test_{metric}": test_metric,
                "test_accuracy": test_accuracy,
            }
        )
        model_uri = tracking.log_model(
            partial(save, trained.classifier, candidate.source, dataset.classes, job.record()),
            job.inputs("test")[:3],
            options.register,
        )
        reports.log_training(trained.fit.history, metric, test_labels, test_predictions, dataset.classes)
        run_id = run.info.run_id
    command = _train_command(data, model, strategy, regularizer, params.as_dict(), options)
    entry = {
        "source": model,
        "strategy": strategy,
        "regularizer": regularizer,
        f"val_{metric}": trained.fit.val_metric,
        f"test_{metric}": test_metric,
    }
    return Result(
        source=model,
        strategy=strategy,
        regularizer=regularizer,
        params=params.as_dict(),
        metric=metric,
        val_metric=trained.fit.val_metric,
        test_metric=test_metric,
        test_accuracy=test_accuracy,
        run_id=run_id,
        model_uri=model_uri,
        elapsed_s=time.monotonic() - started,
        train_command=command,
        best_epoch=trained.fit.best_epoch,
        leaderboard=[entry],
        calibration=asdict(calibration),
    )


@contextmanager
def _remote_code(options: RunOptions) -> Iterator[None]:
    """``--trust-remote-code`` for this run only."""
    token = remote_code_allowed.set(options.trust_remote_code)
    try:
        yield
    finally:
        remote_code_allowed.reset(token)


def _cache_outside(cache_dir: str | Path | None, data: Path):
    """The feature cache, refused inside the data folder, where its files would become examples."""
    from autotl.data import within
    from autotl.training.features import FeatureCache

    cache = FeatureCache(Path(cache_dir) if cache_dir else None)
    if data.is_dir() and within(cache.folder, data):
        raise AutotlError(
            f"the feature cache {cache.folder} would be inside --data {data}; give --cache-dir "
            "(or AUTOTL_CACHE_DIR) outside the data"
        )
    return cache


def _check_study(name: str) -> str:
    """A study name that MLflow filters and file names take as it is."""
    import re

    if not re.fullmatch(r"[\w.:-]{1,200}", name):
        raise AutotlError(f"--study {name!r}: use letters, digits and . _ : - only (at most 200)")
    return name


def _check_storage(url: str) -> str:
    """A usage error now, rather than a traceback after the scoring, when the URL or its driver is
    wrong, the server cannot be reached, or what it names is no database."""
    import sqlalchemy
    from sqlalchemy.engine import make_url

    from autotl import tracking

    def refused(problem: str, advice: str) -> AutotlError:
        return AutotlError(f"--storage {tracking.masked(repr(url))}: {tracking.masked(problem)}; {advice}")

    try:
        engine = sqlalchemy.create_engine(make_url(url))
    except ValueError:  # make_url's int() of the port, its one ValueError
        raise refused("its port is no number", "give a URL such as postgresql://user:password@host:5432/db") from None
    except (ImportError, sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as error:
        raise refused(
            f"SQLAlchemy cannot use it ({error})",
            "give a URL such as postgresql://user:password@host/db with its driver installed (pip install "
            "'psycopg[binary]')",
        ) from None
    try:
        with engine.connect() as connection:  # reached now, before any scoring, rather than after it
            try:
                sqlalchemy.inspect(connection).get_table_names()  # a file that is no database fails here
            except sqlalchemy.exc.SQLAlchemyError as error:
                raise refused(
                    f"cannot read it as a database ({_first_line(error)})",
                    "give a new file or the database of an Optuna study",
                ) from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise refused(
            f"cannot reach it ({_first_line(error)})",
            "check the host, port, user and password, and that the server runs",
        ) from None
    finally:
        engine.dispose()
    return url


def _first_line(error: Exception) -> str:
    """The driver's own message, which SQLAlchemy wraps with the statement and a link."""
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]


def select(
    data: str | Path,
    budget: str | float = DEFAULT_BUDGET,
    *,
    progress: Callable[[str], None] = lines,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> Result:
    """The notebook form of ``autotl select``: ``options`` are any fields of
    :class:`~autotl.contracts.options.SelectOptions` (``models``, ``seed``, ``cv``, ...)."""
    return select_with(data, SelectOptions(budget=budget, **options), progress, clock)


def _keep_for_closing(budget: "Budget", experiment_id: str, opening: float, progress: Callable[[str], None]) -> None:
    """Keeps time for logging the result, priced at what the last select's logging took on this
    store, or, before the first, at what ``opening`` the run on this store took (the same store,
    and this process's first touches of it)."""
    from autotl import tracking

    measured = tracking.last_closing_seconds(experiment_id)
    expected = opening if measured is None else measured
    budget.keep_for_closing(expected)
    if budget.closing:
        basis = "opening the run took" if measured is None else "the last select's logging took"
        progress(f"Keeping {budget.closing:.1f}s for logging the result ({basis} {expected:.1f}s)")


def select_with(
    data: str | Path,
    options: SelectOptions,
    progress: Callable[[str], None] = lines,
    clock: Callable[[], float] = time.monotonic,
) -> Result:
    """Scores every candidate on frozen features, probes every source and runs a proven portfolio,
    searches the rest within ``budget`` (the wall time of the whole call), decides under noise,
    refits the winner on train+val (or keeps its trial's model when that refit no longer fits),
    and reports it beside the no-transfer baselines."""
    import mlflow
    import torch

    from autotl import reports, tracking
    from autotl.data.profile import profile
    from autotl.processes import this_process
    from autotl.selection.budget import Budget, parse_budget
    from autotl.selection.folds import folds
    from autotl.selection.leaderboard import Row, format_leaderboard, leaderboard
    from autotl.selection.selector import Selector
    from autotl.selection.study import heartbeat_seconds
    from autotl.training.classifier import save
    from autotl.worker import gpu_devices, local_workers, worker_command, worker_environment

    clock_budget = Budget(parse_budget(options.budget), clock)
    gpus = gpu_devices(options.gpus) if options.gpus else []
    if gpus:
        options = replace(options, device=gpus[0])
    setup = _setup(data, options, options.candidate_names, transfer_only=True, progress=progress)
    options = replace(options, metric=setup.metric)
    metric, seed = options.metric, options.seed
    dataset, target_device, candidates, left_out = setup.dataset, setup.device, setup.candidates, setup.left_out
    baselines = [s for s in setup.registry.items("strategies") if s.baseline]
    if not candidates:
        reasons = (
            "; ".join(f"{item.what}: {item.reason}" for item in left_out[:3])
            or "only no-transfer baseline strategies were given"
        )
        raise AutotlError(
            f"no transfer candidate can be built for this {dataset.modality} data ({reasons}); see `autotl inspect`"
        )
    torch.manual_seed(seed)
    uri = tracking.resolve_uri(options.tracking_uri, dataset.path)
    cache = _cache_outside(options.cache_dir, dataset.path)
    storage = _check_storage(options.storage) if options.storage else tracking.default_study_storage(uri)
    heartbeat_seconds()  # a usage error now, not after the scoring
    study = options.study or f"autotl-{dataset.path.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_study(study)
    if options.cv:
        folds(dataset, options.cv, seed)  # a usage error now, before any run starts
    options = replace(options, storage=storage, study=study)  # what selection and its workers share
    workers = [worker_command(options, device, clock_budget.seconds) for device in gpus[1:]]
    tracking_started = clock_budget.elapsed()
    stale = tracking.kill_stale_runs(uri, options.experiment, study)
    if stale:
        progress(f"Study {study}: {stale} run(s) left RUNNING by an earlier process marked KILLED")
    progress(
        f"Selecting among {len(candidates)} candidates for {len(dataset.splits['train'])} {dataset.modality} "
        f"examples within {clock_budget.seconds:.0f}s ({target_device})"
    )
    with (
        local_workers(workers, progress, worker_environment(storage, uri)),
        tracking.tracked_run(uri, options.experiment, f"select {dataset.path.name}") as run,
        _remote_code(options),
    ):
        tracking.log_environment(seed)
        tracking.log_dataset(dataset, profile(dataset))
        mlflow.log_params(
            {
                "budget_s": clock_budget.seconds,
                "metric": metric,
                "study": study,
                "storage": tracking.masked(storage),
                "cv": options.cv,
            }
        )
        mlflow.set_tag(tracking.PROCESS_TAG, this_process())
        if workers:
            progress(f"Started {len(workers)} worker(s) on {', '.join(gpus[1:])}; this select works on {gpus[0]}")
        _keep_for_closing(clock_budget, run.info.experiment_id, clock_budget.elapsed() - tracking_started, progress)
        selector = Selector(
            dataset,
            candidates,
            clock_budget,
            options,
            baselines=baselines,
            device=target_device,
            cache=cache,
            progress=progress,
            source_data=setup.source_data,
            scorers=setup.registry.items("scorers"),
        )
        selection = selector.run()
        closing_started = clock_budget.elapsed()
        rows = selection.rows + [
            Row(item.what, item.what.split(" + ")[0], "", "", state="left out", reason=item.reason) for item in left_out
        ]
        board = leaderboard(rows)
        table = format_leaderboard([row for row in board if row["state"] != "left out"], metric)
        if left_out:
            table += f"\n\nLeft out ({len(left_out)}):\n" + "\n".join(
                f"  - {line}" for line in summarise_left_out(left_out)
            )
        mlflow.log_text(table, "leaderboard.txt")
        mlflow.log_dict({"leaderboard": board}, "leaderboard.json")
        chosen = selection.chosen
        test_inputs = [e.input for e in dataset.splits["test"]]
        if selection.classical_won:
            model_uri = tracking.log_model(selection.classical.model.save, test_inputs[:3], options.register)
        elif selection.ensemble is not None:
            model_uri = tracking.log_model(selection.ensemble.save, test_inputs[:3], options.register)
            reports.log_calibration(selection.calibration)
        else:
            final = selection.final_job
            model_uri = tracking.log_model(
                partial(save, selection.final.classifier, final.source, dataset.classes, final.record()),
                test_inputs[:3],
                options.register,
            )
            reports.log_calibration(selection.calibration)
            reports.log_training(
                selection.final.fit.history,
                metric,
                final.labels("test"),
                selection.final.probabilities["test"].argmax(1),
                dataset.classes,
            )
        reports.log_search(selector.study, board, selector.combined, metric)
        baselines = [asdict(b) for b in selection.baselines]
        trained = [b["test_accuracy"] for b in baselines if b["test_accuracy"] is not None]
        baseline_accuracy = max(trained) if trained else None
        metrics = {
            f"test_{metric}": selection.test_metric,
            "test_accuracy": selection.test_accuracy,
            f"val_{metric}": chosen.val_metric,
        }
        if baseline_accuracy is not None:
            metrics["baseline_test_accuracy"] = baseline_accuracy
        mlflow.log_metrics(metrics)
        mlflow.log_dict({"baselines": baselines}, "baselines.json")
        mlflow.set_tags(
            {
                "autotl.choice": chosen.candidate,
                "autotl.exhausted": str(selection.exhausted),
                "autotl.decision": selection.decision[:5000],
                "autotl.final_model": "classical baseline"
                if selection.classical_won
                else "ensemble"
                if selection.ensemble is not None
                else "trial"
                if selection.final_note
                else "refit on train+val",
            }
        )
        mlflow.log_metric(tracking.CLOSING_METRIC, clock_budget.elapsed() - closing_started)
        run_id = run.info.run_id
    if selection.exhausted:
        progress("The search space was exhausted before the budget ran out.")
    members = None
    if selection.classical_won:
        params, command, best_epoch = {"model": selection.classical.model.description}, "", 1
        source, strategy, regularizer = None, "classical", None
    elif selection.ensemble is not None:
        members = [{"candidate": m.name, "weight": m.weight} for m in selection.ensemble.members]
        params, command, best_epoch = {"model": selection.ensemble.description}, "", 1
        source, strategy, regularizer = None, "ensemble", None
    else:
        params = {k: v for k, v in chosen.params.items() if k != "best_epoch"} | {"epochs": chosen.params["best_epoch"]}
        command = _train_command(data, chosen.source, chosen.strategy, chosen.regularizer, params, options)
        best_epoch, source, strategy, regularizer = (
            chosen.params["best_epoch"],
            chosen.source,
            chosen.strategy,
            chosen.regularizer,
        )
    return Result(
        source=source,
        strategy=strategy,
        regularizer=regularizer,
        params=params,
        metric=metric,
        val_metric=chosen.val_metric,
        test_metric=selection.test_metric,
        test_accuracy=selection.test_accuracy,
        run_id=run_id,
        model_uri=model_uri,
        elapsed_s=clock_budget.elapsed(),
        train_command=command,
        best_epoch=best_epoch,
        baseline_test_accuracy=baseline_accuracy,
        baselines=baselines,
        decision=selection.decision,
        val_se=chosen.val_se,
        final_note=selection.final_note,
        budget_s=clock_budget.seconds,
        leaderboard=board,
        exhausted=selection.exhausted,
        calibration=asdict(selection.calibration) if selection.calibration else None,
        expected_accuracy=asdict(selection.expected) if selection.expected else None,
        members=members,
        advice=selection.advice,
        leaderboard_text=table,
    )


def _train_command(data, model: str, strategy: str, regularizer: str, params: dict, options: RunOptions) -> str:
    words = [
        "autotl",
        "train",
        "--data",
        str(data),
        "--model",
        model,
        "--strategy",
        strategy,
        "--regularizer",
        regularizer,
    ]
    if options.source_data is not None:
        words += ["--source-data", str(options.source_data)]
    for key, value in params.items():
        words += ["--set", f"{key}={value}"]
    words += ["--metric", options.metric, "--seed", str(options.seed)]
    defaults = RunOptions()
    if options.text_column != defaults.text_column:
        words += ["--text-column", options.text_column]
    if options.label_column != defaults.label_column:
        words += ["--label-column", options.label_column]
    if options.skip_bad_files:
        words.append("--skip-bad-files")
    if options.trust_remote_code:
        words.append("--trust-remote-code")
    return shlex.join(words)
