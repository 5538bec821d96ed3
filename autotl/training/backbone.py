"""A loaded source model, cut before its classification layer, and its preprocessing.

Imported only when a model is loaded: this is where torch comes in.
"""

import json
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn


class Preprocessor(Protocol):
    """Turns raw inputs (image paths or texts) into one model-ready batch."""

    key: str
    """Identifies the preprocessing, for the feature cache: same key, same tensors."""

    def __call__(self, inputs: list[str]) -> Any: ...

    def save(self, folder: Path) -> None:
        """Writes what a logged model needs to preprocess the same way later."""


class ImagePreprocessor:
    """Resize the shorter side, centre-crop, scale to 0..1 and normalise (torchvision's eval
    transform), in two steps: ``decode`` to uint8 pixels, which a training job does once for its
    epochs (``training.batches``), and ``normalize``, each batch."""

    def __init__(self, size: int, mean: tuple[float, ...], std: tuple[float, ...], resize: int | None = None):
        from torchvision import transforms

        self.size, self.mean, self.std = size, tuple(mean), tuple(std)
        self.resize = resize or round(size / 0.875)
        self.key = f"image:resize{self.resize}:crop{size}:mean{self.mean}:std{self.std}"
        self._decode = transforms.Compose(
            [transforms.Resize(self.resize, antialias=True), transforms.CenterCrop(size), transforms.PILToTensor()]
        )
        self._mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        self._std = torch.tensor(self.std).view(1, -1, 1, 1)

    def __call__(self, inputs: list[str]) -> torch.Tensor:
        return self.normalize(self.decode(inputs))

    def decode(self, inputs: list[str]) -> torch.Tensor:
        """(N, 3, size, size) uint8 pixels."""
        from autotl.data.image_files import open_rgb

        return torch.stack([self._decode(open_rgb(path)) for path in inputs])

    def decoded_bytes(self, count: int) -> int:
        return count * 3 * self.size * self.size

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float inputs from uint8 pixels, as ``ToTensor`` and ``Normalize`` compute them."""
        return (pixels.float().div_(255) - self._mean.to(pixels.device)).div_(self._std.to(pixels.device))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        settings = {"size": self.size, "mean": self.mean, "std": self.std, "resize": self.resize}
        (folder / "image_preprocessor.json").write_text(json.dumps(settings))


class TextPreprocessor:
    """Tokenizes a batch, padded to its longest text and truncated at ``max_length`` tokens.

    Saves the encoder's ``config`` beside the tokenizer, so a logged model
    rebuilds without the source's own files.
    """

    def __init__(self, tokenizer, max_length: int, name: str, config=None):
        self.tokenizer, self.max_length, self.config = tokenizer, max_length, config
        self.key = f"text:{name}:{max_length}"

    def __call__(self, inputs: list[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(list(inputs), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        )

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(folder)
        if self.config is not None:
            self.config.save_pretrained(folder)


class Backbone(nn.Module):
    """Inputs to features of shape (batch, feature_dim).

    ``source_head`` is the source's own classification layer (None when it has
    none); ``blocks`` are its stages in order, lowest first, for strategies that
    freeze or treat them apart. They are plain references, not extra parameters.
    """

    def __init__(
        self,
        body: nn.Module,
        feature_dim: int,
        preprocessor: Preprocessor,
        source_head: nn.Module | None = None,
        blocks: list[nn.Module] | None = None,
    ):
        super().__init__()
        self.body = body
        self.source_head = source_head
        self.feature_dim = feature_dim
        self.preprocessor = preprocessor
        self.blocks = list(blocks or [])

    def forward(self, batch: Any) -> torch.Tensor:
        return self.body(batch)


class PooledStates(nn.Module):
    """A transformer's token states pooled into one vector per text: averaged over the real
    (unpadded) tokens (``mean``, an encoder's usual sentence vector), or the last real token's
    (``last``: in a causal decoder the only one that has seen the whole text, as transformers'
    ``GPT2ForSequenceClassification`` reads it). Padding on either side gives the same vector."""

    def __init__(self, encoder: nn.Module, pooling: str = "mean"):
        super().__init__()
        self.encoder, self.pooling = encoder, pooling

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        states = self.encoder(**batch).last_hidden_state
        real = batch["attention_mask"]
        if self.pooling == "last":
            last = real.shape[1] - 1 - real.flip(1).argmax(1)
            return states[torch.arange(states.shape[0], device=states.device), last]
        mask = real.unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def move_batch(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    if isinstance(batch, dict):
        return {key: value.to(device, non_blocking=non_blocking) for key, value in batch.items()}
    return batch.to(device, non_blocking=non_blocking)
