"""Small stand-ins for the things plugins register, built inside tests."""

from pathlib import Path

from autotl.contracts.capabilities import Capability, needs
from autotl.contracts.regularizers import Regularizer
from autotl.contracts.sources import Availability, Source, SourceSpec
from autotl.contracts.strategies import Strategy


class FakeSource(Source):
    """A tiny real model: two convolution blocks pooled into 4 features, and a 5-class head.

    ``checkpoint`` is its 'pretrained' file; ``forward_calls`` counts backbone
    forward passes over every copy it loads.
    """

    def __init__(
        self,
        name: str,
        modality: str = "image",
        offers: tuple[str, ...] = (),
        missing: str = "",
        checkpoint: Path | None = None,
    ):
        self.spec = SourceSpec(
            name=name,
            modality=modality,
            architecture="tiny",
            feature_dim=4,
            num_params=1_000,
            flops_per_sample=10_000,
            input_size=(3, 8, 8) if modality == "image" else (16,),
            mean=(0.5, 0.5, 0.5),
            std=(0.25, 0.25, 0.25),
            offers=needs(*offers),
            num_source_classes=5 if Capability.SOURCE_HEAD.value in offers else None,
        )
        self.missing = missing
        self.checkpoint = checkpoint
        self.forward_calls = 0

    def availability(self) -> Availability:
        return Availability(not self.missing, self.missing)

    def load(self, pretrained: bool = True, folder: Path | None = None):
        import torch
        from torch import nn

        from autotl.training.backbone import Backbone, ImagePreprocessor

        torch.manual_seed(1234)
        body = tiny_body()
        head = nn.Linear(4, 5)
        if pretrained:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
            body.load_state_dict(state["body"])
            head.load_state_dict(state["head"])
        body.register_forward_hook(lambda *_: setattr(self, "forward_calls", self.forward_calls + 1))
        preprocessor = ImagePreprocessor(8, self.spec.mean, self.spec.std, resize=8)
        return Backbone(body, 4, preprocessor, source_head=head, blocks=[body[0], body[1]])


def tiny_body():
    """Two blocks, (3x3 convolution, batch norm, ReLU) and (1x1 convolution, ReLU), pooled into 4 features."""
    from torch import nn

    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
        nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU()),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def save_fake_checkpoint(path: Path) -> Path:
    """'Pretrained' weights for FakeSource: its random initialisation under another seed."""
    import torch
    from torch import nn

    torch.manual_seed(99)
    body = tiny_body()
    torch.save({"body": body.state_dict(), "head": nn.Linear(4, 5).state_dict()}, path)
    return path


class DeclaredStrategy(Strategy):
    """A strategy that only declares needs, for tests of candidate building."""

    def train(self, job):
        raise AssertionError("declared only")


class DeclaredRegularizer(Regularizer):
    def bind(self, model, params, train):
        raise AssertionError("declared only")


def labelled_rows(counts: dict[str, int]) -> list[list[str]]:
    rows = [["text", "label"]]
    for label, count in counts.items():
        rows += [[f"{label} example number {i}", label] for i in range(count)]
    return rows


class FakeClock:
    """Time that moves only when a test strategy says an epoch took so many seconds."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
