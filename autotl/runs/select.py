"""The ``select`` run: the whole flow within a budget, logged as one MLflow run with a nested
run per trial, its workers beside it."""

import time
from dataclasses import asdict, astuple, replace
from functools import partial
from pathlib import Path
from typing import Callable

import mlflow
import torch

from autotl import reports, tracking
from autotl.contracts.data import Dataset
from autotl.contracts.options import SelectOptions
from autotl.data.frames import in_memory
from autotl.data.profile import profile
from autotl.errors import AutotlError
from autotl.processes import this_process
from autotl.progress import lines
from autotl.registry import LeftOut, summarise_left_out
from autotl.runs.local_workers import gpu_devices, local_workers, worker_command, worker_environment
from autotl.runs.result import Result
from autotl.runs.setup import cache_outside, checked_storage, checked_study, prepare, remote_code
from autotl.runs.train import train_command
from autotl.selection.budget import Budget, parse_budget
from autotl.selection.folds import folds
from autotl.selection.leaderboard import Row, RowState, format_leaderboard, leaderboard
from autotl.selection.selector import Selection, Selector
from autotl.selection.study import heartbeat_seconds
from autotl.training.classifier import save
from autotl.training.metrics import recall_by_class

START_UP_WORTH_SAYING = 0.1
"""The share of the budget that starting up (imports, reading the data, building the candidates)
must take before the first line says so: on a busy machine it can take half of a short budget."""


def keep_for_closing(budget: "Budget", experiment_id: str, opening: float) -> None:
    """Keeps time for logging the result: the ``opening`` of this run on the store scaled by how
    much longer than its opening the last select's closing took there (the machine's load now is
    in the opening), or the opening itself before the first. Both go to the run, not the terminal."""
    ratio = tracking.closing_per_opening(experiment_id)
    budget.keep_for_closing(opening * (1.0 if ratio is None else ratio))
    mlflow.log_metrics({tracking.OPENING_METRIC: opening, "closing_kept_s": budget.closing})


