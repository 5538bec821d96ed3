"""Built-in transferability scorers, one module per scorer: the published score and its
registration together. :mod:`autotl.transferability` gathers the scores as plain functions."""

import numpy as np


def one_hot(labels: np.ndarray, classes: int | None = None) -> np.ndarray:
    classes = int(labels.max()) + 1 if classes is None else classes
    return (labels[:, None] == np.arange(classes)[None, :]).astype(np.float64)
