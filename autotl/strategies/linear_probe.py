"""Built-in strategy ``linear_probe``: a new linear head on frozen, cached features.

The backbone runs once per input ever (the feature cache keeps the result), so
every epoch after that costs only the head.
"""

import autotl
from autotl.strategies import Strategy


class LinearProbe(Strategy):
    def train(self, job):
        from autotl.training.batches import feature_batches
        from autotl.training.classifier import Classifier
        from autotl.training.job import TrainedModel
        from autotl.training.loop import evaluate, fit

        backbone = job.load_backbone(pretrained=True)
        backbone.requires_grad_(False)
        features = {split: job.cache.features(backbone, job.source, job.splits[split], job.device) for split in ("train", "val", "test")}
        classifier = Classifier(backbone, len(job.classes))
        batches = {
            split: feature_batches(features[split], job.labels(split), job.params.batch_size, shuffle=split == "train", seed=job.seed)
            for split in features
        }
        result = fit(
            classifier.head, batches["train"], batches["val"], job.params, job.device, job.metric, len(job.classes), job.on_epoch
        )
        probabilities = {split: evaluate(classifier.head, batches[split], job.device)[0] for split in ("val", "test")}
        return TrainedModel(classifier.cpu(), result, probabilities)


@autotl.hookimpl
def register_strategies(register):
    register(
        LinearProbe(
            "linear_probe",
            "a new linear head trained on frozen, cached features",
            defaults={"lr": 1e-2, "epochs": 50, "batch_size": 64, "weight_decay": 1e-4},
        )
    )
