"""What ``autotl inspect`` reports about a dataset, as plain JSON-ready data."""

from collections import Counter
from typing import Any

from autotl.contracts.data import SPLITS, Dataset

IMBALANCED = 1.5
"""The imbalance ratio (largest over smallest training class) above which a dataset counts as
imbalanced: the threshold of the imbalanced-learning literature and of the KEEL repository's
imbalanced collection (Fernandez et al. 2018, "Learning from Imbalanced Data Sets", ch. 1). Above
it, ``select`` judges by macro-F1 unless ``--metric`` says otherwise, and searches class-weighted
losses."""


def imbalance_ratio(dataset: Dataset) -> float:
    train = Counter(e.label for e in dataset.splits["train"])
    return max(train.values()) / min(train.values())


def profile(dataset: Dataset) -> dict[str, Any]:
    counts = {split: Counter(e.label for e in dataset.splits[split]) for split in SPLITS}
    return {
        "path": str(dataset.path),
        "format": dataset.format,
        "modality": dataset.modality,
        "num_examples": sum(len(examples) for examples in dataset.splits.values()),
        "num_classes": len(dataset.classes),
        "classes": list(dataset.classes),
        "split_sizes": {split: len(dataset.splits[split]) for split in SPLITS},
        "split_origin": dataset.split_origin,
        "counts": {c: {split: counts[split][c] for split in SPLITS} for c in dataset.classes},
        "imbalance": imbalance_ratio(dataset),
        "inputs": dataset.summary,
        "problems": dataset.problems + _overlaps(dataset),
    }


def _overlaps(dataset: Dataset) -> list[str]:
    """The same content in two splits makes validation or test scores optimistic."""
    seen = {split: {e.fingerprint for e in dataset.splits[split]} for split in SPLITS}
    problems = []
    for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = len(seen[first] & seen[second])
        if shared:
            problems.append(f"{shared} input(s) in {second} have the same content as inputs in {first}")
    repeated = sum(n - 1 for n in Counter(e.fingerprint for e in dataset.splits["train"]).values() if n > 1)
    if repeated:
        problems.append(f"{repeated} input(s) in train repeat another train input's content")
    return problems
