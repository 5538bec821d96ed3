"""The no-transfer baselines a selection reports beside its choice, so that the uplift it prints
is what transfer bought: the classical one (:mod:`autotl.classical`), which costs seconds and
always runs, and ``scratch`` (the chosen architecture from random weights), which runs only with
its whole default schedule: a truncated one-epoch scratch says nothing."""

import time
from dataclasses import dataclass

import numpy as np

from autotl.contracts.data import Dataset, Example
from autotl.selection.leaderboard import Row
from autotl.selection.noise import binomial_se, fold_se
from autotl.training import classical
from autotl.training.metrics import score

CLASSICAL = "no transfer"


@dataclass
class Baseline:
    name: str
    test_accuracy: float | None
    note: str = ""
    """Why it did not train, when it did not."""


@dataclass
class ClassicalResult:
    row: Row
    """Its validation score on the same folds or split as the candidates, with its standard error."""
    model: classical.ClassicalModel
    """Fitted on train+val."""
    test_accuracy: float
    test_metric: float
    fold_seconds: float
    """The mean time of one fold's fit and validation: what a probe on cached features is first priced at."""


def run_classical(dataset: Dataset, folds: list[dict[str, list[Example]]], metric: str, seed: int) -> ClassicalResult:
    """Fitted on train+val (where a text's TF-IDF family is chosen, once), validated on each of
    ``folds`` (train+val's folds, or the train/val split) with that family, and tested once."""
    classes = dataset.classes
    index = {label: i for i, label in enumerate(classes)}
    side = median_side(dataset)

    def fitted(examples: list[Example], family: str | None = None) -> classical.ClassicalModel:
        return classical.fit(
            dataset.modality,
            [e.input for e in examples],
            [index[e.label] for e in examples],
            classes,
            seed,
            side,
            family,
        )

    def scored(model: classical.ClassicalModel, examples: list[Example], name: str) -> float:
        predictions = model.probabilities([e.input for e in examples]).argmax(1)
        return score(name, [index[e.label] for e in examples], predictions, len(classes))

    final = fitted(dataset.splits["train"] + dataset.splits["val"])
    family = getattr(final.representation, "family", None)
    started = time.monotonic()
    values = [scored(fitted(fold["train"], family), fold["val"], metric) for fold in folds]
    fold_seconds = (time.monotonic() - started) / len(folds)
    validated = sum(len(fold["val"]) for fold in folds)
    mean = float(np.mean(values))
    se = fold_se(values, validated) if len(folds) > 1 else binomial_se(mean, validated)
    test = dataset.splits["test"]
    row = Row(
        f"{CLASSICAL}: {final.description}",
        "",
        "classical",
        "",
        val_metric=mean,
        val_se=se,
        folds=len(folds),
        state="baseline",
        reason="no-transfer baseline, on the same folds as the candidates"
        if len(folds) > 1
        else "no-transfer baseline, on the same validation split as the candidates",
    )
    return ClassicalResult(row, final, scored(final, test, "accuracy"), scored(final, test, metric), fold_seconds)


def median_side(dataset: Dataset) -> int:
    """The images' median shorter side, which raw pixels are not enlarged beyond."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes:
        return classical.RAW_SIDE
    return int(min(sizes["width"]["median"], sizes["height"]["median"]))
