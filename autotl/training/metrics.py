"""The metrics a selection can optimise.

Plain numpy rather than scikit-learn, so the training core runs where only
torch is installed; the tests check both against scikit-learn.
"""

import numpy as np

METRICS = ("accuracy", "f1_macro")


def score(metric: str, labels, predictions, num_classes: int) -> float:
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if metric == "accuracy":
        return float(np.mean(labels == predictions)) if len(labels) else 0.0
    if metric == "f1_macro":
        confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        true_positives = np.diag(confusion).astype(float)
        denominators = confusion.sum(0) + confusion.sum(1)
        f1 = np.divide(2 * true_positives, denominators, out=np.zeros(num_classes), where=denominators > 0)
        return float(f1.mean())
    raise ValueError(f"unknown metric {metric!r}: choose from {', '.join(METRICS)}")


def recall_by_class(labels, predictions, classes) -> dict[str, float]:
    """Each class's recall on the examples of it (a class without examples is left out)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return {
        name: float(np.mean(predictions[labels == i] == i)) for i, name in enumerate(classes) if np.any(labels == i)
    }


def log_loss(probabilities, labels) -> float:
    """Mean negative log-likelihood of the true classes (clipped, so a confident miss is finite)."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    return float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None)).mean())
