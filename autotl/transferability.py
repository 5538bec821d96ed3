"""Transferability scores as plain functions, the Python contract: how well frozen source features
suit the target labels, without training. Numpy in, float out, higher is better. Each one lives
beside its scorer plugin in :mod:`autotl.builtins.scorers`."""

from autotl.builtins.scorers.hscore import hscore
from autotl.builtins.scorers.knn import knn_accuracy
from autotl.builtins.scorers.leep import leep
from autotl.builtins.scorers.logme import logme
from autotl.builtins.scorers.nce import nce

__all__ = ["hscore", "knn_accuracy", "leep", "logme", "nce"]
