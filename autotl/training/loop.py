"""One training loop for every strategy: AdamW, linear warm-up then cosine decay,
mixed precision on CUDA, and the epoch kept by its validation score."""

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from autotl.contracts.regularizers import Term
from autotl.contracts.settings import TrainParams
from autotl.training.backbone import move_batch
from autotl.training.metrics import log_loss, score


@dataclass
class Epoch:
    epoch: int
    train_loss: float
    val_metric: float
    val_accuracy: float
    val_loss: float
    val_probabilities: np.ndarray | None = field(default=None, repr=False)
    """Its predictions on val: a cross-validated selection compares every fold's at one epoch count."""


@dataclass
class FitResult:
    best_epoch: int
    val_metric: float
    history: list[Epoch] = field(default_factory=list)


Batches = Iterable[tuple[Any, torch.Tensor]]


def class_weights(labels: list[int], num_classes: int, exponent: float) -> np.ndarray | None:
    """Each class's loss weight, ``(n / (k * count)) ** exponent``: at 1, every class weighs as much
    in the loss as the others (scikit-learn's "balanced"); None at 0, the plain loss."""
    if not exponent:
        return None
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = (counts.sum() / (present.sum() * counts[present])) ** exponent
    return weights


@dataclass
class ParamGroup:
    """Parameters trained at ``lr_factor`` times the learning rate (discriminative fine-tuning)."""

    params: list[nn.Parameter]
    lr_factor: float = 1.0


def train_unfrozen(model: nn.Module) -> None:
    """Training mode, except for parts with parameters and none trainable: frozen batch-norm
    statistics and frozen blocks stay exactly as they were."""
    model.train()
    for module in model.modules():
        own = list(module.parameters())
        if own and not any(p.requires_grad for p in own):
            module.eval()


def fit(
    model: nn.Module,
    train: Batches,
    val: Batches,
    params: TrainParams,
    device: torch.device,
    metric: str,
    num_classes: int,
    on_epoch: Callable[[Epoch], None] = lambda epoch: None,
    terms: Iterable[Term] = (),
    groups: list[ParamGroup] | None = None,
    weights: np.ndarray | None = None,
) -> FitResult:
    """Trains the parameters that require grad; leaves ``model`` at its best validation epoch.

    ``terms`` are added to the loss at every step (a regularizer's penalty, a
    second task). ``groups`` give parts of the model their own learning rate;
    by default every trainable parameter shares one. ``weights``: each class's
    weight in the loss (``class_weights``).
    """
    model.to(device)
    terms = [term for term in terms if term is not None]
    optimizer = adamw(model, groups, params, terms)
    total_steps = params.epochs * max(1, len(train))
    scheduler = warmup_cosine(optimizer, total_steps, params.warmup)
    autocast, scaler = mixed_precision(device)
    loss_weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
    best: tuple[Epoch, dict] | None = None
    history = []
    for epoch in range(1, params.epochs + 1):
        train_unfrozen(model)
        losses = []
        for inputs, labels in train:
            inputs, labels = move_batch(inputs, device, non_blocking=True), labels.to(device, non_blocking=True)
            with autocast():
                loss = nn.functional.cross_entropy(model(inputs), labels, weight=loss_weights)
                for term in terms:
                    loss = loss + term(inputs)
            losses.append(optimisation_step(loss, epoch, optimizer, scaler, scheduler))
        probabilities, labels = evaluate(model, val, device)
        predictions = probabilities.argmax(1)
        result = Epoch(
            epoch,
            float(np.mean(losses)),
            score(metric, labels, predictions, num_classes),
            score("accuracy", labels, predictions, num_classes),
            log_loss(probabilities, labels),
            probabilities,
        )
        history.append(result)
        on_epoch(result)
        if improves(result, best and best[0]):
            best = (result, {k: v.detach().clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[1])
    return FitResult(best_epoch=best[0].epoch, val_metric=best[0].val_metric, history=history)


def optimisation_step(loss: torch.Tensor, epoch: int, optimizer, scaler, scheduler) -> float:
    """One step on ``loss``, checked finite, through the loss scaler and the schedule; its value."""
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the training loss became {loss.item()} at epoch {epoch}; try a lower lr")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return loss.item()


def improves(result: Epoch, best: Epoch | None) -> bool:
    """Whether an epoch beats the best so far. Ties on a small validation split are common: the
    lower validation loss breaks them, so the best epoch (which a refit trains for) is not the
    first to reach a plateau."""
    return best is None or (result.val_metric, -result.val_loss) > (best.val_metric, -best.val_loss)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Batches, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and true labels over all batches."""
    model.eval()
    probabilities, labels = [], []
    autocast, _ = mixed_precision(device)
    for inputs, batch_labels in batches:
        with autocast():
            logits = model(move_batch(inputs, device))
        probabilities.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(probabilities), np.concatenate(labels)


def adamw(
    model: nn.Module, groups: list[ParamGroup] | None, params: TrainParams, terms: list[Term]
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, each group at its learning rate; parameters a term
    anchors away from zero get no plain weight decay."""
    groups = groups or [ParamGroup(list(model.parameters()))]
    anchored = set().union(*(term.anchored for term in terms))
    options = []
    for group in groups:
        trainable = [p for p in group.params if p.requires_grad]
        for decay, members in (
            (params.weight_decay, [p for p in trainable if id(p) not in anchored]),
            (0.0, [p for p in trainable if id(p) in anchored]),
        ):
            if members:
                options.append({"params": members, "lr": params.lr * group.lr_factor, "weight_decay": decay})
    return torch.optim.AdamW(options, lr=params.lr)


def warmup_cosine(optimizer: torch.optim.Optimizer, total_steps: int, warmup: float):
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    warmup_steps = min(max(1, round(warmup * total_steps)), max(1, total_steps - 1))
    return SequentialLR(
        optimizer,
        [
            LinearLR(optimizer, start_factor=0.01, total_iters=warmup_steps),
            CosineAnnealingLR(optimizer, max(1, total_steps - warmup_steps)),
        ],
        milestones=[warmup_steps],
    )


def mixed_precision(device: torch.device):
    """bfloat16 autocast where the GPU has it, float16 with loss scaling otherwise; none on the CPU."""
    if device.type != "cuda":
        return (lambda: torch.autocast("cpu", enabled=False)), torch.amp.GradScaler("cpu", enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler
