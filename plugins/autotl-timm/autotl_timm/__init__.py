"""autotl-timm: timm's image models as autotl sources, and L1-SP as an autotl regularizer.

A source's weights load the normal timm way (its Hugging Face or URL cache; ``autotl models pull
NAME`` fetches them there through timm's loaders), or from a local file named after the model in
``$AUTOTL_TIMM_WEIGHTS`` (``resnet18.safetensors``, ``.pth`` or ``.bin``), through timm's
``pretrained_cfg_overlay``.
``$AUTOTL_TIMM_MODELS`` (a comma list of timm names) adds models to the ones listed here.
"""

import os
from functools import cached_property
from pathlib import Path

import autotl
from autotl.builtins.regularizers.l2sp import DistanceToStart
from autotl.contracts.capabilities import Capability as C
from autotl.contracts.regularizers import Regularizer
from autotl.contracts.settings import Setting
from autotl.contracts.sources import Availability, Source, SourceSpec

MODELS = {
    # timm name: (parameters, feature width, FLOPs per sample at its input size),
    # measured with timm 1.0 and torch.utils.flop_counter.
    "tf_efficientnet_lite0": (4_652_008, 1280, 770_375_104),
    "efficientnet_b0": (5_288_548, 1280, 771_629_504),
    "mobilenetv3_large_100": (5_483_032, 960, 433_179_520),
    "resnet18": (11_689_512, 512, 3_628_146_688),
    "resnet50": (25_557_032, 2048, 8_178_368_512),
    "convnext_tiny": (28_589_128, 768, 8_911_062_528),
    "vit_small_patch16_224": (22_050_664, 384, 8_482_437_120),
}
SUFFIXES = (".safetensors", ".pth", ".bin")
L1SP_ALPHA = Setting("l1sp_alpha", 1e-4, (1e-5, 1e-4, 1e-3), "weight of the L1 distance to the pretrained weights")


class TimmModel(Source):
    """One timm model. Registering it imports nothing heavy: timm is imported when its spec is first
    asked for (``autotl models``, ``select``), not when ``autotl --help`` loads the plugins."""

    def __init__(self, model: str, facts: tuple[int, int, int] | None = None):
        self.model = model
        self.facts = facts
        """(parameters, feature width, FLOPs per sample); None: measured when needed."""

    @property
    def name(self) -> str:
        return f"timm-{self.model}"

    @cached_property
    def cfg(self):
        from timm.models import get_pretrained_cfg

        return get_pretrained_cfg(self.model)

    @cached_property
    def spec(self) -> SourceSpec:
        parameters, width, flops = self.facts or measured(self.model)
        cfg = self.cfg
        return SourceSpec(
            name=self.name,
            modality="image",
            architecture=self.model,
            feature_dim=width,
            num_params=parameters,
            flops_per_sample=flops,
            input_size=tuple(cfg.input_size),
            mean=tuple(cfg.mean),
            std=tuple(cfg.std),
            pretraining_data=cfg.tag or "",
            license=cfg.license or "see the model card",
            weights=f"timm: {cfg.hf_hub_id or cfg.url}",
            num_source_classes=cfg.num_classes,
            offers=frozenset({C.SOURCE_HEAD, C.BLOCKS}),
            description=f"timm's {self.model}",
        )

    def local_file(self) -> Path | None:
        folder = os.environ.get("AUTOTL_TIMM_WEIGHTS")
        found = [Path(folder) / f"{self.model}{suffix}" for suffix in SUFFIXES] if folder else []
        return next((path for path in found if path.is_file()), None)

    def cached(self) -> bool:
        """Whether timm would find the weights without the network: no download is tried here."""
        if self.cfg.hf_hub_id:
            from huggingface_hub import try_to_load_from_cache

            repo = self.cfg.hf_hub_id.split("@")[0].removeprefix("hf-hub:")
            if any(
                isinstance(try_to_load_from_cache(repo, name), str)
                for name in ("model.safetensors", "pytorch_model.bin")
            ):
                return True
        if self.cfg.url:
            from torch.hub import get_dir

            return (Path(get_dir()) / "checkpoints" / Path(self.cfg.url).name).is_file()
        return False

    def availability(self) -> Availability:
        if self.local_file() or self.cached():
            return Availability(True)
        return Availability(
            False,
            f"no {self.model} weights on disk: put {self.model}.safetensors in $AUTOTL_TIMM_WEIGHTS, "
            f"or pull them once online",
        )

    def pull_from(self) -> str | None:
        """timm's own origin for the weights: a Hugging Face hub repository, or a URL."""
        if self.cfg.hf_hub_id:
            from huggingface_hub import constants

            return f"{constants.ENDPOINT}/{self.cfg.hf_hub_id.removeprefix('hf-hub:')}"
        return self.cfg.url or None

    def pull(self) -> None:
        """Through timm's loaders, into the caches ``cached`` looks in."""
        import timm

        timm.create_model(self.model, pretrained=True)

    def load(self, pretrained: bool = True, folder: Path | None = None):
        import timm

        from autotl.training.backbone import Backbone, ImagePreprocessor

        local = self.local_file() if pretrained else None
        overlay = {"file": str(local)} if local else None
        model = timm.create_model(self.model, pretrained=pretrained, pretrained_cfg_overlay=overlay)
        head = model.get_classifier()
        model.reset_classifier(0)  # the model now returns pooled features; the old classifier is the source head
        size = self.spec.input_size[-1]
        preprocessor = ImagePreprocessor(
            size, self.spec.mean, self.spec.std, resize=round(size / (self.cfg.crop_pct or 0.875))
        )
        return Backbone(model, self.spec.feature_dim, preprocessor, source_head=head, blocks=blocks(model))


