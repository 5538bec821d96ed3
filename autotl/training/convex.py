"""Multinomial logistic regression by L-BFGS with its L2 strength chosen by inner cross-validation:
the usual linear-probe protocol (Kornblith et al. 2019; Radford et al. 2021), on arrays.

A convex fit has one answer for a given strength, so a probe needs no learning rate, epoch
count or early stopping, and it costs seconds on cached features.

Dense features are centred, which L-BFGS converges on faster, and divided by one number, their
root-mean-square row length, so that a strength means the same for every source; both are folded
back into the weights, and the result is a plain linear layer on the raw features. (Sparse TF-IDF
rows are kept as they are: unit length already, and sparse.) Features are not standardised one by one: with a few
dozen examples the spread of each of a thousand features is itself noise, and dividing by it
lifts near-constant features to the weight of informative ones. The few-shot literature keeps
each example's geometry and only normalises lengths (Tian et al. 2020, "Rethinking few-shot image
classification"; Wang et al. 2019, "SimpleShot"), which one global scale does while staying linear.
"""

import warnings
from dataclasses import dataclass

import numpy as np

STRENGTHS = tuple(float(c) for c in np.logspace(-4, 4, 9))
"""Inverse L2 strengths (scikit-learn's C) searched, a decade apart, on rows of unit length on
average: from a nearly constant model to a nearly unregularised one."""
INNER_FOLDS = 3
"""Folds of the inner cross-validation that chooses the strength; fewer when the rarest class
has fewer examples. The choice is scored by log-loss, which small folds do not tie on (as
scikit-learn's ``LogisticRegressionCV`` does, with a path that stops past the minimum)."""
MAX_ITER = 200
FINAL_TOLERANCE = 1e-6
"""The final fit's gradient tolerance, tighter than scikit-learn's 1e-4, which the inner folds keep:
a strength's loss is compared at their tolerance, the model is kept at this one."""
UNTUNED_C = 1.0
"""scikit-learn's default strength, for a training split too small to cross-validate."""


@dataclass(frozen=True)
class LinearFit:
    """A linear layer on the raw features: ``features @ weight.T + bias`` are the class logits."""

    weight: np.ndarray
    bias: np.ndarray
    c: float
    """The strength chosen."""
    cv_log_loss: float | None = None
    """The inner cross-validation's mean log-loss at that strength (None when the split was too small)."""

    def probabilities(self, features) -> np.ndarray:
        logits = np.asarray(features @ self.weight.T) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def fit_logistic(
    features, labels: np.ndarray, num_classes: int, seed: int = 0, weights: np.ndarray | None = None
) -> LinearFit:
    """Fits on ``features`` (n x d, dense or sparse) and integer ``labels`` in [0, num_classes); a
    class absent from ``labels`` gets a bias that rules it out. ``weights``: each class's weight in
    the loss (``training.loop.class_weights``). One BLAS thread: L-BFGS makes thousands of small
    products, which threads waiting on a busy core slow down fivefold (2 s against 11 s for
    1,000 x 1,280 features on a shared 2-core machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _fit_logistic(features, labels, num_classes, seed, weights)


def _fit_logistic(features, labels: np.ndarray, num_classes: int, seed: int, weights: np.ndarray | None) -> LinearFit:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(labels)
    if sparse.issparse(features):
        mean, centred = np.zeros(features.shape[1]), features.tocsr().astype(np.float64)
    else:
        features = np.asarray(features, dtype=np.float64)
        mean = features.mean(axis=0)
        centred = features - mean
    scale = root_mean_square_length(centred)
    scaled = centred / scale
    present, counts = np.unique(labels, return_counts=True)
    folds = min(INNER_FOLDS, int(counts.min()))
    coordinates, basis = row_space(scaled) if scaled.shape[0] < scaled.shape[1] else (scaled, None)
    per_example = None if weights is None else weights[labels]
    c, cv_log_loss = (
        _choose_strength(coordinates, labels, folds, seed, per_example) if folds >= 2 else (UNTUNED_C, None)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence at the weakest strengths
        model = LogisticRegression(C=c, max_iter=MAX_ITER, tol=FINAL_TOLERANCE).fit(
            coordinates, labels, sample_weight=per_example
        )
    coef, intercept = model.coef_, model.intercept_
    if basis is not None:
        coef = coef @ basis
    if len(present) == 2:  # scikit-learn's binary form: one logit; the same probabilities as two opposite halves
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((num_classes, features.shape[1]))
    bias = np.full(num_classes, float(intercept.min()) - 30.0)  # e^-30: an unseen class is never predicted
    weight[present] = coef / scale
    bias[present] = intercept - (coef / scale) @ mean
    return LinearFit(weight.astype(np.float32), bias.astype(np.float32), c, cv_log_loss)


def root_mean_square_length(features) -> float:
    """The root-mean-square length of the rows (1 where every row is zero)."""
    squares = features.multiply(features).sum() if hasattr(features, "multiply") else np.square(features).sum()
    length = float(np.sqrt(squares / features.shape[0]))
    return length if length > 0 else 1.0


def _choose_strength(
    features, labels: np.ndarray, folds: int, seed: int, weights: np.ndarray | None = None
) -> tuple[float, float]:
    """The strength with the lowest mean log-loss over stratified inner folds, and that loss. The
    strengths go from strong to weak, each fit warm-started from the last; the path stops once
    the loss rises, since weaker regularisation past the minimum only overfits more, and the
    weakest fits are the slowest to converge."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    from autotl.training.metrics import (
        log_loss,
    )  # scikit-learn's checks its inputs, which costs more than a small fold's fit

    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros((len(labels), 1)), labels))
    models = [LogisticRegression(warm_start=True, max_iter=MAX_ITER) for _ in splits]
    best = (UNTUNED_C, np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence at the weakest strengths
        for c in STRENGTHS:
            losses = []
            for model, (train, val) in zip(models, splits):
                model.set_params(C=c).fit(
                    features[train], labels[train], sample_weight=None if weights is None else weights[train]
                )
                losses.append(
                    log_loss(model.predict_proba(features[val]), np.searchsorted(model.classes_, labels[val]))
                )
            loss = float(np.mean(losses))
            if loss > best[1]:
                break
            if loss < best[1]:
                best = (c, loss)
    return best


def row_space(features) -> tuple[np.ndarray, np.ndarray]:
    """``features`` (n x d, n < d) as n-or-fewer coordinates in an orthonormal basis of their row
    space: ``features = coordinates @ basis``. An L2-penalised linear model's weights lie in that
    space (every gradient is a combination of the rows), and the basis keeps lengths, so the fit on
    the coordinates is the same fit at a fraction of the cost when features outnumber examples.
    The same holds within every inner fold, whose rows span part of that space."""
    from scipy import sparse

    gram = features @ features.T
    gram = gram.toarray() if sparse.issparse(gram) else np.asarray(gram)
    values, vectors = np.linalg.eigh(gram)
    kept = values > values.max() * 1e-10
    if not kept.any():  # every row zero: features that do not vary, one coordinate that is zero
        return np.zeros((features.shape[0], 1)), np.zeros((1, features.shape[1]))
    singular = np.sqrt(values[kept])
    coordinates = vectors[:, kept] * singular
    basis = np.asarray((features.T @ (vectors[:, kept] / singular)).T)
    return coordinates, basis
