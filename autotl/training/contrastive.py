"""Few-shot text in the SetFit manner (Tunstall et al. 2022): the sentence encoder is fine-tuned
on pairs of the labelled texts, a pair of the same class pulled to cosine similarity 1 and one of
two classes pushed to 0 (sentence-transformers' ``CosineSimilarityLoss``, SetFit's default), and
a logistic-regression head is fitted on the tuned embeddings.

Pairs are drawn as SetFit first drew them: every epoch, each text with one text of its class and
one of another class, afresh, so ``epochs`` is SetFit's ``num_iterations``. After each epoch the
head (autotl's convex probe, its strength chosen by inner cross-validation) is fitted on the
training embeddings and judged on val, for the progress and the pruner; the model kept is the
last epoch's, as SetFit keeps it. Picking the epoch by val did worse: a few validation texts tie
across epochs, and the log-loss that breaks the tie favours the early epochs, whose heads are
less confident rather than better (on election-tweets-40 it kept epoch 1, 0.750 on test, where
SetFit's 20 iterations reached 0.875).
"""

import random
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from autotl.training.classifier import Classifier
    from autotl.training.job import TrainedModel, TrainingJob

Pair = tuple[int, int, float]
"""Two indices into the training texts, and 1.0 when they share a class, else 0.0."""


def draw_pairs(labels: list[int], rng: random.Random) -> list[Pair]:
    """For each text, one partner of its class and one of another class (the class drawn first,
    so a rare class is met as often as a common one; none when every text has one class),
    shuffled. A class of one text pairs it with itself, as SetFit does."""
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    pairs = []
    for index, label in enumerate(labels):
        partner = index
        while partner == index and len(by_class[label]) > 1:
            partner = rng.choice(by_class[label])
        pairs.append((index, partner, 1.0))
        if len(by_class) > 1:
            other = rng.choice([c for c in by_class if c != label])
            pairs.append((index, rng.choice(by_class[other]), 0.0))
    rng.shuffle(pairs)
    return pairs


def pair_count(labels: list[int]) -> int:
    return len(labels) * (2 if len(set(labels)) > 1 else 1)


def train_contrastive(job: "TrainingJob", classifier: "Classifier") -> "TrainedModel":
    """Tunes ``classifier.backbone`` on pairs for every epoch, and fits ``classifier.head`` as a
    logistic regression on its embeddings after each, judged on val."""
    from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

    from autotl.training.backbone import move_batch
    from autotl.training.classifier import outputs
    from autotl.training.job import TrainedModel
    from autotl.training.loop import (
        FitResult,
        adamw,
        mixed_precision,
        optimisation_step,
        train_unfrozen,
        warmup_cosine,
    )

    backbone, params, device = classifier.backbone.to(job.device), job.params, job.device
    texts, labels = job.inputs("train"), job.labels("train")
    rng = random.Random(job.seed)
    loss_of = CosineSimilarityLoss(backbone)
    optimizer = adamw(backbone, None, params, [])
    steps_per_epoch = -(-pair_count(labels) // params.batch_size)
    scheduler = warmup_cosine(optimizer, params.epochs * steps_per_epoch, params.warmup)
    autocast, scaler = mixed_precision(device)
    preprocess = backbone.preprocessor
    history = []
    for epoch in range(1, params.epochs + 1):
        train_unfrozen(backbone)
        losses = []
        pairs = draw_pairs(labels, rng)
        for start in range(0, len(pairs), params.batch_size):
            batch = pairs[start : start + params.batch_size]
            sides = [preprocess([texts[pair[side]] for pair in batch]) for side in (0, 1)]
            with autocast():
                embeddings = [backbone(move_batch(side, device)) for side in sides]
                loss = loss_of.compute_loss_from_embeddings(
                    [e.float() for e in embeddings], torch.tensor([pair[2] for pair in batch], device=device)
                )
            losses.append(optimisation_step(loss, epoch, optimizer, scaler, scheduler))
        embedded = {split: outputs(backbone, job.inputs(split), preprocess, device) for split in ("train", "val")}
        head, result = _judged_head(job, embedded, epoch, float(np.mean(losses)))
        history.append(result)
        job.on_epoch(result)
    with torch.no_grad():
        classifier.head.weight.copy_(torch.from_numpy(head.weight))
        classifier.head.bias.copy_(torch.from_numpy(head.bias))
    probabilities = {
        split: head.probabilities(outputs(backbone, job.inputs(split), preprocess, device))
        for split in ("val", "test")
        if job.splits[split]  # select's trials leave test empty
    }
    return TrainedModel(classifier.cpu(), FitResult(result.epoch, result.val_metric, history), probabilities)


def _judged_head(job: "TrainingJob", embedded: dict[str, np.ndarray], epoch: int, train_loss: float):
    """The logistic head on this epoch's training embeddings, and its epoch record on val."""
    from autotl.training.convex import fit_logistic
    from autotl.training.loop import Epoch
    from autotl.training.metrics import log_loss, score

    val_labels = np.asarray(job.labels("val"))
    head = fit_logistic(
        embedded["train"], np.asarray(job.labels("train")), len(job.classes), job.seed, job.class_weights()
    )
    probabilities = head.probabilities(embedded["val"])
    predictions = probabilities.argmax(1)
    return head, Epoch(
        epoch,
        train_loss,
        score(job.metric, val_labels, predictions, len(job.classes)),
        score("accuracy", val_labels, predictions, len(job.classes)),
        log_loss(probabilities, val_labels),
        probabilities,
    )
