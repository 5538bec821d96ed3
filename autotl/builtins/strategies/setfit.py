"""Built-in strategy ``setfit``: few-shot text in the SetFit manner (Tunstall et al. 2022), the
sentence encoder tuned on pairs of labelled texts by a cosine-similarity loss, then a logistic
head on its embeddings (``autotl.training.contrastive``)."""

from dataclasses import dataclass

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.settings import CLASS_WEIGHT
from autotl.contracts.strategies import StepCost, Strategy


@dataclass(frozen=True)
class Setfit(Strategy):
    def step_cost(self, params, blocks, source_data):
        """Per training text and epoch: two pairs, so four texts through the encoder and back, and
        one more forward pass to embed it for the head."""
        return StepCost(forwards=5.0, backwards=4.0)

    def train(self, job):
        from autotl.training.classifier import Classifier
        from autotl.training.contrastive import train_contrastive

        return train_contrastive(job, Classifier(job.load_backbone(pretrained=True), len(job.classes)))


@autotl.hookimpl
def register_strategies(register):
    register(
        Setfit(
            "setfit",
            "the text encoder tuned on pairs of texts (same class: cosine 1, two classes: 0), "
            "then a logistic-regression head on its embeddings, the last epoch kept (SetFit's practice)",
            needs=frozenset({Capability.TEXT_ENCODER}),
            defaults={"lr": 2e-5, "epochs": 20, "batch_size": 16},
            settings=(CLASS_WEIGHT,),
            depth=0.3,
        )
    )
