"""Which device to train on (``--device auto`` takes a GPU when there is one), and how to use it: memory, batches."""

import gc
from typing import Callable, TypeVar

import torch

from autotl.errors import AutotlError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise AutotlError(f"--device {name!r} is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AutotlError(f"--device {name}: no CUDA GPU is visible here; use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise AutotlError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) are visible")
    return device


T = TypeVar("T")

CPU_INFERENCE_BATCH = 8
"""Inputs per forward pass on the CPU when nothing is trained (features, test passes, predict).
Measured on the offline sources on one and two threads (docs/benchmarks.md, "Inference batches
on the CPU"): a batch of 8 costs 1.1 to 2.5 times less per input than one of 64, whose
activations no longer fit the processor's caches. A training batch keeps its size: it is a
hyperparameter, not a speed setting."""


def inference_batch_size(device: torch.device | str, batch_size: int) -> int:
    return min(batch_size, CPU_INFERENCE_BATCH) if torch.device(device).type == "cpu" else batch_size


def release_memory(device: torch.device) -> None:
    """Hands what finished work held back to the GPU, so the next trial starts from the same free
    memory. On the CPU, Python's own collector suffices: a full collection of autotl's heap costs
    about 0.4 s, which every trial would pay on a short budget."""
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
"""glibc's ``mallopt`` parameters (malloc.h)."""
KEPT_FREE_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Has glibc's malloc serve large blocks from its heap, and keep up to ``KEPT_FREE_BYTES`` freed
    at its top for reuse, rather than map fresh pages for each large tensor and unmap them when it
    is freed. A training step frees its activations and allocates them again; with glibc's
    defaults every large one was a new mapping whose pages fault in one by one. On 10 fine-tuning
    steps of EfficientNet-Lite0 (128 px, batch 32, two threads) that was 2 million page faults and
    22 % of the CPU time in the kernel; with this, 37 thousand and 1 %, and the steps took 32 %
    less time, at a peak 4 % higher (docs/benchmarks.md, "Memory churn"). Returns whether it was
    applied: not off Linux's glibc, nor with ``AUTOTL_MALLOC=system``."""
    import ctypes
    import os

    if os.environ.get("AUTOTL_MALLOC") == "system":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES))


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float | None:
    """The most memory a GPU held for tensors since ``reset_peak_memory`` (None on the CPU)."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def retry_at_half_batch(
    train: Callable[[int], T], batch_size: int, device: torch.device, report: Callable[[str], None]
) -> tuple[T, int]:
    """``train(batch_size)``, and when the device runs out of memory, once more at half the batch.
    Returns the result and the batch size that gave it."""
    try:
        return train(batch_size), batch_size
    except torch.OutOfMemoryError:
        pass  # out of the except block first: its traceback holds the failed attempt's tensors
    release_memory(device)
    half = max(1, batch_size // 2)
    report(f"out of memory at batch size {batch_size}: retrying once at {half}")
    return train(half), half
