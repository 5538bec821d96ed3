"""Cross-validation of a selection: the stratified folds of train+val, how many the data calls
for, and one score per fold at a common epoch count."""

import numpy as np

from autotl.contracts.data import Dataset, Example
from autotl.errors import AutotlError
from autotl.selection.noise import folds_for_size
from autotl.training.loop import FitResult


def scored_folds(fits: list[FitResult]) -> tuple[list[float], int]:
    """Each fold's score at one epoch count for all, the best on the folds' mean curve (as
    cross-validated early stopping does in gradient boosting, e.g. xgboost's ``cv``), and that
    count. Each fold's own best epoch would be chosen on the data that scores it: over 50 epochs
    on 24 examples a fold, that made an MLP probe look 6 points better than a linear one that it
    then trailed on test. One split alone keeps its best epoch."""
    if len(fits) == 1 or not all(fit.history for fit in fits):
        return [fit.val_metric for fit in fits], max(1, round(float(np.median([fit.best_epoch for fit in fits]))))
    length = min(len(fit.history) for fit in fits)
    curve = [np.mean([fit.history[e].val_metric for fit in fits]) for e in range(length)]
    best = int(np.argmax(curve))
    return [fit.history[best].val_metric for fit in fits], fits[0].history[best].epoch


def auto_folds(dataset: Dataset) -> int:
    """Folds for the probes: none when the validation split is large enough to decide alone, else
    as many as the rarest class of train+val allows, up to five (:func:`.noise.folds_for_size`)."""
    from collections import Counter

    counts = Counter(e.label for e in dataset.splits["train"] + dataset.splits["val"])
    return folds_for_size(len(dataset.splits["val"]), min(counts.values()))


def folds(dataset: Dataset, k: int, seed: int) -> list[dict[str, list[Example]]] | None:
    """K stratified folds of train+val (scikit-learn), each with the dataset's test split; None for k = 0."""
    if k == 0:
        return None
    from collections import Counter

    from sklearn.model_selection import StratifiedKFold

    pool = dataset.splits["train"] + dataset.splits["val"]
    labels = [e.label for e in pool]
    label, fewest = min(Counter(labels).items(), key=lambda item: item[1])
    if k < 2 or fewest < k:
        raise AutotlError(
            f"--cv {k}: give 0 (no cross-validation) or 2 to {fewest}, the examples of the rarest class "
            f"({label!r}) in train+val"
            if fewest >= 2
            else f"--cv {k}: class {label!r} has a single example in train+val"
        )
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [
        {"train": [pool[i] for i in train], "val": [pool[i] for i in val], "test": dataset.splits["test"]}
        for train, val in splitter.split(np.zeros((len(pool), 1)), labels)
    ]
