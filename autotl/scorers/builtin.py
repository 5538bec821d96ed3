"""Built-in scorers: LogME, LEEP, NCE, H-score (plain and shrunk), leave-one-out kNN accuracy,
and the source head's confidence on the target, a source/target similarity that needs no
source data."""

import numpy as np

import autotl
from autotl import transferability
from autotl.needs import Capability
from autotl.scorers import FunctionScorer, ScoringInputs

HEAD = frozenset({Capability.SOURCE_HEAD})


def source_confidence(inputs: ScoringInputs) -> float:
    """1 - the source head's mean prediction entropy over the target, over its maximum log(C):
    near 1 when the target looks like classes the source knows, near 0 when it looks like none."""
    p = np.clip(inputs.source_probs, 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1).mean()
    return float(1 - entropy / np.log(p.shape[1]))


@autotl.hookimpl
def register_scorers(register):
    register(FunctionScorer("logme", "LogME: evidence of a Bayesian linear model on the features (You et al. 2021)",
                            function=lambda i: transferability.logme(i.features, i.labels)))
    # H-score is at most classes - 1 in its plain form and nears it for every source once the
    # features have more dimensions than the target has examples per class, autotl's usual case:
    # what separates the sources is then noise. Its weighted Kendall tau against fine-tuned
    # accuracy was negative on every target of docs/benchmarks.md. It is shown, not counted.
    register(FunctionScorer("hscore", "H-score with Ledoit-Wolf shrinkage (Bao et al. 2019; Ibrahim et al. 2022)",
                            ranks_sources=False, function=lambda i: transferability.hscore(i.features, i.labels, shrinkage=True)))
    register(FunctionScorer("knn", "leave-one-out 5-nearest-neighbour accuracy on the features",
                            function=lambda i: transferability.knn_accuracy(i.features, i.labels)))
    register(FunctionScorer("leep", "LEEP: log-likelihood of the labels through the source head (Nguyen et al. 2020)",
                            needs=HEAD, function=lambda i: transferability.leep(i.source_probs, i.labels)))
    register(FunctionScorer("nce", "NCE: minus H(target label | source head's label) (Tran et al. 2019)",
                            needs=HEAD, function=lambda i: transferability.nce(i.source_probs.argmax(axis=1), i.labels)))
    register(FunctionScorer("source_confidence", "how sure the source head is on the target: a similarity needing no source data",
                            needs=HEAD, function=source_confidence))
