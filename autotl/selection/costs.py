"""Predicted seconds for the work ``select`` plans, from short calibrations on real batches."""

import math
from dataclasses import dataclass, replace
from typing import Callable

import torch

from autotl.contracts.strategies import StepCost
from autotl.training.convex import INNER_FOLDS
from autotl.training.features import forward_seconds
from autotl.training.job import TrainingJob

TIMING_SAMPLE = 64
"""Inputs featurized to time a source before deciding whether to featurize the rest."""


CACHED_SAMPLE = 16
"""Inputs featurized again, uncached, to time a source whose features are all cached: every final
model's test pass (never cached before the end) is priced from it."""


def seconds_per_input(
    job: TrainingJob, backbone, clock: Callable[[], float], within: float = math.inf, sample: int = TIMING_SAMPLE
) -> tuple[float, int]:
    """Seconds to featurize one input, and how many uncached inputs it was timed on (they stay
    cached: nothing is wasted; 0 when it was timed on cached ones), after a warm-up batch that
    absorbs first-call costs. The timing goes by batches of ``CALIBRATION_BATCH`` inputs, then
    twice as many each time, and stops after the first batch that ends past ``within`` seconds
    (on a busy machine 64 images can take longer than a short budget has left); the rate is the
    last batch's, the largest: a busy CPU featurizes a large batch, as the featurizing and the test
    pass run them, at up to half the cost per input of a small one.
    When too few are missing to time, a few cached ones go through the backbone again, uncached."""
    examples = [e for split in ("train", "val", "test") for e in job.splits[split]]
    missing = job.cache.missing(backbone, job.source, examples)
    warmup = 2
    timed = missing[warmup : warmup + sample]
    if not timed:
        inputs = [e.input for e in examples[:CACHED_SAMPLE]]
        return forward_seconds(backbone, inputs, job.device, clock) / len(inputs), 0
    job.cache.features(backbone, job.source, missing[:warmup], job.device)
    started, count, size = clock(), 0, CALIBRATION_BATCH
    while count < len(timed):
        batch, batch_started = timed[count : count + size], clock()
        job.cache.features(backbone, job.source, batch, job.device)
        count, size, rate = count + len(batch), 2 * size, (clock() - batch_started) / len(batch)
        if clock() - started > within:
            break
    return rate, count


@dataclass(frozen=True)
class StepTimes:
    """Seconds of one batch's forward pass (preprocessing included) and of its backward pass
    with the optimizer step, for one source at one input size on this device."""

    forward: float
    backward: float


def scaled(times: StepTimes, factor: float) -> StepTimes:
    return StepTimes(times.forward * factor, times.backward * factor)


CALIBRATION_BATCH = 8
"""A step is timed on at most this many inputs and scaled to the batch size: on a CPU its time
grows in proportion to the batch (timing a full batch of 224-pixel images took 16-47 s of a
72 s budget on a busy 2-core machine); on a GPU the scaling overestimates, the safe side."""


def step_times(
    job: TrainingJob, clock: Callable[[], float], report: Callable[[str], None] = lambda message: None
) -> StepTimes:
    """Times a training step on a real batch, as the loop runs it (mixed precision on a GPU), after
    one untimed step that pays for allocations and lazy initialisation. Random weights step as
    fast as pretrained ones, so none are read. A batch the device has no memory for is timed at
    half its size; the times are scaled to the job's batch size."""
    from autotl.training.device import retry_at_half_batch

    times, size = retry_at_half_batch(
        lambda size: _timed_step(job, size, clock), min(job.params.batch_size, CALIBRATION_BATCH), job.device, report
    )
    examples = len(job.splits["train"])  # a batch holds no more than the training split
    scale = min(job.params.batch_size, examples) / min(size, examples)
    return StepTimes(times.forward * scale, times.backward * scale)


def _timed_step(job: TrainingJob, batch_size: int, clock: Callable[[], float]) -> StepTimes:
    from autotl.training.backbone import move_batch
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
            loss = torch.nn.functional.cross_entropy(
                classifier(move_batch(classifier.backbone.preprocessor(batch), job.device)), labels
            )
        marks.append(_synced(clock, job.device))
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        marks.append(_synced(clock, job.device))

    step()
    step()
    return StepTimes(marks[1] - marks[0], marks[2] - marks[1])


def epoch_seconds(
    times: StepTimes, cost: StepCost, extra_forwards: float, examples: int, evaluated: int, batch_size: int
) -> float:
    """An epoch of ``cost``-sized steps over ``examples``, then a forward pass over the ``evaluated``
    (validation) examples."""
    step = (cost.forwards + extra_forwards) * times.forward + cost.backwards * times.backward
    return math.ceil(examples / batch_size) * step + math.ceil(evaluated / batch_size) * times.forward


