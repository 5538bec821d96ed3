"""End-to-end training, shared by the strategies that train the backbone (``finetune``,
``scratch``, ``partial_freeze``, ``lp_ft``, ``lora``, ``multitask``) and open to third-party
ones: the backbone at its own, slower learning rate, the regularizer bound to the starting
weights, the epoch picked by val."""

from typing import TYPE_CHECKING, Iterable

from autotl.contracts.capabilities import Capability
from autotl.contracts.settings import Setting

if TYPE_CHECKING:
    from autotl.contracts.regularizers import Term
    from autotl.training.classifier import Classifier
    from autotl.training.job import TrainedModel, TrainingJob
    from autotl.training.loop import ParamGroup

BACKBONE_LR_RATIO = Setting("backbone_lr_ratio", 0.1, (0.03, 0.1, 0.3), "backbone learning rate over the new head's")
LAYER_DECAY = Setting("layer_decay", 1.0, (0.65, 0.8, 1.0), "learning-rate factor per block, from the top block down")
TUNED = frozenset({Capability.TRAINED_BACKBONE, Capability.ADAPTED_FEATURES})
"""What a strategy that updates the pretrained backbone offers regularizers."""


def backbone_groups(job: "TrainingJob", classifier: "Classifier", extra: "list | None" = None) -> "list[ParamGroup]":
    """The new head at the learning rate, the backbone (and ``extra`` parameters) slower by the
    job's ``backbone_lr_ratio`` and ``layer_decay`` (1 where the strategy declares none): a random
    head needs large steps, pretrained weights small ones."""
    from autotl.training.layers import depth_groups
    from autotl.training.loop import ParamGroup

    ratio = job.params.extra.get("backbone_lr_ratio", 1.0)
    groups = depth_groups(classifier.backbone, classifier.head, ratio, job.params.extra.get("layer_decay", 1.0))
    return groups + [ParamGroup(extra, ratio)] if extra else groups


def train_end_to_end(
    job: "TrainingJob",
    classifier: "Classifier",
    groups: "list[ParamGroup] | None" = None,
    terms: "Iterable[Term]" = (),
    pretrained: bool = True,
) -> "TrainedModel":
    """Trains ``groups`` (by default the body and the new head; never the source head unless a
    group holds it) on preprocessed raw inputs, with the job's regularizer bound to the starting
    weights; picks the epoch by val and returns val and test probabilities.

    A pretrained backbone's batch-norm layers stay as they were, in inference mode (Keras's
    fine-tuning advice): their statistics describe what the layers above were trained on, and
    small target batches estimate them badly. From random weights they train, and catch up fast.
    """
    from autotl.training.augmentation import augmenter
    from autotl.training.batches import raw_batches
    from autotl.training.job import TrainedModel
    from autotl.training.layers import freeze_batch_norm
    from autotl.training.loop import ParamGroup, evaluate, fit

    if pretrained:
        freeze_batch_norm(classifier.backbone)
    else:
        _default_batch_norm_momentum(classifier)
    preprocess = classifier.backbone.preprocessor
    policy = job.augmentation()
    augment = augmenter(policy, preprocess.size) if policy != "none" else None
    batches = {
        split: raw_batches(
            job.inputs(split),
            job.labels(split),
            preprocess,
            job.params.batch_size,
            job.device,
            shuffle=split == "train",
            seed=job.seed,
            augment=augment if split == "train" else None,
        )
        for split in ("train", "val", "test")
        if job.splits[split]  # select's trials leave test empty
    }
    classifier.to(job.device)
    groups = groups or [ParamGroup([*classifier.backbone.body.parameters(), *classifier.head.parameters()])]
    # The regularizer first: a strategy's term may run the backbone on other inputs, and so
    # overwrite what the regularizer's hooks recorded of this batch.
    terms = [job.regularizer.bind(classifier, job.params, batches["train"]), *terms]
    try:
        result = fit(
            classifier,
            batches["train"],
            batches["val"],
            job.params,
            job.device,
            job.metric,
            len(job.classes),
            job.on_epoch,
            terms=terms,
            groups=groups,
            weights=job.class_weights(),
        )
    finally:
        for term in terms:
            if term is not None:
                term.close()
    probabilities = {
        split: evaluate(classifier, batches[split], job.device)[0] for split in ("val", "test") if split in batches
    }
    return TrainedModel(classifier.cpu(), result, probabilities)


def _default_batch_norm_momentum(model) -> None:
    """Random-init statistics need PyTorch's default momentum (0.1) to catch up in a few epochs;
    some sources (EfficientNet-Lite: 0.01) ship a slow one meant to refine pretrained statistics."""
    from autotl.training.layers import batch_norms

    for module in batch_norms(model):
        module.momentum = 0.1
