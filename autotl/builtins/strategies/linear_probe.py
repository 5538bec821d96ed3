"""Built-in strategy ``linear_probe``: a linear head on frozen, cached features, fitted as a convex
logistic regression (no learning rate, no epochs).

The backbone runs once per input ever (the feature cache keeps the result), so a probe costs
only the head's fit.
"""

from dataclasses import dataclass

import autotl
from autotl.contracts.settings import CLASS_WEIGHT
from autotl.contracts.strategies import Strategy


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
        features = {
            split: job.cache.features(classifier.backbone, job.source, job.splits[split], job.device)
            for split in ("train", "val", "test")
            if job.splits[split]
        }  # select's trials leave test empty
        train_labels, val_labels = np.asarray(job.labels("train")), np.asarray(job.labels("val"))
        linear = fit_logistic(features["train"], train_labels, len(job.classes), job.seed, job.class_weights())
        with torch.no_grad():
            classifier.head.weight.copy_(torch.from_numpy(linear.weight))
            classifier.head.bias.copy_(torch.from_numpy(linear.bias))
        probabilities = {
            split: linear.probabilities(features[split]) for split in ("train", "val", "test") if split in features
        }
        predictions = probabilities["val"].argmax(1)
        epoch = Epoch(
            1,
            log_loss(probabilities["train"], train_labels),
            score(job.metric, val_labels, predictions, len(job.classes)),
            score("accuracy", val_labels, predictions, len(job.classes)),
            log_loss(probabilities["val"], val_labels),
            probabilities["val"],
        )
        job.on_epoch(epoch)
        del probabilities["train"]
        return TrainedModel(classifier.cpu(), FitResult(1, epoch.val_metric, [epoch]), probabilities)


@autotl.hookimpl
def register_strategies(register):
    register(
        LogisticProbe(
            "linear_probe",
            "a linear head on frozen, cached features: multinomial logistic regression "
            "by L-BFGS, its L2 strength chosen by inner cross-validation",
            defaults={"epochs": 1},
            cached_features=True,
            depth=0.0,
            schedule=False,
            settings=(CLASS_WEIGHT,),
        )
    )
