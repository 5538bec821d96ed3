"""Predicted seconds for the work ``select`` plans, from short calibrations on real batches."""

import math
from typing import Callable

import torch

from autotl.training.job import TrainingJob


def feature_seconds(job: TrainingJob, backbone, clock: Callable[[], float], warmup: int = 2, sample: int = 64) -> float:
    """Featurizes a few uncached inputs (they stay cached: nothing is wasted) after a warm-up
    batch that absorbs first-call costs, and extrapolates to the rest."""
    examples = [e for split in ("train", "val", "test") for e in job.splits[split]]
    missing = job.cache.missing(backbone, job.source, examples)
    if not missing:
        return 0.0
    job.cache.features(backbone, job.source, missing[:warmup], job.device)
    timed = missing[warmup : warmup + sample]
    if not timed:
        return 0.0
    started = clock()
    job.cache.features(backbone, job.source, timed, job.device)
    per_input = (clock() - started) / len(timed)
    return per_input * max(0, len(missing) - warmup - len(timed))


def training_seconds(job: TrainingJob, clock: Callable[[], float]) -> float:
    """Times one optimisation step on a real batch (preprocessing included) and scales it to the
    job's epochs; evaluation counted at a third of a step per batch. Random weights step as fast
    as pretrained ones, so none are read."""
    from autotl.training.classifier import Classifier
    from autotl.sources.backbone import move_batch

    classifier = Classifier(job.load_backbone(pretrained=False), len(job.classes)).to(job.device).train()
    batch = job.inputs("train")[: job.params.batch_size]
    labels = torch.tensor(job.labels("train")[: len(batch)], device=job.device)
    optimizer = torch.optim.AdamW(classifier.parameters(), lr=1e-6)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(classifier(move_batch(classifier.backbone.preprocessor(batch), job.device)), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()  # the first step pays for allocations and lazy initialisation
    started = clock()
    step()
    seconds = clock() - started
    steps = math.ceil(len(job.splits["train"]) / job.params.batch_size)
    evaluation = math.ceil((len(job.splits["val"]) + len(job.splits["test"])) / job.params.batch_size) * seconds / 3
    return job.params.epochs * (steps * seconds + evaluation)
