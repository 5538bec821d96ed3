"""Built-in regularizer ``delta``: the distance of intermediate feature maps (a CNN's) or hidden
states (a transformer's) to the source model's on the same inputs, each channel weighted by
how much the target task relies on it (DELTA, Li et al. 2019).

DELTA measures a channel's weight by removing it and watching the loss of a head fitted on the
frozen features grow; this takes the first-order estimate of that growth, |activation x
gradient| summed over the channel (Molchanov et al. 2017), from one backward pass over a few
training batches instead of one forward pass per channel. Hidden states have no channels and
are weighted evenly. The maps compared are the outputs of the blocks at each quarter of depth.
"""

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.settings import NOT_NEGATIVE, Setting

STRENGTH = Setting(
    "delta_weight", 0.1, (0.01, 0.1, 1.0), "weight of the feature-map distance to the source model", range=NOT_NEGATIVE
)
ATTENTION_BATCHES = 4


def compared_blocks(num_blocks: int) -> list[int]:
    """The last block of each quarter of depth."""
    return sorted({max(0, round(num_blocks * q) - 1) for q in (0.25, 0.5, 0.75, 1.0)}) if num_blocks else []


def _tensor(output):
    """A block's output: a tensor, or a transformer layer's tuple whose first item is the hidden states."""
    return output[0] if isinstance(output, (tuple, list)) else output


class FeatureMapDistance(Term):
    def __init__(self, model, weight: float, train):
        from autotl.training.layers import frozen_copy

        super().__init__()
        self.weight = weight
        self.reference = frozen_copy(model.backbone)
        self.chosen = compared_blocks(len(model.backbone.blocks))
        self.current: dict[int, object] = {}
        self.references: dict[int, object] = {}
        for i in self.chosen:
            self.hook(model.backbone.blocks[i], lambda output, i=i: self.current.__setitem__(i, _tensor(output)))
            self.hook(self.reference.blocks[i], lambda output, i=i: self.references.__setitem__(i, _tensor(output)))
        self.attention = channel_attention(self, train, next(model.parameters()).device)

    def __call__(self, inputs):
        import torch

        with torch.no_grad():
            self.reference(inputs)
        total = 0.0
        for i in self.chosen:
            squared = (self.current[i].float() - self.references[i].float()) ** 2
            if squared.dim() == 4:  # (batch, channels, height, width): weight each channel
                total = total + (squared.mean(dim=(2, 3)) * self.attention[i]).mean()
            else:
                total = total + squared.mean()
        return self.weight * total


def channel_attention(term: FeatureMapDistance, train, device) -> dict:
    """Per compared block with channels, weights (mean 1) proportional to |activation x gradient| of
    the loss of a ridge-regression head on the source features, over a few training batches."""
    import torch
    from torch.nn import functional

    from autotl.training.backbone import move_batch

    batches = []
    for index, (inputs, labels) in enumerate(train):
        if index == ATTENTION_BATCHES:
            break
        batches.append((move_batch(inputs, device), labels.to(device)))
    if not batches or not isinstance(batches[0][0], torch.Tensor):  # text: no channels to weigh
        return {}
    with torch.no_grad():
        features = torch.cat([term.reference(inputs).float() for inputs, _ in batches])
    labels = torch.cat([labels for _, labels in batches])
    head = _ridge_head(features, labels)
    importance: dict[int, torch.Tensor] = {}
    for inputs, batch_labels in batches:
        inputs = inputs.clone().requires_grad_(True)
        with torch.enable_grad():
            logits = head(term.reference(inputs).float())
            maps = {i: term.references[i] for i in term.chosen if term.references[i].dim() == 4}
            loss = functional.cross_entropy(logits, batch_labels)
            gradients = torch.autograd.grad(loss, list(maps.values()))
        for (i, activation), gradient in zip(maps.items(), gradients):
            score = (activation * gradient).sum(dim=(2, 3)).abs().sum(0).detach()
            importance[i] = importance.get(i, 0) + score
    return {i: score * score.numel() / score.sum().clamp(min=1e-12) for i, score in importance.items()}


def _ridge_head(features, labels):
    """A linear head by closed-form ridge regression from features (and a bias) to one-hot labels."""
    import torch

    x = torch.cat([features, torch.ones(len(features), 1, device=features.device)], dim=1)
    y = torch.nn.functional.one_hot(labels, int(labels.max()) + 1).float()
    ridge = 1e-3 * x.pow(2).sum() / x.shape[1] * torch.eye(x.shape[1], device=x.device)
    weights = torch.linalg.solve(x.T @ x + ridge, x.T @ y)
    return lambda f: f @ weights[:-1] + weights[-1]


class Delta(Regularizer):
    def bind(self, model, params, train):
        return FeatureMapDistance(model, params.extra["delta_weight"], train)


@autotl.hookimpl
def register_regularizers(register):
    register(
        Delta(
            "delta",
            "distance of intermediate feature maps to the source model's, weighted by channel attention (DELTA)",
            needs=frozenset({Capability.BLOCKS, Capability.ADAPTED_FEATURES}),
            settings=(STRENGTH,),
            extra_forwards=1.0,
        )
    )
