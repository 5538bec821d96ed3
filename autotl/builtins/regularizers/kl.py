"""Built-in regularizer ``kl``: the KL divergence between the source head's outputs before and
during fine-tuning, softened by a temperature (knowledge distillation from the source model
into itself, as in learning without forgetting, Li & Hoiem 2017).

The fine-tuned backbone must still support the source task: its features, through the
source head, should predict what the pretrained model predicted on the same inputs.
"""

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.settings import NOT_NEGATIVE, POSITIVE, Setting

STRENGTH = Setting(
    "kl_weight", 1.0, (0.1, 1.0, 3.0), "weight of the KL divergence to the source outputs", range=NOT_NEGATIVE
)
TEMPERATURE = Setting("kl_temperature", 2.0, (1.0, 2.0, 4.0), "softmax temperature of both outputs", range=POSITIVE)


class SourceOutputsKL(Term):
    """weight x T^2 x KL(source model's outputs / T || current outputs / T), batch-averaged.

    The current outputs go through ``model.backbone.source_head`` as it is: left out of
    training by every strategy but ``multitask``, which trains it.
    """

    def __init__(self, model, weight: float, temperature: float):
        from autotl.training.layers import frozen_copy

        super().__init__()
        self.weight, self.temperature = weight, temperature
        self.reference = frozen_copy(model.backbone)
        self.head = model.backbone.source_head
        self.features = None
        self.hook(model.backbone, self.record)

    def record(self, features) -> None:
        self.features = features

    def __call__(self, inputs):
        import torch
        from torch.nn import functional

        with torch.no_grad():
            target = self.reference.source_head(self.reference(inputs)).float()
        current = self.head(self.features).float()
        t = self.temperature
        divergence = functional.kl_div(
            functional.log_softmax(current / t, dim=-1),
            functional.log_softmax(target / t, dim=-1),
            log_target=True,
            reduction="batchmean",
        )
        return self.weight * t * t * divergence


class KL(Regularizer):
    def bind(self, model, params, train):
        return SourceOutputsKL(model, params.extra["kl_weight"], params.extra["kl_temperature"])


@autotl.hookimpl
def register_regularizers(register):
    register(
        KL(
            "kl",
            "KL divergence between the source head's outputs before and during fine-tuning, at a temperature",
            needs=frozenset({Capability.SOURCE_HEAD, Capability.ADAPTED_FEATURES}),
            settings=(STRENGTH, TEMPERATURE),
            extra_forwards=1.0,
        )
    )
