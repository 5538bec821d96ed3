"""Built-in regularizer ``bss``: batch spectral shrinkage (Chen et al. 2019, "Catastrophic
forgetting meets negative transfer").

The smallest singular values of a batch's feature matrix carry the source-specific directions
that do not transfer; shrinking them (weight x the sum of the k smallest squared singular
values) suppresses them while fine-tuning.
"""

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.settings import AT_LEAST_ONE, NOT_NEGATIVE, Setting

STRENGTH = Setting("bss_weight", 0.001, (0.0001, 0.001, 0.01), "weight of the shrinkage term", range=NOT_NEGATIVE)
SMALLEST = Setting(
    "bss_k", 1, (1, 2), "how many of the smallest singular values to shrink", integer=True, range=AT_LEAST_ONE
)


class SpectralShrinkage(Term):
    def __init__(self, model, weight: float, k: int):
        super().__init__()
        self.weight, self.k = weight, k
        self.features = None
        self.hook(model.backbone, lambda features: setattr(self, "features", features))

    def __call__(self, inputs):
        import torch

        singular = torch.linalg.svdvals(self.features.float())
        return self.weight * (singular[-self.k :] ** 2).sum()


class BSS(Regularizer):
    def bind(self, model, params, train):
        return SpectralShrinkage(model, params.extra["bss_weight"], int(params.extra["bss_k"]))


@autotl.hookimpl
def register_regularizers(register):
    register(
        BSS(
            "bss",
            "batch spectral shrinkage: the k smallest singular values of the batch features pushed down",
            needs=frozenset({Capability.ADAPTED_FEATURES}),
            settings=(STRENGTH, SMALLEST),
        )
    )
