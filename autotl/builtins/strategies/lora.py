"""Built-in strategy ``lora``: low-rank adapters (Hu et al. 2021, through ``peft``) on the linear
and 1x1-or-larger convolution layers inside the source's blocks, plus the new head; every
pretrained weight stays frozen. After training the adapters are merged into the weights, so the
saved model is the source's architecture again and costs nothing extra to run."""

from dataclasses import dataclass

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.settings import AT_LEAST_ONE, CLASS_WEIGHT, Setting
from autotl.contracts.strategies import Strategy
from autotl.training.augmentation import AUGMENT
from autotl.training.end_to_end import train_end_to_end

RANK = Setting("lora_rank", 8, (4, 8, 16), "rank of each low-rank adapter", integer=True, range=AT_LEAST_ONE)


@dataclass(frozen=True)
class Lora(Strategy):
    def train(self, job):
        from autotl.training.classifier import Classifier

        classifier = Classifier(job.load_backbone(pretrained=True), len(job.classes))
        add_adapters(classifier.backbone, int(job.params.extra["lora_rank"]))
        trained = train_end_to_end(job, classifier)
        merge_adapters(classifier.backbone)
        return trained


def adapter_targets(backbone) -> list[str]:
    """The layers inside the blocks that peft can adapt: linear layers (GPT-2's ``Conv1D`` too, a
    linear layer with its weight transposed) and ungrouped convolutions (a depthwise convolution
    has too few weights per channel to need a low-rank update)."""
    from torch import nn

    _plain_convolutions(backbone)
    inside = {id(m) for block in backbone.blocks for m in block.modules()}
    return [
        name
        for name, module in backbone.body.named_modules()
        if id(module) in inside
        and (
            type(module) is nn.Linear
            or _transposed_linear(module)
            or (type(module) is nn.Conv2d and module.groups == 1)
        )
    ]


def _transposed_linear(module) -> bool:
    """transformers' ``Conv1D`` (GPT-2), which peft adapts with ``fan_in_fan_out``."""
    kind = type(module)
    return kind.__name__ == "Conv1D" and kind.__module__.startswith("transformers.")


def _plain_convolutions(backbone) -> None:
    """peft builds an adapter's layers with the adapted layer's own class, which fails for a
    Conv2d subclass that takes more arguments (EfficientNet's static same-padding convolution).
    Inside the blocks, where such a layer computes what a plain Conv2d with its weights computes
    (checked on an even and an odd input size), the plain one takes its place; the weights keep
    their names, so the saved model loads into the source's own architecture."""
    import torch
    from torch import nn

    inside = {id(m) for block in backbone.blocks for m in block.modules()}
    for name, module in list(backbone.body.named_modules()):
        if (
            id(module) not in inside
            or not isinstance(module, nn.Conv2d)
            or type(module) is nn.Conv2d
            or module.groups != 1
        ):
            continue
        plain = nn.Conv2d(
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            module.stride,
            module.padding,
            module.dilation,
            module.groups,
            module.bias is not None,
            module.padding_mode,
        )
        plain.weight, plain.bias = module.weight, module.bias
        if all(
            _same(module, plain, torch.randn(1, module.in_channels, side, side, device=module.weight.device))
            for side in (8, 9)
        ):
            parent, _, child = name.rpartition(".")
            setattr(backbone.body.get_submodule(parent) if parent else backbone.body, child, plain)
            backbone.blocks = [plain if block is module else block for block in backbone.blocks]


def _same(one, other, probe) -> bool:
    import torch

    with torch.no_grad():
        a, b = one(probe), other(probe)
    return a.shape == b.shape and torch.allclose(a, b)


def add_adapters(backbone, rank: int) -> None:
    """Wraps the body in peft adapters; only they (and the head, outside) will train."""
    from peft import LoraConfig, get_peft_model

    from autotl.errors import AutotlError

    targets = adapter_targets(backbone)
    if not targets:
        raise AutotlError("lora: the blocks of this source have no linear or convolution layer to adapt")
    transposed = any(_transposed_linear(backbone.body.get_submodule(name)) for name in targets)
    config = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=targets, fan_in_fan_out=transposed
    )
    backbone.body = get_peft_model(backbone.body, config)


def merge_adapters(backbone) -> None:
    """Folds each adapter's low-rank update into its layer's weight, leaving a plain model."""
    backbone.body = backbone.body.merge_and_unload()
    backbone.body.requires_grad_(True)


@autotl.hookimpl
def register_strategies(register):
    register(
        Lora(
            "lora",
            "low-rank adapters (peft) on the layers inside the blocks, and the head, trained; "
            "pretrained weights frozen, adapters merged into them afterwards",
            needs=frozenset({Capability.BLOCKS}),
            provides=frozenset({Capability.ADAPTED_FEATURES}),
            defaults={"lr": 5e-4, "epochs": 5},
            settings=(RANK, CLASS_WEIGHT, AUGMENT),
            depth=0.4,
        )
    )