def blocks(model) -> list:
    """The model's blocks, lowest first: the children of its ``blocks``, ``stages`` or ``layer1..4``,
    each stage opened one level where it is itself a sequence of blocks."""
    from torch import nn

    for names in (("blocks",), ("stages",), ("layer1", "layer2", "layer3", "layer4")):
        if all(hasattr(model, name) for name in names):
            found = []
            for name in names:
                for child in getattr(model, name).children():
                    inner = getattr(child, "blocks", child)
                    found += list(inner.children()) if isinstance(inner, (nn.Sequential, nn.ModuleList)) else [child]
            return found
    return []


class L1Distance(DistanceToStart):
    def __call__(self, inputs):
        return self.alpha * sum((p - start).abs().sum() for p, start in self.anchors)


class L1SP(Regularizer):
    """Li et al. 2018 (the L2-SP paper) also tried the L1 distance to the pretrained weights:
    it lets a few weights move far rather than many a little."""

    def bind(self, model, params, train):
        return L1Distance(model, params.extra["l1sp_alpha"])


def extra_models() -> list[str]:
    return [name.strip() for name in os.environ.get("AUTOTL_TIMM_MODELS", "").split(",") if name.strip()]


def measured(model: str) -> tuple[int, int, int]:
    """A model not in the table, measured on the meta device (no memory, no weights)."""
    import timm
    import torch

    with torch.device("meta"):
        network = timm.create_model(model, pretrained=False)
    flops = 0  # unknown without running it
    return sum(p.numel() for p in network.parameters()), network.num_features, flops


@autotl.hookimpl
def register_sources(register):
    for model, facts in MODELS.items():
        register(TimmModel(model, facts))
    for model in extra_models():
        if model not in MODELS:
            register(TimmModel(model))


@autotl.hookimpl
def register_regularizers(register):
    register(
        L1SP(
            "l1sp",
            "alpha x the L1 distance of the backbone weights to the pretrained ones",
            needs=frozenset({C.TRAINED_BACKBONE}),
            settings=(L1SP_ALPHA,),
        )
    )
