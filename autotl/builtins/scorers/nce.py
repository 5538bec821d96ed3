"""Built-in scorer ``nce``: how much the source head's hard predictions tell of the target labels
(Tran et al. 2019)."""

import numpy as np

import autotl
from autotl.builtins.scorers import one_hot
from autotl.contracts.capabilities import Capability
from autotl.contracts.scorers import FunctionScorer, ScoringInputs


def nce(source_labels: np.ndarray, labels: np.ndarray) -> float:
    """NCE (Tran et al., 2019): minus the conditional entropy H(Y | Z) of the target labels given
    the source head's hard predictions, from their empirical joint distribution."""
    z = np.asarray(source_labels).astype(np.int64).reshape(-1)
    y = np.asarray(labels).astype(np.int64).reshape(-1)
    joint = one_hot(y).T @ one_hot(z) / len(y)  # P(y, z)
    p_z = joint.sum(axis=0)
    seen = p_z > 0
    given_source = joint[:, seen] / p_z[seen]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(given_source > 0, given_source * np.log(given_source), 0.0)
    return float(np.sum(p_z[seen] * plogp.sum(axis=0)))


def score(inputs: ScoringInputs) -> float:
    return nce(inputs.source_probs.argmax(axis=1), inputs.labels)


@autotl.hookimpl
def register_scorers(register):
    register(
        FunctionScorer(
            "nce",
            "NCE: minus H(target label | source head's label) (Tran et al. 2019)",
            needs=frozenset({Capability.SOURCE_HEAD}),
            function=score,
        )
    )
