"""Built-in strategies ``linear_probe`` and ``mlp_probe``: a new head on frozen, cached features.

The backbone runs once per input ever (the feature cache keeps the result), so a probe costs
only the head's fit: a convex logistic regression for ``linear_probe`` (no learning rate, no
epochs), gradient steps for ``mlp_probe``.
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


@dataclass(frozen=True)
class LogisticProbe(Strategy):
    """Multinomial logistic regression by L-BFGS, its L2 strength chosen by inner cross-validation
    on the training split (:mod:`autotl.training.convex`), loaded into a linear head."""

    def train(self, job):
        import numpy as np
        import torch

        from autotl.training.classifier import Classifier
        from autotl.training.convex import fit_logistic
        from autotl.training.job import TrainedModel
        from autotl.training.loop import Epoch, FitResult
        from autotl.training.metrics import log_loss, score

        classifier = Classifier(job.load_backbone(pretrained=True), len(job.classes))
        features = {split: job.cache.features(classifier.backbone, job.source, job.splits[split], job.device)
                    for split in ("train", "val", "test") if job.splits[split]}  # select's trials leave test empty
        train_labels, val_labels = np.asarray(job.labels("train")), np.asarray(job.labels("val"))
        linear = fit_logistic(features["train"], train_labels, len(job.classes), job.seed)
        with torch.no_grad():
            classifier.head.weight.copy_(torch.from_numpy(linear.weight))
            classifier.head.bias.copy_(torch.from_numpy(linear.bias))
        probabilities = {split: linear.probabilities(features[split]) for split in ("train", "val", "test") if split in features}
        predictions = probabilities["val"].argmax(1)
        epoch = Epoch(1, log_loss(probabilities["train"], train_labels), score(job.metric, val_labels, predictions, len(job.classes)),
                      score("accuracy", val_labels, predictions, len(job.classes)), log_loss(probabilities["val"], val_labels))
        job.on_epoch(epoch)
        del probabilities["train"]
        return TrainedModel(classifier.cpu(), FitResult(1, epoch.val_metric, [epoch]), probabilities)


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
    register(LogisticProbe("linear_probe", "a linear head on frozen, cached features: multinomial logistic regression "
                           "by L-BFGS, its L2 strength chosen by inner cross-validation", defaults={"epochs": 1},
                           cached_features=True, depth=0.0,
                           schedule=False))
    register(Probe("mlp_probe", "a new MLP head (one hidden layer, dropout 0.2) trained on frozen, cached features",
                   defaults=PROBE_DEFAULTS | {"lr": 3e-3}, settings=(HIDDEN,), cached_features=True, mlp=True, depth=0.1))
