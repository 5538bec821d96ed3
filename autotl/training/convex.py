"""Multinomial logistic regression by L-BFGS with its L2 strength chosen by inner cross-validation:
the usual linear-probe protocol (Kornblith et al. 2019; Radford et al. 2021), on arrays.

A convex fit has one answer for a given strength, so a probe needs no learning rate, epoch
count or early stopping, and it costs seconds on cached features. Features are standardised
first (the strengths then mean the same for every source), and the scaling is folded back into
the weights, so the result is a plain linear layer on the raw features.
"""

import warnings
from dataclasses import dataclass

import numpy as np

STRENGTHS = tuple(float(c) for c in np.logspace(-4, 3, 8))
"""Inverse L2 strengths (scikit-learn's C) searched, a decade apart: from a nearly constant model
to a nearly unregularised one, on standardised features or on unit-length TF-IDF rows."""
INNER_FOLDS = 3
"""Folds of the inner cross-validation that chooses the strength; fewer when the rarest class
has fewer examples. The choice is scored by log-loss, which small folds do not tie on."""
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


def fit_logistic(features, labels: np.ndarray, num_classes: int, seed: int = 0) -> LinearFit:
    """Fits on ``features`` (n x d, dense, or a sparse TF-IDF matrix, which is not standardised)
    and integer ``labels`` in [0, num_classes); a class absent from ``labels`` gets a bias that
    rules it out."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    if sparse.issparse(features):
        standard = features.tocsr().astype(np.float64)
        mean, scale = np.zeros(features.shape[1]), np.ones(features.shape[1])
    else:
        features = np.asarray(features, dtype=np.float64)
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale[scale == 0] = 1.0
        standard = (features - mean) / scale
    present, counts = np.unique(labels, return_counts=True)
    folds = min(INNER_FOLDS, int(counts.min()))
    coordinates, basis = row_space(standard) if standard.shape[0] < standard.shape[1] else (standard, None)
    cv_log_loss = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence at the weakest strengths, and notices of changing defaults
        if folds >= 2:
            model = LogisticRegressionCV(Cs=list(STRENGTHS), cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                                         scoring="neg_log_loss", max_iter=200, l1_ratios=(0.0,)).fit(coordinates, labels)
            c = float(np.atleast_1d(model.C_)[0])
            scores = model.scores_  # by class in older releases, (folds, l1 ratios, strengths) in newer ones
            scores = np.asarray(next(iter(scores.values())) if isinstance(scores, dict) else scores).reshape(folds, -1)
            cv_log_loss = float(-scores.mean(axis=0).max())
        else:
            model, c = LogisticRegression(C=UNTUNED_C, max_iter=200).fit(coordinates, labels), UNTUNED_C
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
    singular = np.sqrt(values[kept])
    coordinates = vectors[:, kept] * singular
    basis = np.asarray((features.T @ (vectors[:, kept] / singular)).T)
    return coordinates, basis