def _synced(clock: Callable[[], float], device: torch.device) -> float:
    """The clock once the device has finished its queued work (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock()


LOGISTIC_KNEE = 1e6
"""The work (``logistic_work``) at which a convex fit's arithmetic takes as long as its fixed costs
(scikit-learn's checks, the inner folds' bookkeeping). Measured on the 2-core development machine
under load, fits of 50 to 4,000 examples of 5 to 160 classes (3,072 and 768 features) took about
(1 + work / 1e6) times the smallest one's time, give or take a factor of two."""
STRENGTHS_TRIED = 5
"""Strengths a fit's inner cross-validation tries before its loss rises, as a rule (of the 9 of
``convex.STRENGTHS``)."""


def logistic_work(examples: int, features: int, classes: int) -> float:
    """What a convex fit (``training.convex``) of ``examples`` costs, in multiply-adds per L-BFGS
    step: examples x features x classes, the features no more than the examples (the fit runs in
    the examples' row space when features outnumber them)."""
    return float(examples) * min(examples, features) * classes


def logistic_units(examples: int, features: int, classes: int, smallest_class: int) -> float:
    """A convex fit's cost in units of a fit of no work: its inner cross-validation's fits (none
    when the smallest class has a single example) and its final fit, each one unit and its work
    over ``LOGISTIC_KNEE``."""

    def one(n: int) -> float:
        return 1 + logistic_work(n, features, classes) / LOGISTIC_KNEE

    folds = min(INNER_FOLDS, smallest_class)
    inner = STRENGTHS_TRIED * folds * one(examples * (folds - 1) // folds) if folds >= 2 else 0.0
    return inner + one(examples)


FROZEN_GUESS_S = 1.0
"""What a trial on cached features is taken to cost until one has been timed, or until the
classical baseline, a fit of the same kind on the same examples, has been (``frozen_guess_s``)."""


class CostModel:
    """Predicted seconds of each trial, refit and test pass, learnt from the trials as they run.

    ``job(candidate, params)`` builds a training job on the selection's splits; ``num_blocks``
    and ``inference_s`` (seconds per input to featurize, by source) fill in as the
    zero-training stage loads and times each source.
    """

    def __init__(
        self,
        dataset,
        job: Callable,
        clock: Callable[[], float],
        progress: Callable[[str], None],
        source_data: bool = False,
        left: Callable[[], float] = lambda: float("inf"),
    ):
        self.dataset, self.job, self.clock, self.progress, self.source_data = dataset, job, clock, progress, source_data
        self.left = left
        """Seconds of the budget left for one fit (a trial's share of it on each fold): a step is
        not timed for a fit that could not end in it even so."""
        self.frozen_guess_s = FROZEN_GUESS_S
        self.num_blocks: dict[str, int] = {}
        self.inference_s: dict[str, float] = {}
        self.load_s: dict[str, float] = {}
        """Seconds that loading each source's pretrained weights took in the zero-training stage."""
        self.test_cached: set[str] = set()
        """Sources whose frozen features of the test split are cached (``Selector.featurize_test``)."""
        self.step_times: dict[tuple[str, int, int], StepTimes] = {}
        """Calibrated step times by (source, image size, batch size)."""
        self.head_times: dict[tuple[str, str], list[tuple[int, float]]] = {}
        """(epochs, seconds) of trials on cached features, by (source, strategy)."""
        self.trial_times: dict[str, list[tuple[float, float]]] = {}
        """(modelled, real) seconds of each source's end-to-end trials so far."""
        self.fitting_batch: dict[tuple[str, int], int] = {}
        """The batch size a candidate trained at after a larger one ran out of device memory, by
        (candidate, input size): its later trials start there rather than fail at the larger one again."""

    def batch_that_fits(self, label: str, image_size: int, batch_size: int) -> int:
        return min(batch_size, self.fitting_batch.get((label, image_size), batch_size))

    def predicted(self, candidate, params) -> float:
        """Seconds one fit should take. A head's: fitted to its earlier trials' epochs and seconds
        (a guess before any). End to end: the calibrated step times scaled by the strategy's and
        regularizer's work, then fitted to how long this source's trials really took against that
        model (loading, evaluation and the device's moods are not in it)."""
        if candidate.strategy.cached_features:
            seen = self.head_times.get((candidate.source.name, candidate.strategy.name))
            return fixed_plus_proportional(seen, params.epochs) if seen else self.frozen_guess_s
        modelled = self.modelled(candidate, params)
        seen = self.trial_times.get(candidate.source.name)
        return fixed_plus_proportional(seen, modelled) if seen else modelled

    def classical_timed(self, fold_seconds: float) -> None:
        """The classical baseline's fit on one fold: a trial on cached features is of its kind, on
        the same examples, and costs about as much until one has been timed."""
        self.frozen_guess_s = fold_seconds

    def modelled(self, candidate, params) -> float:
        return self.modelled_with(self.step_times_of(candidate, params), candidate, params)

    def modelled_with(self, times: StepTimes, candidate, params) -> float:
        cost = candidate.strategy.step_cost(params, self.num_blocks.get(candidate.source.name, 0), self.source_data)
        splits = self.dataset.splits
        return (
            epoch_seconds(
                times,
                cost,
                candidate.regularizer.extra_forwards,
                len(splits["train"]),
                len(splits["val"]),
                params.batch_size,
            )
            * params.epochs
        )

    def step_times_of(self, candidate, params) -> StepTimes:
        """A training step is timed once per input and batch size, on the first source that needs it
        (seconds of a large text model's budget); another source's step is that one's scaled by their
        featurizing times, which the zero-training stage measured for free. A trial's real time then
        corrects the scale (``predicted``). A source featurized from the cache is timed itself."""
        key = (candidate.source.name, params.image_size, params.batch_size)
        if key in self.step_times:
            return self.step_times[key]
        reference = self.timed_alike(key)
        if reference is not None:
            return scaled(self.step_times[reference], self.inference_s[key[0]] / self.inference_s[reference[0]])
        rough = self.rough_step_times(candidate.source.name, params.batch_size)
        if rough is not None and self.modelled_with(rough, candidate, params) > self.left():
            return rough  # timing a step (loading the model, two real steps) would only spend what is left
        self.progress(f"  timing a training step of {candidate.source.name} for the cost model")
        self.step_times[key] = step_times(self.job(candidate, params), self.clock, self.progress)
        return self.step_times[key]

    def rough_step_times(self, source: str, batch_size: int) -> StepTimes | None:
        """A step before any is timed, from the source's featurizing time: the forward pass of a
        batch, and a backward pass twice that (it computes gradients of both the activations and
        the weights); None when the featurizing was not timed."""
        per_input = self.inference_s.get(source)
        return StepTimes(per_input * batch_size, 2 * per_input * batch_size) if per_input else None

    def timed_alike(self, key: tuple[str, int, int]) -> tuple[str, int, int] | None:
        """A source timed at the same input and batch size, when its featurizing time and ``key``'s are known."""
        if not self.inference_s.get(key[0]):
            return None
        return next((k for k in self.step_times if k[1:] == key[1:] and self.inference_s.get(k[0])), None)

    def can_predict(self, candidate, params) -> bool:
        """Whether ``predicted`` can answer without timing a step (which costs time of its own)."""
        key = (candidate.source.name, params.image_size, params.batch_size)
        return candidate.strategy.cached_features or key in self.step_times or self.timed_alike(key) is not None

    def observed(self, candidate, params, seconds: float, epochs_run: int) -> None:
        """Learns from a trial's real time (every fold's epochs: each costs about one epoch)."""
        if candidate.strategy.cached_features:
            self.head_times.setdefault((candidate.source.name, candidate.strategy.name), []).append(
                (epochs_run, seconds)
            )
        else:
            modelled = self.modelled(candidate, replace(params, epochs=epochs_run))
            self.trial_times.setdefault(candidate.source.name, []).append((modelled, seconds))

    def test_seconds(self, source: str, cached_features: bool = False) -> float:
        """The final model's one pass over the test split: about what loading the source and
        featurizing the split take (a probe's test features need the backbone loaded again), or
        nothing for a model on cached features once the source's test features are cached."""
        if cached_features and source in self.test_cached:
            return 0.0
        return self.load_s.get(source, 0.0) + len(self.dataset.splits["test"]) * self.inference_s.get(source, 0.0)


def fixed_plus_proportional(seen: list[tuple[float, float]], amount: float) -> float:
    """Seconds for ``amount`` of work (epochs, or modelled seconds) from the (amount, seconds) of
    earlier trials: a fixed cost plus a cost in proportion once two amounts were seen (a trial
    pruned after one epoch is mostly fixed cost), else in proportion alone, which overestimates."""
    import numpy as np

    amounts, seconds = zip(*seen)
    if len(set(amounts)) > 1:
        rate, fixed = np.polyfit(amounts, seconds, 1)
        if rate > 0:
            return max(0.0, float(fixed)) + float(rate) * amount
    return max(s / a for a, s in seen) * amount
