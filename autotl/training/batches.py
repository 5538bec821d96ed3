"""Batches of (inputs, label indices), from raw inputs or from cached features."""

import os
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

Augment = Callable[[torch.Tensor], torch.Tensor]
"""What changes one image's uint8 pixels at random (``training.augmentation``)."""


def _augmented(pixels, augment: Augment | None) -> torch.Tensor:
    """Each image augmented on its own draw (a v2 transform given a batch draws once for all)."""
    return torch.stack([augment(p) for p in pixels] if augment else list(pixels))


class _Collate:
    """Preprocesses a batch of raw inputs inside the loader (in worker processes on a GPU machine)."""

    def __init__(self, preprocess, augment: Augment | None):
        self.preprocess, self.augment = preprocess, augment

    def __call__(self, items: list[tuple[str, int]]):
        inputs, labels = zip(*items)
        if self.augment is None:
            return self.preprocess(list(inputs)), torch.tensor(labels)
        pixels = _augmented(self.preprocess.decode(list(inputs)), self.augment)
        return self.preprocess.normalize(pixels), torch.tensor(labels)


DECODED_LIMIT = 2 << 30
"""Bytes of uint8 pixels that a job decodes once for all its epochs (10,000 images at 224 px take
1.5 GB); past it, each batch is decoded as it comes, every epoch."""


class _Normalized:
    """Stacks a batch of decoded pixels, augmented when asked, and normalizes it."""

    def __init__(self, normalize, augment: Augment | None):
        self.normalize, self.augment = normalize, augment

    def __call__(self, items: list[tuple[torch.Tensor, torch.Tensor]]):
        pixels, labels = zip(*items)
        return self.normalize(_augmented(pixels, self.augment)), torch.stack(labels)


def raw_batches(
    inputs: list[str],
    labels: list[int],
    preprocess,
    batch_size: int,
    device: torch.device,
    shuffle: bool = False,
    seed: int = 0,
    augment: Augment | None = None,
) -> DataLoader:
    """Batches in the same order whichever way they are made: images decoded once, up front, when
    their pixels fit ``DECODED_LIMIT`` (decoding every epoch again was most of a small model's
    epoch on the CPU, and starved a GPU); else preprocessed batch by batch, in worker processes on a GPU.
    ``augment`` (images only) changes each decoded image afresh every epoch."""
    on_gpu = device.type == "cuda"
    order = torch.Generator().manual_seed(seed)
    if hasattr(preprocess, "decode") and preprocess.decoded_bytes(len(inputs)) <= DECODED_LIMIT:
        pixels = TensorDataset(preprocess.decode(inputs), torch.tensor(labels))
        return DataLoader(
            pixels,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=_Normalized(preprocess.normalize, augment),
            pin_memory=on_gpu,
            generator=order,
        )
    return DataLoader(
        list(zip(inputs, labels)),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=_Collate(preprocess, augment),
        num_workers=min(8, (os.cpu_count() or 2) - 1) if on_gpu else 0,
        pin_memory=on_gpu,
        persistent_workers=on_gpu,
        generator=order,
    )


def feature_batches(
    features: np.ndarray, labels: list[int], batch_size: int, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    dataset = TensorDataset(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)), torch.tensor(labels))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))
