"""The metrics a selection can optimise, computed with scikit-learn."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

METRICS = ("accuracy", "f1_macro")


def score(metric: str, labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    if metric == "accuracy":
        return float(accuracy_score(labels, predictions))
    if metric == "f1_macro":
        return float(f1_score(labels, predictions, average="macro", labels=list(range(num_classes)), zero_division=0))
    raise ValueError(f"unknown metric {metric!r}: choose from {', '.join(METRICS)}")
