"""Transferability scores against values computed once with the authors' published code, frozen here."""

import numpy as np
import pytest

from autotl.transferability import logme


def cases() -> dict[str, tuple[np.ndarray, np.ndarray, bool]]:
    rng = np.random.default_rng(20261127)
    out = {}
    y = np.repeat(np.arange(3), 20)
    out["separable"] = (rng.normal(size=(60, 8)) + 4.0 * np.eye(8)[y], y, False)
    out["hard"] = (rng.normal(size=(60, 8)), np.repeat(np.arange(3), 20), False)
    y = np.repeat(np.arange(4), 5)
    out["wide"] = (rng.normal(size=(20, 50)) + np.eye(50)[y] * 2, y, False)
    y = np.array([0] * 50 + [1] * 6 + [2] * 4)
    out["imbalanced"] = (rng.normal(size=(60, 10)) + 1.5 * np.eye(10)[y], y, False)
    f, w = rng.normal(size=(80, 6)), rng.normal(size=(6, 2))
    out["regression"] = (f, f @ w + 0.1 * rng.normal(size=(80, 2)), True)
    return out


# LogME.fit (fixed-point version) from github.com/thuml/LogME, run on cases() above.
PUBLISHED_LOGME = {
    "separable": -0.11925290280211372,
    "hard": -0.8693491235455258,
    "wide": 3.3609825208091033,
    "imbalanced": -0.33945938918380203,
    "regression": 0.5966208389994416,
}


@pytest.mark.parametrize("case", PUBLISHED_LOGME)
def test_logme_matches_the_published_code(case):
    features, labels, regression = cases()[case]
    assert logme(features, labels, regression=regression) == pytest.approx(PUBLISHED_LOGME[case], rel=1e-6)


def test_logme_ranks_separable_features_above_noise():
    all_cases = cases()
    assert logme(*all_cases["separable"][:2]) > logme(*all_cases["hard"][:2])
