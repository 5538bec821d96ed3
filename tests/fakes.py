"""Small stand-ins for the things plugins register, built inside tests."""

from autotl.needs import Capability, needs
from autotl.sources import Availability, Source, SourceSpec


class FakeSource(Source):
    def __init__(self, name: str, modality: str = "image", offers: tuple[str, ...] = (), missing: str = ""):
        self.spec = SourceSpec(
            name=name,
            modality=modality,
            architecture="tiny",
            feature_dim=4,
            num_params=1_000,
            flops_per_sample=10_000,
            input_size=(3, 8, 8) if modality == "image" else (16,),
            offers=needs(*offers),
            num_source_classes=5 if Capability.SOURCE_HEAD.value in offers else None,
        )
        self.missing = missing

    def availability(self) -> Availability:
        return Availability(not self.missing, self.missing)
