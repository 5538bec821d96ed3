"""Built-in strategy ``multitask``: one backbone, a source head and a target head, trained together.

With ``--source-data`` the source task is learnt from real labelled source examples (a new
source head for their classes, one source batch per target batch). Without it the source
task is the source model's own outputs on the target inputs, through its own head: learning
without forgetting (Li & Hoiem 2017). ``task_weight`` weighs the source task's loss.
"""

from dataclasses import dataclass

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.regularizers import Term
from autotl.contracts.settings import CLASS_WEIGHT, NOT_NEGATIVE, Setting
from autotl.contracts.strategies import StepCost, Strategy
from autotl.training.augmentation import AUGMENT
from autotl.training.end_to_end import BACKBONE_LR_RATIO, TUNED, backbone_groups, train_end_to_end

TASK_WEIGHT = Setting("task_weight", 1.0, (0.3, 1.0, 3.0), "weight of the source task's loss", range=NOT_NEGATIVE)
TEMPERATURE = 2.0
"""Learning without forgetting's temperature for the source outputs."""


class SourceDataTask(Term):
    """weight x cross-entropy of the source head on the next batch of source examples."""

    def __init__(self, model, batches, weight: float, device):
        super().__init__()
        self.model, self.weight, self.device = model, weight, device
        self.batches = _forever(batches)

    def __call__(self, inputs):
        from torch.nn import functional

        from autotl.training.backbone import move_batch

        source_inputs, labels = next(self.batches)
        backbone = self.model.backbone
        logits = backbone.source_head(backbone(move_batch(source_inputs, self.device)))
        return self.weight * functional.cross_entropy(logits, labels.to(self.device))


def _forever(loader):
    while True:
        yield from loader


@dataclass(frozen=True)
class Multitask(Strategy):
    def step_cost(self, params, blocks, source_data):
        """A step on a source batch too, or the frozen source model's forward pass (LwF)."""
        return StepCost(2.0, 2.0) if source_data else StepCost(2.0, 1.0)

    def train(self, job):
        from torch import nn

        from autotl.builtins.regularizers.kl import SourceOutputsKL
        from autotl.training.batches import raw_batches
        from autotl.training.classifier import Classifier

        classifier = Classifier(job.load_backbone(pretrained=True), len(job.classes))
        backbone, weight = classifier.backbone, job.params.extra["task_weight"]
        own_head = backbone.source_head
        if job.source_data is None:
            term = SourceOutputsKL(classifier, weight, TEMPERATURE)
        else:
            backbone.source_head = nn.Linear(backbone.feature_dim, len(job.source_data.classes))
            examples = [e for split in job.source_data.splits.values() for e in split]
            index = {label: i for i, label in enumerate(job.source_data.classes)}
            batches = raw_batches(
                [e.input for e in examples],
                [index[e.label] for e in examples],
                backbone.preprocessor,
                job.params.batch_size,
                job.device,
                shuffle=True,
                seed=job.seed,
            )
            term = SourceDataTask(classifier, batches, weight, job.device)
        groups = backbone_groups(job, classifier, extra=list(backbone.source_head.parameters()))
        result = train_end_to_end(job, classifier, groups, [term])
        backbone.source_head = own_head  # a head for the source data's classes is not part of the target model
        return result


@autotl.hookimpl
def register_strategies(register):
    register(
        Multitask(
            "multitask",
            "a shared backbone with the source head and the target head trained together: on --source-data, "
            "or on the source model's own outputs (learning without forgetting)",
            needs=frozenset({Capability.SOURCE_TASK}),
            provides=TUNED,
            defaults={"lr": 1e-3, "epochs": 5},
            settings=(TASK_WEIGHT, BACKBONE_LR_RATIO, CLASS_WEIGHT, AUGMENT),
            depth=0.9,
        )
    )
