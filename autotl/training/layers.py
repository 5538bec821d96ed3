"""Where each backbone parameter sits between the source's blocks: what partial freezing
freezes and what layer-wise learning-rate decay slows down."""

from torch import nn

from autotl.training.backbone import Backbone
from autotl.training.loop import ParamGroup


def levels(backbone: Backbone) -> list[tuple[nn.Parameter, int]]:
    """Each body parameter with its level: -1 below the first block (a stem, embeddings),
    ``i`` inside block ``i``, ``len(blocks)`` above the last one (a final convolution, a pooler)."""
    blocks = backbone.blocks
    block_of = {id(p): i for i, block in enumerate(blocks) for p in block.parameters()}
    level, placed = -1, []
    for parameter in backbone.body.parameters():
        if id(parameter) in block_of:
            level = block_of[id(parameter)]
        elif level >= 0:
            level = len(blocks)
        placed.append((parameter, level))
    return placed


def freeze_below(backbone: Backbone, k: int) -> None:
    """Freezes the first ``k`` blocks and everything beneath them."""
    for parameter, level in levels(backbone):
        if level < k:
            parameter.requires_grad_(False)


BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def batch_norms(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, BATCH_NORMS)]


def freeze_batch_norm(backbone: Backbone) -> None:
    """Batch-norm weights frozen, so that training keeps the layers in inference mode, statistics included."""
    for module in batch_norms(backbone.body):
        module.requires_grad_(False)


def depth_groups(backbone: Backbone, head: nn.Module, backbone_ratio: float, layer_decay: float) -> list[ParamGroup]:
    """The head at the full learning rate; the backbone at ``backbone_ratio`` times it, and each
    block below the top one ``layer_decay`` times slower again (Howard & Ruder 2018; Clark et al. 2020)."""
    top = len(backbone.blocks) - 1
    by_factor: dict[float, list[nn.Parameter]] = {}
    for parameter, level in levels(backbone):
        factor = backbone_ratio * layer_decay ** max(0, top - level)
        by_factor.setdefault(factor, []).append(parameter)
    return [ParamGroup(list(head.parameters())), *(ParamGroup(params, factor) for factor, params in by_factor.items())]


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` at its current weights, in eval mode, with no gradients and none of
    the original's forward hooks: the fixed reference a penalty compares against."""
    import copy

    reference = copy.deepcopy(module).eval().requires_grad_(False)
    for part in reference.modules():
        part._forward_hooks.clear()
    return reference
