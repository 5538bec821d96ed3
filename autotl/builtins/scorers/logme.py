"""Built-in scorer ``logme``: the evidence of a Bayesian linear model from the frozen features to
the labels (You et al. 2021)."""

import numpy as np

import autotl
from autotl.builtins.scorers import one_hot
from autotl.contracts.scorers import FunctionScorer, ScoringInputs

_EPSILON = 1e-5
_MAX_ITERATIONS = 11
_TOLERANCE = 1e-3


def logme(features: np.ndarray, labels: np.ndarray) -> float:
    """LogME (You et al., 2021), with the fixed-point solver of the JMLR extension.

    The log marginal likelihood, per example, of a Bayesian linear model from
    features to each one-hot class column,
    maximised over the prior precision alpha and the noise precision beta, and
    averaged over columns.
    """
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    targets = one_hot(np.asarray(labels).astype(np.int64))
    u, singular = _left_singular(f)
    sigma = singular**2
    evidences = [_evidence(u.T @ y, float(y @ y), sigma, n, d) for y in targets.T]
    return float(np.mean(evidences))


def _left_singular(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors and singular values; with more rows than columns,
    through the small Gram matrix and only up to the rank of ``f``."""
    n, d = f.shape
    if n <= d:
        u, singular, _ = np.linalg.svd(f, full_matrices=False)
        return u, singular
    _, eigen, right = np.linalg.svd(f.T @ f)
    singular = np.sqrt(eigen)
    rank = int(np.sum(singular > 1e-10))
    return (f @ right[:rank].T) / singular[:rank], singular[:rank]


def _evidence(x: np.ndarray, y_squared: float, sigma: np.ndarray, n: int, d: int) -> float:
    """Maximised evidence for one target column; ``x`` is the column in the singular basis."""
    x2 = x**2
    outside = y_squared - x2.sum()  # the part of y the features cannot reach
    alpha = beta = 1.0
    for _ in range(_MAX_ITERATIONS):
        ratio = alpha / beta
        gamma = (sigma / (sigma + ratio)).sum()
        weight_norm = (sigma * x2 / (ratio + sigma) ** 2).sum()
        residual = (x2 / (1 + sigma / ratio) ** 2).sum() + outside
        alpha = gamma / (weight_norm + _EPSILON)
        beta = (n - gamma) / (residual + _EPSILON)
        if abs(alpha / beta - ratio) / ratio <= _TOLERANCE:
            break
    evidence = (
        d / 2 * np.log(alpha)
        + n / 2 * np.log(beta)
        - 0.5 * np.sum(np.log(alpha + beta * sigma))
        - beta / 2 * residual
        - alpha / 2 * weight_norm
        - n / 2 * np.log(2 * np.pi)
    )
    return float(evidence / n)


def score(inputs: ScoringInputs) -> float:
    return logme(inputs.features, inputs.labels)


@autotl.hookimpl
def register_scorers(register):
    register(
        FunctionScorer(
            "logme", "LogME: evidence of a Bayesian linear model on the features (You et al. 2021)", function=score
        )
    )
