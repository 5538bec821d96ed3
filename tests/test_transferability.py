"""Transferability scores against values computed once with the authors' published code, frozen here."""

import numpy as np
import pytest

from autotl.transferability import hscore, knn_accuracy, leep, logme, nce


def cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20261127)
    out = {}
    y = np.repeat(np.arange(3), 20)
    out["separable"] = (rng.normal(size=(60, 8)) + 4.0 * np.eye(8)[y], y)
    out["hard"] = (rng.normal(size=(60, 8)), np.repeat(np.arange(3), 20))
    y = np.repeat(np.arange(4), 5)
    out["wide"] = (rng.normal(size=(20, 50)) + np.eye(50)[y] * 2, y)
    y = np.array([0] * 50 + [1] * 6 + [2] * 4)
    out["imbalanced"] = (rng.normal(size=(60, 10)) + 1.5 * np.eye(10)[y], y)
    return out


def source_predictions(features: np.ndarray, source_classes: int = 6) -> np.ndarray:
    """A made-up source head's softmax over the features, the same for the same feature width."""
    weights = np.random.default_rng(features.shape[1]).normal(size=(features.shape[1], source_classes))
    logits = features @ weights
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


# LogME.fit (fixed-point version) from github.com/thuml/LogME, run on cases() above.
PUBLISHED_LOGME = {
    "separable": -0.11925290280211372,
    "hard": -0.8693491235455258,
    "wide": 3.3609825208091033,
    "imbalanced": -0.33945938918380203,
}


@pytest.mark.parametrize("case", PUBLISHED_LOGME)
def test_logme_matches_the_published_code(case):
    features, labels = cases()[case]
    assert logme(features, labels) == pytest.approx(PUBLISHED_LOGME[case], rel=1e-6)


def test_logme_ranks_separable_features_above_noise():
    all_cases = cases()
    assert logme(*all_cases["separable"]) > logme(*all_cases["hard"])


# Computed once on cases() and source_predictions() with: LEEP from github.com/thuml/LogME (LEEP.py);
# NCE, H-score and the regularized H-score from github.com/thuml/Transfer-Learning-Library
# (tllib/ranking); kNN with scikit-learn's KNeighborsClassifier(5) under LeaveOneOut.
PUBLISHED = {
    "leep": {
        "separable": -0.6856051958789718,
        "hard": -1.0701372004266454,
        "wide": -0.9106030623763182,
        "imbalanced": -0.45253119111546486,
    },
    "nce": {
        "separable": -0.6434408828015865,
        "hard": -1.026084879016098,
        "wide": -0.8967350080091745,
        "imbalanced": -0.39338772243417985,
    },
    "hscore": {
        "separable": 1.7591901978177187,
        "hard": 0.26702538219907135,
        "wide": 3.0000000000000013,
        "imbalanced": 0.9897030399803874,
    },
    "hscore_shrinkage": {
        "separable": 1.7102661195317077,
        "hard": 0.12938442317725754,
        "wide": 0.8393071517102082,
        "imbalanced": 0.32414663208013256,
    },
    "knn": {
        "separable": 1.0,
        "hard": 0.3333333333333333,
        "wide": 0.3,
        "imbalanced": 0.8333333333333334,
    },
}
SCORES = {
    "leep": lambda f, y: leep(source_predictions(f), y),
    "nce": lambda f, y: nce(source_predictions(f).argmax(axis=1), y),
    "hscore": hscore,
    "hscore_shrinkage": lambda f, y: hscore(f, y, shrinkage=True),
    "knn": knn_accuracy,
}


@pytest.mark.parametrize("score, case", [(score, case) for score, values in PUBLISHED.items() for case in values])
def test_scores_match_the_published_code(score, case):
    features, labels = cases()[case]
    assert SCORES[score](features, labels) == pytest.approx(PUBLISHED[score][case], rel=1e-6)


@pytest.mark.parametrize("score", ["leep", "nce", "hscore", "hscore_shrinkage", "knn"])
def test_every_score_ranks_separable_features_above_noise(score):
    all_cases = cases()
    assert SCORES[score](*all_cases["separable"]) > SCORES[score](*all_cases["hard"])
