"""Built-in strategies ``linear_probe`` and ``mlp_probe``: a new head on frozen, cached features.

The backbone runs once per input ever (the feature cache keeps the result), so
every epoch after that costs only the head.
"""

from dataclasses import dataclass

import autotl
from autotl.strategies import Strategy
from autotl.training.params import Setting

HIDDEN = Setting("hidden", 512, (256, 512, 1024), "width of the MLP head's hidden layer", integer=True)


@dataclass(frozen=True)
class Probe(Strategy):
    mlp: bool = False

    def train(self, job):
        from autotl.training.classifier import Classifier
        from autotl.training.job import TrainedModel

        backbone = job.load_backbone(pretrained=True)
        classifier = Classifier(backbone, len(job.classes), int(job.params.extra["hidden"]) if self.mlp else 0)
        result, probabilities = train_head(job, classifier, job.params, job.on_epoch)
        return TrainedModel(classifier.cpu(), result, probabilities)


def train_head(job, classifier, params, on_epoch):
    """Trains ``classifier.head`` alone on the cached features of its frozen backbone; returns the
    fit and the val and test probabilities."""
    from autotl.training.batches import feature_batches
    from autotl.training.loop import evaluate, fit

    classifier.backbone.requires_grad_(False)
    features = {split: job.cache.features(classifier.backbone, job.source, job.splits[split], job.device)
                for split in ("train", "val", "test") if job.splits[split]}  # select's trials leave test empty
    batches = {
        split: feature_batches(features[split], job.labels(split), params.batch_size, shuffle=split == "train", seed=job.seed)
        for split in features
    }
    result = fit(classifier.head, batches["train"], batches["val"], params, job.device, job.metric, len(job.classes), on_epoch)
    probabilities = {split: evaluate(classifier.head, batches[split], job.device)[0] for split in ("val", "test") if split in batches}
    return result, probabilities


PROBE_DEFAULTS = {"lr": 1e-2, "epochs": 50, "batch_size": 64, "weight_decay": 1e-4}


@autotl.hookimpl
def register_strategies(register):
    register(Probe("linear_probe", "a new linear head trained on frozen, cached features",
                   defaults=PROBE_DEFAULTS, cached_features=True, depth=0.0))
    register(Probe("mlp_probe", "a new MLP head (one hidden layer, dropout 0.2) trained on frozen, cached features",
                   defaults=PROBE_DEFAULTS | {"lr": 3e-3}, settings=(HIDDEN,), cached_features=True, mlp=True, depth=0.1))
