"""The ``worker`` run: trials of a study that a ``select`` coordinates, from another process or
machine, through the shared Optuna storage and MLflow tracking server."""

import os
import time
from dataclasses import dataclass, field
from typing import Callable

import mlflow
import torch

from autotl import tracking
from autotl.contracts.options import SelectOptions, WorkerOptions
from autotl.errors import AutotlError
from autotl.progress import lines
from autotl.runs.setup import cache_outside, checked_storage, checked_study, prepare, remote_code
from autotl.selection.budget import parse_budget
from autotl.selection.coordination import splits_digest
from autotl.selection.joining import Deadline, wait_for_coordinator, work
from autotl.selection.study import heartbeat_seconds
from autotl.selection.trials import Trials
from autotl.training.device import resolve_device


@dataclass
class WorkerReport:
    study: str
    trials: dict[str, int] = field(default_factory=dict)
    """How many of this worker's trials ended in each state (complete, pruned, failed)."""
    elapsed_s: float = 0.0


def work_with(options: WorkerOptions, progress: Callable[[str], None] = lines) -> WorkerReport:
    """Waits for a select to coordinate ``options.study``, then runs its trials until it closes
    the study, the settings run out, or no trial fits before its deadline."""
    started = time.monotonic()
    resolve_device(options.device)  # a usage error now, as train gives it, not after the wait
    study = checked_study(options.study)
    storage = checked_storage(options.storage)
    heartbeat_seconds()  # a usage error now, not after the wait
    plan, seconds_left = wait_for_coordinator(storage, study, parse_budget(options.wait, "--wait"), progress)
    uri = _tracking_uri(options.tracking_uri, plan.tracking_uri)
    chosen = SelectOptions(
        **plan.options,
        device=options.device,
        cache_dir=options.cache_dir,
        storage=storage,
        study=study,
        tracking_uri=uri,
        trust_remote_code=options.trust_remote_code,
    )
    data = options.data or plan.data
    setup = prepare(data, chosen, chosen.candidate_names, transfer_only=True)
    if splits_digest(setup.dataset) != plan.splits:
        raise AutotlError(
            f"--data {data}: not the examples the coordinator split (its data is {plan.data}); give --data the "
            "same dataset as this machine sees it"
        )
    torch.manual_seed(chosen.seed)
    mlflow.set_tracking_uri(tracking.resolve_uri(uri))
    trials = Trials(
        setup.dataset,
        setup.candidates,
        Deadline(plan.budget_s),
        chosen,
        device=setup.device,
        cache=cache_outside(options.cache_dir, setup.dataset.path),
        progress=progress,
        source_data=setup.source_data,
    )
    progress(
        f"Worker on study {study} ({setup.device}): {len(setup.candidates)} candidates, trials end within "
        f"{seconds_left:.0f}s"
    )
    with remote_code(chosen):
        states = work(trials, chosen, plan, seconds_left)
    ran = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
    progress(f"Worker done: trials run here: {ran}")
    return WorkerReport(study, states, time.monotonic() - started)


def _tracking_uri(given: str | None, coordinators: str) -> str:
    """The worker's own URI, else MLFLOW_TRACKING_URI, else the coordinator's when the study holds it whole."""
    uri = given or os.environ.get("MLFLOW_TRACKING_URI") or coordinators
    if "***" in uri:
        raise AutotlError(
            f"the coordinator tracks to {uri}, whose password the study does not hold: give --tracking-uri "
            "(or MLFLOW_TRACKING_URI) with it"
        )
    return uri
