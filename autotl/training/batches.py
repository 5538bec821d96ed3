"""Batches of (inputs, label indices), from raw inputs or from cached features."""

import os

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


class _Collate:
    """Preprocesses a batch of raw inputs inside the loader (in worker processes on a GPU machine)."""

    def __init__(self, preprocess):
        self.preprocess = preprocess

    def __call__(self, items: list[tuple[str, int]]):
        inputs, labels = zip(*items)
        return self.preprocess(list(inputs)), torch.tensor(labels)


DECODED_LIMIT = 2 << 30
"""Bytes of uint8 pixels that a job decodes once for all its epochs (10,000 images at 224 px take
1.5 GB); past it, each batch is decoded as it comes, every epoch."""


class _Normalized:
    """Stacks a batch of decoded pixels and normalizes it."""

    def __init__(self, normalize):
        self.normalize = normalize

    def __call__(self, items: list[tuple[torch.Tensor, torch.Tensor]]):
        pixels, labels = zip(*items)
        return self.normalize(torch.stack(pixels)), torch.stack(labels)


def raw_batches(
    inputs: list[str],
    labels: list[int],
    preprocess,
    batch_size: int,
    device: torch.device,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """Batches in the same order whichever way they are made: images decoded once, up front, when
    their pixels fit ``DECODED_LIMIT`` (decoding every epoch again was most of a small model's
    epoch on the CPU, and starved a GPU); else preprocessed batch by batch, in worker processes on a GPU."""
    on_gpu = device.type == "cuda"
    order = torch.Generator().manual_seed(seed)
    if hasattr(preprocess, "decode") and preprocess.decoded_bytes(len(inputs)) <= DECODED_LIMIT:
        pixels = TensorDataset(preprocess.decode(inputs), torch.tensor(labels))
        return DataLoader(
            pixels,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=_Normalized(preprocess.normalize),
            pin_memory=on_gpu,
            generator=order,
        )
    return DataLoader(
        list(zip(inputs, labels)),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=_Collate(preprocess),
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
