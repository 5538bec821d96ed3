"""Built-in strategy ``lp_ft``: a linear probe first, then fine-tuning from that head (Kumar et al. 2022).

A random head's large early gradients distort the pretrained features before the
head is any good; starting from a probed head leaves the features nearer their
pretrained values, which helps most away from the training distribution.
"""

from dataclasses import dataclass, replace

import autotl
from autotl.contracts.settings import AT_LEAST_ONE, CLASS_WEIGHT, Setting
from autotl.contracts.strategies import Strategy
from autotl.training.augmentation import AUGMENT
from autotl.training.end_to_end import TUNED, train_end_to_end
from autotl.training.heads import PROBE_DEFAULTS, train_head

PROBE_EPOCHS = Setting(
    "probe_epochs", 20, (10, 20, 50), "epochs of the linear probe before fine-tuning", integer=True, range=AT_LEAST_ONE
)


@dataclass(frozen=True)
class LinearProbeThenFinetune(Strategy):
    def train(self, job):
        from autotl.training.classifier import Classifier

        classifier = Classifier(job.load_backbone(pretrained=True), len(job.classes))
        probe = replace(job.params, **PROBE_DEFAULTS | {"epochs": int(job.params.extra["probe_epochs"])})
        train_head(job, classifier, probe, on_epoch=lambda epoch: None)
        classifier.backbone.body.requires_grad_(True)
        return train_end_to_end(job, classifier)


@autotl.hookimpl
def register_strategies(register):
    register(
        LinearProbeThenFinetune(
            "lp_ft",
            "a linear probe on cached features, then every weight fine-tuned from that head",
            provides=TUNED,
            defaults={"lr": 1e-4, "epochs": 5},
            settings=(PROBE_EPOCHS, CLASS_WEIGHT, AUGMENT),
            depth=0.8,
        )
    )
