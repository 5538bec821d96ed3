"""The workers that ``select --gpus`` starts beside itself on this machine, one per further GPU:
their command lines, their environment, and their lifetime, the select's block."""

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch

from autotl.contracts.options import SelectOptions
from autotl.errors import AutotlError


def gpu_devices(gpus: Sequence[int]) -> list[str]:
    """``--gpus 0,1``: CUDA devices that exist here, each once."""
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
