"""Temperature scaling (Guo et al. 2017, "On calibration of modern neural networks"): one number
that divides a model's logits, fitted on held-out predictions by their log-loss, so that a
confidence of 0.8 is right about 80 % of the time. It changes no prediction, only confidences.
How far confidence and accuracy disagree is the expected calibration error (ECE), over 15
equal-width confidence bins, as in that paper.
"""

from dataclasses import dataclass

import numpy as np

BINS = 15
MIN_HELD_OUT = 100
"""A temperature is fitted on at least this many held-out predictions, else the model is left
uncalibrated. It matches confidence to accuracy, and 100 examples measure an accuracy to within
5 points (its binomial standard error at 50 %); on 8 predictions that a model got all right, the
fit ran to its lower bound and every confidence read 1.000. (Niculescu-Mizil and Caruana 2005
calibrate on as few as 128.)"""
TEMPERATURES = (0.05, 20.0)
"""The range searched: a held-out split that the model gets all right asks for an ever lower
temperature, which the bound stops well before the confidences are all 1."""


@dataclass(frozen=True)
class Calibration:
    temperature: float
    """What the logged model divides its logits by."""
    test_ece_before: float
    test_ece_after: float
    held_out: int
    """How many held-out predictions the temperature was fitted on (or too few were there)."""
    test_examples: int
    """How many test predictions the ECE was measured on."""
    fitted: bool = True
    """False when there were fewer than ``MIN_HELD_OUT`` held-out predictions: the temperature is 1."""


def rescaled(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """The probabilities of the logits divided by ``temperature`` (log-probabilities are the logits
    up to a constant per row, which the softmax ignores)."""
    from scipy.special import softmax

    return softmax(np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature, axis=1)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature with the lowest log-loss on ``probabilities`` (held out) for ``labels``."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def log_loss(log_temperature: float) -> float:
        return float(-np.log(np.clip(rescaled(probabilities, np.exp(log_temperature))[rows, labels], 1e-12, 1)).mean())

    low, high = np.log(TEMPERATURES)
    return float(np.exp(minimize_scalar(log_loss, bounds=(low, high), method="bounded").x))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    """The gap between confidence and accuracy, averaged over confidence bins weighted by their size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = sum(
        abs(correct[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
        for b in range(bins)
        if np.any(which == b)
    )
    return float(gap)


def calibrate(
    held_out: np.ndarray, held_out_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray
) -> Calibration:
    """The temperature fitted on held-out probabilities (1 on fewer than ``MIN_HELD_OUT``), and
    the test ECE without and with it."""
    fitted = len(held_out_labels) >= MIN_HELD_OUT
    temperature = fit_temperature(held_out, held_out_labels) if fitted else 1.0
    return Calibration(
        temperature,
        expected_calibration_error(test, test_labels),
        expected_calibration_error(rescaled(test, temperature), test_labels),
        len(held_out_labels),
        len(test_labels),
        fitted,
    )
