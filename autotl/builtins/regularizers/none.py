"""Built-in regularizer ``none``: the task loss alone."""

import autotl
from autotl.contracts.regularizers import Regularizer


class NoRegularizer(Regularizer):
    def bind(self, model, params, train):
        return None


@autotl.hookimpl
def register_regularizers(register):
    register(NoRegularizer("none", "no penalty: the task loss alone", penalises=False))