def select_with(
    data: str | Path,
    options: SelectOptions,
    progress: Callable[[str], None] = lines,
    clock: Callable[[], float] = time.monotonic,
    spent: float = 0.0,
) -> Result:
    """Scores every candidate on frozen features, probes every source and runs a proven portfolio,
    searches the rest within ``budget`` (the wall time of the whole call), decides under noise,
    refits the winner on train+val (or keeps its trial's model when that refit no longer fits),
    and reports it beside the no-transfer baselines. ``spent``: the seconds of the budget that the
    command spent before this call, its start-up."""

    clock_budget = Budget(parse_budget(options.budget), clock, spent)
    gpus = gpu_devices(options.gpus) if options.gpus else []
    if len(gpus) > 1 and in_memory(data):
        raise AutotlError(
            "gpus: data given as a DataFrame or lists stays in this process, where workers cannot read it; write it "
            "to a CSV (or a folder of images) and give its path"
        )
    if gpus:
        options = replace(options, device=gpus[0])
    setup = prepare(data, options, options.candidate_names, transfer_only=True, progress=progress)
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
    cache = cache_outside(options.cache_dir, dataset.path)
    storage = checked_storage(options.storage) if options.storage else tracking.default_study_storage(uri)
    heartbeat_seconds()  # a usage error now, not after the scoring
    study = options.study or f"autotl-{dataset.path.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    checked_study(study)
    if options.cv:
        folds(dataset, options.cv, seed)  # a usage error now, before any run starts
    options = replace(options, storage=storage, study=study)  # what selection and its workers share
    workers = [worker_command(options, device, clock_budget.seconds) for device in gpus[1:]]
    tracking_started = clock_budget.elapsed()
    stale = tracking.kill_stale_runs(uri, options.experiment, study)
    if stale:
        progress(f"Study {study}: {stale} run(s) left RUNNING by an earlier process marked KILLED")
    starting = clock_budget.elapsed()
    progress(
        f"Selecting among {len(candidates)} candidates for {len(dataset.splits['train'])} {dataset.modality} "
        f"examples within {clock_budget.seconds:.0f}s ({target_device}"
        + (
            f"; {starting:.0f}s of it went on starting up"
            if starting > START_UP_WORTH_SAYING * clock_budget.seconds
            else ""
        )
        + ")"
    )
    with (
        local_workers(workers, progress, worker_environment(storage, uri)),
        tracking.tracked_run(uri, options.experiment, f"select {dataset.path.name}") as run,
        remote_code(options),
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
        keep_for_closing(clock_budget, run.info.experiment_id, clock_budget.elapsed() - tracking_started)
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
        board, table = leaderboard_of(selection, left_out, metric)
        baselines = [asdict(b) for b in selection.baselines]
        model_uri = log_outcome(selection, selector, dataset, options, board, table, baselines)
        chosen = selection.chosen
        result = Result(
            **chosen_model(selection, selector, data, options),
            metric=metric,
            val_metric=chosen.val_metric,
            test_metric=selection.test_metric,
            test_accuracy=selection.test_accuracy,
            run_id=run.info.run_id,
            model_uri=model_uri,
            elapsed_s=clock_budget.elapsed(),
            baseline_test_accuracy=best_baseline(baselines),
            baselines=baselines,
            decision=selection.decision,
            val_se=chosen.val_se,
            final_note=selection.final_note,
            budget_s=clock_budget.seconds,
            leaderboard=board,
            exhausted=selection.exhausted,
            calibration=asdict(selection.calibration) if selection.calibration else None,
            expected_accuracy=asdict(selection.expected) if selection.expected else None,
            advice=selection.advice,
            class_recall=recall_by_class(
                [dataset.classes.index(e.label) for e in dataset.splits["test"]],
                selection.test_predictions,
                dataset.classes,
            ),
            leaderboard_text=table,
            tracking_uri=uri,
        )
        tracking.log_result(run.info.run_id, result.to_dict())
        mlflow.log_metric(tracking.CLOSING_METRIC, clock_budget.elapsed() - closing_started)
    if selection.exhausted:
        progress("The search space was exhausted before the budget ran out.")
    return result


def leaderboard_of(selection: Selection, left_out: list[LeftOut], metric: str) -> tuple[list[dict], str]:
    """The leaderboard's rows, the left-out candidates' among them, and its plain-text table, with
    the left-out ones said by reason, which the MLflow run keeps."""
    rows = selection.rows + [
        Row(str(item.what), *astuple(item.what), state=RowState.LEFT_OUT, reason=item.reason) for item in left_out
    ]
    board = leaderboard(rows)
    table = format_leaderboard([row for row in board if row["state"] != RowState.LEFT_OUT], metric)
    if left_out:
        table += f"\n\nLeft out ({len(left_out)}):\n" + "\n".join(
            f"  - {line}" for line in summarise_left_out(left_out)
        )
    return board, table


def log_outcome(
    selection: Selection,
    selector: Selector,
    dataset: Dataset,
    options: SelectOptions,
    board: list[dict],
    table: str,
    baselines: list[dict],
) -> str:
    """Logs the final model, the leaderboard, the search's figures, the test and baselines'
    metrics and the choice's tags in the select run; returns the model's URI."""
    metric = options.metric
    mlflow.log_text(table, "leaderboard.txt")
    mlflow.log_dict({"leaderboard": board}, "leaderboard.json")
    if selection.classical_won:
        model_uri = tracking.log_model(selection.classical.model.save, dataset, options.register)
    elif selection.ensemble is not None:
        model_uri = tracking.log_model(selection.ensemble.save, dataset, options.register)
        reports.log_calibration(selection.calibration)
    else:
        final = selection.final_job
        model_uri = tracking.log_model(
            partial(save, selection.final.classifier, final.source, dataset.classes, final.record()),
            dataset,
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
    metrics = {
        f"test_{metric}": selection.test_metric,
        "test_accuracy": selection.test_accuracy,
        f"val_{metric}": selection.chosen.val_metric,
    }
    best = best_baseline(baselines)
    if best is not None:
        metrics["baseline_test_accuracy"] = best
    mlflow.log_metrics(metrics)
    mlflow.log_dict({"baselines": baselines}, "baselines.json")
    mlflow.set_tags(
        {
            "autotl.choice": selection.chosen.candidate,
            "autotl.exhausted": str(selection.exhausted),
            "autotl.decision": selection.decision[:5000],
            "autotl.final_model": final_model_kind(selection),
        }
    )
    return model_uri


def final_model_kind(selection: Selection) -> str:
    if selection.classical_won:
        return "classical baseline"
    if selection.ensemble is not None:
        return "ensemble"
    return "trial" if selection.final_note else "refit on train+val"


def best_baseline(baselines: list[dict]) -> float | None:
    """The best test accuracy among the no-transfer baselines that trained."""
    trained = [b["test_accuracy"] for b in baselines if b["test_accuracy"] is not None]
    return max(trained) if trained else None


def chosen_model(selection: Selection, selector: Selector, data, options: SelectOptions) -> dict:
    """The ``Result`` fields that name the final model: its candidate, settings and epochs, the
    ``autotl train`` line that reproduces it, and an ensemble's members."""
    chosen = selection.chosen
    if selection.classical_won:
        model = selection.classical.model.description
        return dict(
            source=None, strategy="classical", regularizer=None, params={"model": model}, train_command="", best_epoch=1
        )
    if selection.ensemble is not None:
        members = [{"candidate": m.name, "weight": m.weight} for m in selection.ensemble.members]
        params = {"model": selection.ensemble.description}
        return dict(
            source=None,
            strategy="ensemble",
            regularizer=None,
            params=params,
            train_command="",
            best_epoch=1,
            members=members,
        )
    params = {k: v for k, v in chosen.params.items() if k != "best_epoch"}
    if "epochs" in params:
        params["epochs"] = chosen.params["best_epoch"]
    return dict(
        source=chosen.source,
        strategy=chosen.strategy,
        regularizer=chosen.regularizer,
        params=params,
        train_command=train_command(data, selector.trials.candidate(chosen.candidate), params, options),
        best_epoch=chosen.params["best_epoch"],
    )
