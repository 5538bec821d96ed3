"""Predicted seconds for the work ``select`` plans, from short calibrations on real batches."""

import math
from dataclasses import dataclass
from typing import Callable

import torch

from autotl.strategies import StepCost
from autotl.training.job import TrainingJob


def seconds_per_input(job: TrainingJob, backbone, clock: Callable[[], float], warmup: int = 2, sample: int = 64) -> float | None:
    """Featurizes a few uncached inputs (they stay cached: nothing is wasted) after a warm-up
    batch that absorbs first-call costs; None when too few were missing to time."""
    examples = [e for split in ("train", "val", "test") for e in job.splits[split]]
    missing = job.cache.missing(backbone, job.source, examples)
    timed = missing[warmup : warmup + sample]
    if not timed:
        return None
    job.cache.features(backbone, job.source, missing[:warmup], job.device)
    started = clock()
    job.cache.features(backbone, job.source, timed, job.device)
    return (clock() - started) / len(timed)


@dataclass(frozen=True)
class StepTimes:
    """Seconds of one batch's forward pass (preprocessing included) and of its backward pass
    with the optimizer step, for one source at one input size on this device."""

    forward: float
    backward: float


def scaled(times: StepTimes, factor: float) -> StepTimes:
    return StepTimes(times.forward * factor, times.backward * factor)


def step_times(job: TrainingJob, clock: Callable[[], float], report: Callable[[str], None] = lambda message: None) -> StepTimes:
    """Times a training step on a real batch, as the loop runs it (mixed precision on a GPU), after
    one untimed step that pays for allocations and lazy initialisation. Random weights step as
    fast as pretrained ones, so none are read. A batch the device has no memory for is timed at
    half its size, and the times doubled."""
    from autotl.training.device import retry_at_half_batch

    times, size = retry_at_half_batch(lambda size: _timed_step(job, size, clock), job.params.batch_size, job.device, report)
    scale = job.params.batch_size / size
    return StepTimes(times.forward * scale, times.backward * scale)


def _timed_step(job: TrainingJob, batch_size: int, clock: Callable[[], float]) -> StepTimes:
    from autotl.sources.backbone import move_batch
    from autotl.training.classifier import Classifier
    from autotl.training.loop import mixed_precision

    classifier = Classifier(job.load_backbone(pretrained=False), len(job.classes)).to(job.device).train()
    batch = job.inputs("train")[:batch_size]
    labels = torch.tensor(job.labels("train")[: len(batch)], device=job.device)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=1e-6)
    autocast, scaler = mixed_precision(job.device)
    marks = []

    def step() -> None:
        marks.clear()
        marks.append(_synced(clock, job.device))
        with autocast():
            loss = torch.nn.functional.cross_entropy(classifier(move_batch(classifier.backbone.preprocessor(batch), job.device)), labels)
        marks.append(_synced(clock, job.device))
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        marks.append(_synced(clock, job.device))

    step()
    step()
    return StepTimes(marks[1] - marks[0], marks[2] - marks[1])


def epoch_seconds(times: StepTimes, cost: StepCost, extra_forwards: float, examples: int, evaluated: int, batch_size: int) -> float:
    """An epoch of ``cost``-sized steps over ``examples``, then a forward pass over the ``evaluated``
    (validation) examples."""
    step = (cost.forwards + extra_forwards) * times.forward + cost.backwards * times.backward
    return math.ceil(examples / batch_size) * step + math.ceil(evaluated / batch_size) * times.forward


def _synced(clock: Callable[[], float], device: torch.device) -> float:
    """The clock once the device has finished its queued work (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock()
