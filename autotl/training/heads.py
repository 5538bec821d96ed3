"""Training a new head alone on the cached features of a frozen backbone: the probes' fit, and
the first stage of LP-FT."""

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from autotl.contracts.settings import TrainParams
    from autotl.training.classifier import Classifier
    from autotl.training.job import TrainingJob

PROBE_DEFAULTS = {"lr": 1e-2, "epochs": 50, "batch_size": 64, "weight_decay": 1e-4}
"""Settings that suit a head trained by gradient steps on fixed features."""


def train_head(job: "TrainingJob", classifier: "Classifier", params: "TrainParams", on_epoch: Callable) -> tuple:
    """Trains ``classifier.head`` alone on the cached features of its frozen backbone; returns the
    fit and the val and test probabilities."""
    from autotl.training.batches import feature_batches
    from autotl.training.loop import evaluate, fit

    classifier.backbone.requires_grad_(False)
    features = {
        split: job.cache.features(classifier.backbone, job.source, job.splits[split], job.device)
        for split in ("train", "val", "test")
        if job.splits[split]
    }  # select's trials leave test empty
    batches = {
        split: feature_batches(
            features[split], job.labels(split), params.batch_size, shuffle=split == "train", seed=job.seed
        )
        for split in features
    }
    result = fit(
        classifier.head,
        batches["train"],
        batches["val"],
        params,
        job.device,
        job.metric,
        len(job.classes),
        on_epoch,
        weights=job.class_weights(),
    )
    probabilities = {
        split: evaluate(classifier.head, batches[split], job.device)[0] for split in ("val", "test") if split in batches
    }
    return result, probabilities
