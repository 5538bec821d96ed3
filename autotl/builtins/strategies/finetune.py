"""Built-in strategy ``finetune``: every weight trained end to end from the pretrained ones, the
backbone at its own learning rate (Kornblith et al. 2019: the strong general-purpose choice)."""

from dataclasses import dataclass

import autotl
from autotl.contracts.settings import CLASS_WEIGHT
from autotl.contracts.strategies import Strategy
from autotl.training.augmentation import AUGMENT
from autotl.training.end_to_end import BACKBONE_LR_RATIO, LAYER_DECAY, TUNED, backbone_groups, train_end_to_end


@dataclass(frozen=True)
class Finetune(Strategy):
    pretrained: bool = True

    def train(self, job):
        from autotl.training.classifier import Classifier

        classifier = Classifier(job.load_backbone(pretrained=self.pretrained), len(job.classes))
        return train_end_to_end(job, classifier, backbone_groups(job, classifier), pretrained=self.pretrained)


@autotl.hookimpl
def register_strategies(register):
    register(
        Finetune(
            "finetune",
            "every weight trained end to end, from the pretrained ones; the backbone at "
            "backbone_lr_ratio x the head's learning rate, lower blocks slower by layer_decay",
            provides=TUNED,
            defaults={"lr": 1e-3, "epochs": 5},
            settings=(BACKBONE_LR_RATIO, LAYER_DECAY, CLASS_WEIGHT, AUGMENT),
            depth=1.0,
        )
    )
