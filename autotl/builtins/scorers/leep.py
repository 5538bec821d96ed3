"""Built-in scorer ``leep``: how well the source head's predictions, mapped to the target classes,
explain the labels (Nguyen et al. 2020)."""

import numpy as np

import autotl
from autotl.builtins.scorers import one_hot
from autotl.contracts.capabilities import Capability
from autotl.contracts.scorers import FunctionScorer, ScoringInputs


def leep(source_probs: np.ndarray, labels: np.ndarray) -> float:
    """LEEP (Nguyen et al., 2020): the mean log-likelihood of the target labels under the
    "empirical predictor" that maps the source head's soft predictions z to P(y | z), with
    P(y | z) estimated from those same predictions over the target data."""
    p = np.asarray(source_probs, dtype=np.float64)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    joint = one_hot(y).T @ p / len(y)  # P(y, z), target classes x source classes
    given_source = joint / joint.sum(axis=0, keepdims=True)  # P(y | z)
    predicted = p @ given_source.T  # each example's distribution over target classes
    return float(np.mean(np.log(predicted[np.arange(len(y)), y])))


def score(inputs: ScoringInputs) -> float:
    return leep(inputs.source_probs, inputs.labels)


@autotl.hookimpl
def register_scorers(register):
    register(
        FunctionScorer(
            "leep",
            "LEEP: log-likelihood of the labels through the source head (Nguyen et al. 2020)",
            needs=frozenset({Capability.SOURCE_HEAD}),
            function=score,
        )
    )
