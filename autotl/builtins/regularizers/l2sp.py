"""Built-in regularizer ``l2sp``: alpha/2 x the squared distance of the backbone's weights to their
pretrained values, with the head under plain weight decay (Li et al. 2018, "Explicit inductive
bias for transfer learning with convolutional networks").

The anchored backbone weights are left out of the optimizer's weight decay, which would
pull them towards zero instead.
"""

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.settings import NOT_NEGATIVE, Setting

STRENGTH = Setting(
    "l2sp_alpha",
    0.01,
    (0.001, 0.01, 0.1),
    "weight of the squared distance to the pretrained weights",
    range=NOT_NEGATIVE,
)


class DistanceToStart(Term):
    def __init__(self, model, alpha: float):
        super().__init__()
        self.alpha = alpha
        self.anchors = [(p, p.detach().clone()) for p in model.backbone.body.parameters() if p.requires_grad]
        self.anchored = frozenset(id(p) for p, _ in self.anchors)

    def __call__(self, inputs):
        return 0.5 * self.alpha * sum(((p - start) ** 2).sum() for p, start in self.anchors)


class L2SP(Regularizer):
    def bind(self, model, params, train):
        return DistanceToStart(model, params.extra["l2sp_alpha"])


@autotl.hookimpl
def register_regularizers(register):
    register(
        L2SP(
            "l2sp",
            "alpha/2 x squared distance of the backbone weights to the pretrained ones; the head under weight decay",
            needs=frozenset({Capability.TRAINED_BACKBONE}),
            settings=(STRENGTH,),
        )
    )
