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


def raw_batches(
    inputs: list[str],
    labels: list[int],
    preprocess,
    batch_size: int,
    device: torch.device,
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    on_gpu = device.type == "cuda"
    return DataLoader(
        list(zip(inputs, labels)),
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=_Collate(preprocess),
        num_workers=min(8, (os.cpu_count() or 2) - 1) if on_gpu else 0,
        pin_memory=on_gpu,
        persistent_workers=on_gpu,
        generator=torch.Generator().manual_seed(seed),
    )


def feature_batches(
    features: np.ndarray, labels: list[int], batch_size: int, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    dataset = TensorDataset(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)), torch.tensor(labels))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))
