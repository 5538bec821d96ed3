"""Built-in strategies ``finetune`` (every weight trained, from the pretrained ones)
and ``scratch`` (the same architecture from random weights: the baseline that
says what pretraining bought)."""

from dataclasses import dataclass

import autotl
from autotl.needs import Capability
from autotl.strategies import Strategy


@dataclass(frozen=True)
class Finetune(Strategy):
    pretrained: bool = True

    def train(self, job):
        from autotl.training.batches import raw_batches
        from autotl.training.classifier import Classifier
        from autotl.training.job import TrainedModel
        from autotl.training.loop import evaluate, fit

        classifier = Classifier(job.load_backbone(pretrained=self.pretrained), len(job.classes))
        if not self.pretrained:
            _default_batch_norm_momentum(classifier)
        preprocess = classifier.backbone.preprocessor
        batches = {
            split: raw_batches(job.inputs(split), job.labels(split), preprocess, job.params.batch_size, job.device, shuffle=split == "train", seed=job.seed)
            for split in ("train", "val", "test")
        }
        result = fit(
            classifier, batches["train"], batches["val"], job.params, job.device, job.metric, len(job.classes),
            job.on_epoch, penalty=lambda: job.regularizer.penalty(classifier),
        )
        probabilities = {split: evaluate(classifier, batches[split], job.device)[0] for split in ("val", "test")}
        return TrainedModel(classifier.cpu(), result, probabilities)


def _default_batch_norm_momentum(model) -> None:
    """Random-init statistics need PyTorch's default momentum (0.1) to catch up in a few epochs;
    some sources (EfficientNet-Lite: 0.01) ship a slow one meant to refine pretrained statistics."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            module.momentum = 0.1


@autotl.hookimpl
def register_strategies(register):
    trained = frozenset({Capability.TRAINED_BACKBONE})
    register(
        Finetune(
            "finetune", "every weight trained end to end, from the pretrained ones",
            provides=trained, defaults={"lr": 1e-4, "epochs": 5},
        )
    )
    register(
        Finetune(
            "scratch", "the same architecture trained from random weights (baseline)",
            provides=trained, defaults={"lr": 1e-3, "epochs": 5}, pretrained=False,
        )
    )
