"""``autotl worker``: trials of a study that a ``select`` coordinates, from another process or
machine, through the shared Optuna storage and MLflow tracking server; and the workers that
``select --gpus`` starts beside itself, one per further GPU."""

import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from autotl.api import _cache_outside, _check_storage, _check_study, _remote_code, _setup
from autotl.contracts.options import SelectOptions, WorkerOptions
from autotl.errors import AutotlError
from autotl.progress import lines


@dataclass
class WorkerReport:
    study: str
    trials: dict[str, int] = field(default_factory=dict)
    """How many of this worker's trials ended in each state (complete, pruned, failed)."""
    elapsed_s: float = 0.0


def work_with(options: WorkerOptions, progress: Callable[[str], None] = lines) -> WorkerReport:
    """Waits for a select to coordinate ``options.study``, then runs its trials until it closes
    the study, the settings run out, or no trial fits before its deadline."""
    import mlflow
    import torch

    from autotl import tracking
    from autotl.selection.budget import parse_budget
    from autotl.selection.coordination import splits_digest
    from autotl.selection.study import heartbeat_seconds
    from autotl.selection.trials import Trials
    from autotl.selection.worker import Deadline, wait_for_coordinator, work
    from autotl.training.device import resolve_device

    started = time.monotonic()
    resolve_device(options.device)  # a usage error now, as train gives it, not after the wait
    study = _check_study(options.study)
    storage = _check_storage(options.storage)
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
    setup = _setup(data, chosen, chosen.candidate_names, transfer_only=True)
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
        cache=_cache_outside(options.cache_dir, setup.dataset.path),
        progress=progress,
        source_data=setup.source_data,
    )
    trials.parent_run_id = plan.parent_run_id
    progress(
        f"Worker on study {study} ({setup.device}): {len(setup.candidates)} candidates, trials end within "
        f"{seconds_left:.0f}s"
    )
    with _remote_code(chosen):
        states = work(trials, chosen, plan, seconds_left)
    ran = ", ".join(f"{count} {state}" for state, count in sorted(states.items())) or "none"
    progress(f"Worker done: trials run here: {ran}")
    return WorkerReport(study, states, time.monotonic() - started)


def _tracking_uri(given: str | None, coordinators: str) -> str:
    """The worker's own URI, else MLFLOW_TRACKING_URI, else the coordinator's when the study holds it whole."""
    import os

    uri = given or os.environ.get("MLFLOW_TRACKING_URI") or coordinators
    if "***" in uri:
        raise AutotlError(
            f"the coordinator tracks to {uri}, whose password the study does not hold: give --tracking-uri "
            "(or MLFLOW_TRACKING_URI) with it"
        )
    return uri


def gpu_devices(gpus: Sequence[int]) -> list[str]:
    """``--gpus 0,1``: CUDA devices that exist here, each once."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    wrong = [gpu for gpu in gpus if not 0 <= gpu < count]
    if wrong or not gpus or len(set(gpus)) != len(gpus):
        seen = f"GPUs 0 to {count - 1}" if count else "no GPU"
        raise AutotlError(f"--gpus {','.join(map(str, gpus))}: this machine has {seen}; list each GPU once")
    return [f"cuda:{gpu}" for gpu in gpus]


def worker_command(options: SelectOptions, device: str, wait_s: float) -> list[str]:
    """The ``autotl worker`` line for one of ``select --gpus``'s workers. The storage and tracking
    URIs go through its environment (``worker_environment``), where no other user's ``ps`` reads a password."""
    command = [sys.executable, "-m", "autotl", "worker", "--study", options.study, "--device", device]
    command += ["--wait", f"{wait_s:.0f}s"]
    if options.cache_dir is not None:
        command += ["--cache-dir", str(options.cache_dir)]
    if options.trust_remote_code:
        command.append("--trust-remote-code")
    return command


def worker_environment(storage: str, tracking_uri: str) -> dict[str, str]:
    import os

    return {**os.environ, "AUTOTL_STORAGE": storage, "MLFLOW_TRACKING_URI": tracking_uri}


@contextmanager
def local_workers(
    commands: list[list[str]], progress: Callable[[str], None], environment: dict[str, str] | None = None
) -> Iterator[None]:
    """Runs each worker command beside the block, its lines shown after a ``[worker N]`` mark,
    and stops them when the block ends, by Ctrl-C and SIGTERM too: a worker ends its running
    trial KILLED and FAILED, as a select does."""
    workers = [
        subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1, env=environment
        )
        for command in commands
    ]
    forwarders = [
        threading.Thread(target=_forward, args=(worker, f"[worker {number}] ", progress), daemon=True)
        for number, worker in enumerate(workers, 1)
    ]
    for thread in forwarders:
        thread.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for thread in forwarders:
            thread.join(timeout=5)


def _forward(worker: subprocess.Popen, mark: str, progress: Callable[[str], None]) -> None:
    for line in worker.stderr:
        progress(mark + line.rstrip("\n"))
