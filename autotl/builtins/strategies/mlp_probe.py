"""Built-in strategy ``mlp_probe``: a new MLP head trained by gradient steps on frozen, cached
features; the backbone runs once per input ever (the feature cache keeps the result)."""

from dataclasses import dataclass

import autotl
from autotl.contracts.settings import AT_LEAST_ONE, CLASS_WEIGHT, Setting
from autotl.contracts.strategies import Strategy
from autotl.training.heads import PROBE_DEFAULTS, train_head

HIDDEN = Setting(
    "hidden", 512, (256, 512, 1024), "width of the MLP head's hidden layer", integer=True, range=AT_LEAST_ONE
)


@dataclass(frozen=True)
class GradientProbe(Strategy):
    """A new head trained by gradient steps: an MLP with the declared ``hidden`` width, linear without it."""

    def train(self, job):
        from autotl.training.classifier import Classifier
        from autotl.training.job import TrainedModel

        backbone = job.load_backbone(pretrained=True)
        classifier = Classifier(backbone, len(job.classes), int(job.params.extra.get("hidden", 0)))
        result, probabilities = train_head(job, classifier, job.params, job.on_epoch)
        return TrainedModel(classifier.cpu(), result, probabilities)


@autotl.hookimpl
def register_strategies(register):
    register(
        GradientProbe(
            "mlp_probe",
            "a new MLP head (one hidden layer, dropout 0.2) trained on frozen, cached features",
            defaults=PROBE_DEFAULTS | {"lr": 3e-3},
            settings=(HIDDEN, CLASS_WEIGHT),
            cached_features=True,
            depth=0.1,
        )
    )
