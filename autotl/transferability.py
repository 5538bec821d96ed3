"""Transferability scores: how well frozen source features suit the target labels, without training.

Numpy in, float out, higher is better.
"""

import numpy as np

_EPSILON = 1e-5
_MAX_ITERATIONS = 11
_TOLERANCE = 1e-3


def logme(features: np.ndarray, labels: np.ndarray, regression: bool = False) -> float:
    """LogME (You et al., 2021), with the fixed-point solver of the JMLR extension.

    The log marginal likelihood, per example, of a Bayesian linear model from
    features to each one-hot class column (or each regression target),
    maximised over the prior precision alpha and the noise precision beta, and
    averaged over columns.
    """
    f = np.asarray(features, dtype=np.float64)
    n, d = f.shape
    targets = _targets(labels, regression)
    u, singular = _left_singular(f)
    sigma = singular**2
    evidences = [_evidence(u.T @ y, float(y @ y), sigma, n, d) for y in targets.T]
    return float(np.mean(evidences))


def _targets(labels: np.ndarray, regression: bool) -> np.ndarray:
    y = np.asarray(labels)
    if regression:
        y = y.astype(np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y
    y = y.astype(np.int64)
    return _one_hot(y)


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


def leep(source_probs: np.ndarray, labels: np.ndarray) -> float:
    """LEEP (Nguyen et al., 2020): the mean log-likelihood of the target labels under the
    "empirical predictor" that maps the source head's soft predictions z to P(y | z), with
    P(y | z) estimated from those same predictions over the target data."""
    p = np.asarray(source_probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    joint = _one_hot(y).T @ p / len(y)  # P(y, z), target classes x source classes
    given_source = joint / joint.sum(axis=0, keepdims=True)  # P(y | z)
    predicted = p @ given_source.T  # each example's distribution over target classes
    return float(np.mean(np.log(predicted[np.arange(len(y)), y])))


def nce(source_labels: np.ndarray, labels: np.ndarray) -> float:
    """NCE (Tran et al., 2019): minus the conditional entropy H(Y | Z) of the target labels given
    the source head's hard predictions, from their empirical joint distribution."""
    z = np.asarray(source_labels).astype(np.int64).reshape(-1)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    joint = _one_hot(y).T @ _one_hot(z) / len(y)  # P(y, z)
    p_z = joint.sum(axis=0)
    seen = p_z > 0
    given_source = joint[:, seen] / p_z[seen]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(given_source > 0, given_source * np.log(given_source), 0.0)
    return float(np.sum(p_z[seen] * plogp.sum(axis=0)))


def hscore(features: np.ndarray, labels: np.ndarray, shrinkage: bool = False) -> float:
    """H-score (Bao et al., 2019): tr(cov(f)^-1 cov(E[f | y])), how much of the features'
    variance lies between the class means, through a pseudo-inverse (rcond 1e-15).

    ``shrinkage``: the regularized H-score of Ibrahim et al. (2022), with the Ledoit-Wolf
    covariance estimate and its shrinkage alpha, tr(cov_alpha(f)^-1 (1 - alpha) cov(E[f | y])):
    stable when there are more dimensions than examples.
    """
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    class_means = np.zeros_like(f)
    for label in np.unique(y):
        class_means[y == label] = f[y == label].mean(axis=0)
    centred = class_means - class_means.mean(axis=0)  # cov(E[f | y]) is centred.T @ centred / (n - 1)
    weight = 1.0
    if shrinkage:
        from sklearn.covariance import LedoitWolf

        estimate = LedoitWolf(store_precision=False).fit(f - f.mean(axis=0))  # its precision: an eigendecomposition not needed
        covariance, weight = estimate.covariance_, 1 - estimate.shrinkage_
    else:
        covariance = np.cov(f, rowvar=False)
    if shrinkage and estimate.shrinkage_ > 0:  # positive definite: a solve (the pseudo-inverse's SVD takes seconds at d = 1280)
        solved = np.linalg.solve(covariance, centred.T)
    else:
        solved = np.linalg.pinv(covariance, rcond=1e-15) @ centred.T
    return float(weight * np.einsum("ij,ji->", centred, solved) / (len(f) - 1))


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
        votes = _one_hot(y[nearest].reshape(-1), y.max() + 1).reshape(len(nearest), k, -1).sum(axis=1)
        correct += int((votes.argmax(axis=1) == y[rows]).sum())
    return correct / len(y)


def _one_hot(labels: np.ndarray, classes: int | None = None) -> np.ndarray:
    classes = int(labels.max()) + 1 if classes is None else classes
    return (labels[:, None] == np.arange(classes)[None, :]).astype(np.float64)
