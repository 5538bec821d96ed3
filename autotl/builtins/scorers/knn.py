"""Built-in scorer ``knn``: leave-one-out nearest-neighbour accuracy on the frozen features, a
plain, hard-to-beat baseline among transferability scores."""

import numpy as np

import autotl
from autotl.builtins.scorers import one_hot
from autotl.contracts.scorers import FunctionScorer, ScoringInputs


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour majority vote (Euclidean distance, a tie to
    the smaller label) on the features: a plain, hard-to-beat baseline among transferability scores."""
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    k = min(k, len(y) - 1)
    squared = (f**2).sum(axis=1)
    correct = 0
    for start in range(0, len(y), 1024):  # a block of rows of the distance matrix at a time
        rows = slice(start, start + 1024)
        distances = squared[rows, None] + squared[None, :] - 2 * f[rows] @ f.T
        distances[np.arange(distances.shape[0]), np.arange(start, start + distances.shape[0])] = np.inf  # leave it out
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
        votes = one_hot(y[nearest].reshape(-1), y.max() + 1).reshape(len(nearest), k, -1).sum(axis=1)
        correct += int((votes.argmax(axis=1) == y[rows]).sum())
    return correct / len(y)


def score(inputs: ScoringInputs) -> float:
    return knn_accuracy(inputs.features, inputs.labels)


@autotl.hookimpl
def register_scorers(register):
    register(FunctionScorer("knn", "leave-one-out 5-nearest-neighbour accuracy on the features", function=score))
