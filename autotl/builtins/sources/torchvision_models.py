"""Built-in sources: torchvision's ImageNet classifiers, weights from the local torch hub cache.

Weights are downloaded only by ``autotl models pull NAME``, through torchvision's weights API,
which checks the file's hash against the one in its name; otherwise a model whose checkpoint is
not in ``torch.hub.get_dir()/checkpoints`` is reported unavailable, with the file to fetch, and
skipped.
"""

from functools import cached_property
from pathlib import Path

import autotl
from autotl.contracts.capabilities import Capability as C
from autotl.contracts.sources import Availability, Source, SourceSpec
from autotl.pulling import torch_hub_checkpoint

OFFERS = frozenset({C.SOURCE_HEAD, C.BLOCKS})
MODELS: dict[str, int] = {
    "resnet18": 512,
    "resnet50": 2048,
    "mobilenet_v3_small": 1024,
    "mobilenet_v3_large": 1280,
    "efficientnet_b0": 1280,
    "convnext_tiny": 768,
    "vit_b_16": 768,
}
"""Architecture name: penultimate feature size."""


class TorchvisionSource(Source):
    def __init__(self, architecture: str):
        self.architecture = architecture

    @property
    def name(self) -> str:
        return f"tv-{self.architecture}"

    @cached_property
    def weights(self):
        from torchvision.models import get_model_weights

        return get_model_weights(self.architecture).DEFAULT

    @cached_property
    def spec(self) -> SourceSpec:
        meta, transform = self.weights.meta, self.weights.transforms()
        feature_dim, offers = MODELS[self.architecture], OFFERS
        return SourceSpec(
            name=self.name,
            modality="image",
            architecture=self.architecture,
            feature_dim=feature_dim,
            num_params=meta["num_params"],
            flops_per_sample=int(meta["_ops"] * 1e9),
            input_size=(3, transform.crop_size[0], transform.crop_size[0]),
            mean=tuple(transform.mean),
            std=tuple(transform.std),
            pretraining_data="ImageNet-1K",
            license="BSD-3-Clause (torchvision); weights trained on ImageNet, see its terms",
            weights=self.weights.url,
            num_source_classes=len(meta["categories"]),
            offers=offers,
            description=f"torchvision {self.weights}",
        )

    def checkpoint(self) -> Path:
        return torch_hub_checkpoint(self.weights.url)

    def pull_from(self) -> str:
        return self.weights.url

    def pull(self) -> None:
        """Through torchvision's weights API, which checks the file's hash; torch's hub announces the
        download on stdout, which is kept for results, so its line goes to stderr with the progress."""
        import sys
        from contextlib import redirect_stdout

        with redirect_stdout(sys.stderr):
            self.weights.get_state_dict(progress=True, check_hash=True)

    def availability(self) -> Availability:
        path = self.checkpoint()
        if path.is_file():
            return Availability(True)
        return Availability(False, f"no {path.name} in {path.parent}")

    def load(self, pretrained: bool = True, folder: Path | None = None):
        import torch
        from torchvision.models import get_model

        from autotl.training.backbone import Backbone, ImagePreprocessor

        model = get_model(self.architecture, weights=None)
        if pretrained:
            model.load_state_dict(torch.load(self.checkpoint(), map_location="cpu", weights_only=True))
        head_name, head = _last_linear(model)
        _replace(model, head_name, torch.nn.Identity())
        spec = self.spec
        preprocessor = ImagePreprocessor(
            spec.input_size[1], spec.mean, spec.std, self.weights.transforms().resize_size[0]
        )
        return Backbone(model, head.in_features, preprocessor, source_head=head, blocks=_blocks(model))


def _last_linear(model):
    import torch

    return [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)][-1]


def _replace(model, dotted: str, module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _blocks(model) -> list:
    if hasattr(model, "layer1"):  # ResNet
        return [model.layer1, model.layer2, model.layer3, model.layer4]
    if hasattr(model, "encoder"):  # ViT
        return list(model.encoder.layers)
    return list(model.features)


@autotl.hookimpl
def register_sources(register):
    for architecture in MODELS:
        register(TorchvisionSource(architecture))
