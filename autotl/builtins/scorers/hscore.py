"""Built-in scorer ``hscore``: how much of the features' variance lies between the class means
(Bao et al. 2019), registered in its shrunk form (Ibrahim et al. 2022).

The plain form is at most classes - 1 and nears it for every source once the features have more
dimensions than the target has examples per class, autotl's usual case: what separates the
sources is then noise. ``hscore(features, labels)`` still computes it, for the Python API; the
registered scorer is the shrunk one. Its weighted Kendall tau against fine-tuned accuracy was
negative on every target of docs/benchmarks.md, so it is shown, not counted.
"""

import numpy as np

import autotl
from autotl.contracts.scorers import FunctionScorer, ScoringInputs


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

        estimate = LedoitWolf(store_precision=False).fit(
            f - f.mean(axis=0)
        )  # its precision: an eigendecomposition not needed
        covariance, weight = estimate.covariance_, 1 - estimate.shrinkage_
    else:
        covariance = np.cov(f, rowvar=False)
    if (
        shrinkage and estimate.shrinkage_ > 0
    ):  # positive definite: a solve (the pseudo-inverse's SVD takes seconds at d = 1280)
        solved = np.linalg.solve(covariance, centred.T)
    else:
        solved = np.linalg.pinv(covariance, rcond=1e-15) @ centred.T
    return float(weight * np.einsum("ij,ji->", centred, solved) / (len(f) - 1))


def score(inputs: ScoringInputs) -> float:
    return hscore(inputs.features, inputs.labels, shrinkage=True)


@autotl.hookimpl
def register_scorers(register):
    register(
        FunctionScorer(
            "hscore",
            "H-score with Ledoit-Wolf shrinkage (Bao et al. 2019; Ibrahim et al. 2022)",
            ranks_sources=False,
            function=score,
        )
    )
