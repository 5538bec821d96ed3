"""Built-in scorer ``source_confidence``: how sure the source head is on the target, a
source/target similarity that needs no source data."""

import numpy as np

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.scorers import FunctionScorer, ScoringInputs


def source_confidence(inputs: ScoringInputs) -> float:
    """1 - the source head's mean prediction entropy over the target, over its maximum log(C):
    near 1 when the target looks like classes the source knows, near 0 when it looks like none."""
    p = np.clip(inputs.source_probs, 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1).mean()
    return float(1 - entropy / np.log(p.shape[1]))


@autotl.hookimpl
def register_scorers(register):
    register(
        FunctionScorer(
            "source_confidence",
            "how sure the source head is on the target: a similarity needing no source data",
            needs=frozenset({Capability.SOURCE_HEAD}),
            function=source_confidence,
        )
    )
