"""Pretrained source models: what each one is (its spec) and whether it can be loaded now."""

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from autotl.contracts.capabilities import Capability, Needs

if TYPE_CHECKING:
    from autotl.training.backbone import Backbone

Modality = Literal["image", "text"]
MODALITIES: tuple[Modality, ...] = ("image", "text")


@dataclass(frozen=True)
class SourceSpec:
    """What a user needs to judge a source model (after timm's pretrained_cfg).

    ``input_size`` is ``(channels, height, width)`` for images and
    ``(max_tokens,)`` for text; ``mean``/``std`` are the input normalisation on
    0..1 pixel values (None for text); ``flops_per_sample`` counts one forward
    pass at ``input_size``; ``weights`` says where the weights come from (a URL,
    a hub id, a package or a file); ``offers`` lists what the model exposes to
    strategies, regularizers and scorers.
    """

    name: str
    modality: Modality
    architecture: str
    feature_dim: int
    num_params: int
    flops_per_sample: int
    input_size: tuple[int, ...]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    pretraining_data: str = "unknown"
    license: str = "unknown"
    weights: str = "unknown"
    num_source_classes: int | None = None
    offers: Needs = field(default_factory=frozenset)
    description: str = ""

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"source {self.name!r}: modality must be one of {MODALITIES}")
        if (Capability.SOURCE_HEAD in self.offers) != (self.num_source_classes is not None):
            raise ValueError(f"source {self.name!r}: give num_source_classes exactly when it offers a source head")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["offers"] = sorted(c.value for c in self.offers)
        return data


@dataclass(frozen=True)
class Availability:
    """Whether a source's weights can be loaded now, and if not, why, in one line."""

    available: bool
    reason: str = ""


class Source(ABC):
    """A pretrained model a plugin offers through ``register_sources``."""

    spec: SourceSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @abstractmethod
    def availability(self) -> Availability:
        """Looks on disk only (never the network), so that ``autotl models`` answers in seconds."""

    def pull_from(self) -> str | None:
        """Where ``autotl models pull`` fetches the weights from (a URL, a hub id), or None when
        it cannot (weights that install as a package, or a file the user provides)."""
        return None

    def pull(self) -> None:
        """Fetches the weights into the cache that ``availability`` and ``load`` look in, showing
        progress on stderr. Called only by ``autotl models pull``, and only when ``pull_from`` is
        not None; what it raises (no network, a wrong hash) becomes one line
        (``autotl.pulling.fetching``)."""
        raise NotImplementedError

    @abstractmethod
    def load(self, pretrained: bool = True, folder: Path | None = None) -> "Backbone":
        """Builds the model; reads the pretrained weights only when ``pretrained``.

        ``folder`` holds what a logged model saved with its preprocessor (a
        tokenizer, a config), to rebuild it without the source's own files.
        """
