"""Cross-validation of a selection: the stratified folds of train+val, how many the data calls
for, and one score per fold at a common epoch count."""

import hashlib

import numpy as np

from autotl.contracts.data import Dataset, Example
from autotl.errors import AutotlError
from autotl.selection.noise import MAX_FOLDS, folds_for_size
from autotl.training.loop import FitResult


def scored_folds(fits: list[FitResult]) -> tuple[list[float], int, list[np.ndarray] | None]:
    """Each fold's score at one epoch count for all, the best on the folds' mean curve (as
    cross-validated early stopping does in gradient boosting, e.g. xgboost's ``cv``), that count,
    and each fold's predictions on its val at that count (None where the epochs kept none). Each
    fold's own best epoch would be chosen on the data that scores it: over 50 epochs on 24
    examples a fold, that made an MLP probe look 6 points better than a linear one that it then
    trailed on test. One split alone keeps its best epoch."""
    if len(fits) == 1 or not all(fit.history for fit in fits):
        return [fit.val_metric for fit in fits], max(1, round(float(np.median([fit.best_epoch for fit in fits])))), None
    length = min(len(fit.history) for fit in fits)
    curve = [np.mean([fit.history[e].val_metric for fit in fits]) for e in range(length)]
    best = int(np.argmax(curve))
    at_best = [fit.history[best].val_probabilities for fit in fits]
    return (
        [fit.history[best].val_metric for fit in fits],
        fits[0].history[best].epoch,
        None if any(p is None for p in at_best) else at_best,
    )


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


class OnFooting:
    """The examples every contender is judged on (:class:`.decision.Footing`): train+val, out of
    fold, when the probes are cross-validated, else the validation split; and where a trial's
    validation predictions fall among them."""

    def __init__(self, dataset: Dataset, cv_folds: list[dict[str, list[Example]]], seed: int):
        from autotl.selection.decision import Footing

        index = {label: i for i, label in enumerate(dataset.classes)}
        pool = [e for fold in cv_folds for e in fold["val"]] if cv_folds else dataset.splits["val"]
        self.position = {id(e): i for i, e in enumerate(pool)}
        labels = np.array([index[e.label] for e in pool])
        self.digest = hashlib.sha256(
            "\n".join(f"{e.fingerprint} {e.label}" for e in pool).encode() + str(len(cv_folds)).encode()
        ).hexdigest()[:16]
        """Which examples, labels and folds the footing holds: predictions made on another (an
        earlier run of the study with another seed, say) are not compared."""
        if cv_folds:
            fold_of = np.concatenate([np.full(len(fold["val"]), k) for k, fold in enumerate(cv_folds)])
            what = f"out-of-fold predictions over train+val ({len(pool)} examples, {len(cv_folds)} folds)"
        else:
            fold_of = _fold_of(labels, seed)
            what = f"the validation split ({len(pool)} examples)"
        self.footing = Footing(labels, fold_of, what, len(dataset.classes))

    def gather(self, validated: list[list[Example]], probabilities: list[np.ndarray]) -> list[list[float]] | None:
        """A trial's predictions on its folds' (or split's) validation examples, in the footing's
        order, as a row keeps them (:attr:`.leaderboard.Row.predictions`); None unless they cover
        every example of the footing."""
        examples = [e for split in validated for e in split]
        positions = [self.position.get(id(e)) for e in examples]
        if len(examples) != len(self.footing) or None in positions or len(set(positions)) != len(positions):
            return None
        gathered = np.zeros((len(examples), self.footing.classes))
        gathered[positions] = np.concatenate(probabilities)
        return np.round(gathered, 5).tolist()


def _fold_of(labels: np.ndarray, seed: int) -> np.ndarray:
    """Folds of a validation split, for choosing an ensemble's weights on some and scoring it on
    the others: stratified when every class has two examples, else plain."""
    from collections import Counter

    from sklearn.model_selection import KFold, StratifiedKFold

    if len(labels) < 2:
        return np.zeros(len(labels), dtype=int)
    k = min(MAX_FOLDS, len(labels))
    rarest = min(Counter(labels.tolist()).values())
    splitter = StratifiedKFold(min(k, rarest), shuffle=True, random_state=seed) if rarest >= 2 else KFold(k)
    fold_of = np.zeros(len(labels), dtype=int)
    for fold, (_, held) in enumerate(splitter.split(np.zeros((len(labels), 1)), labels)):
        fold_of[held] = fold
    return fold_of
