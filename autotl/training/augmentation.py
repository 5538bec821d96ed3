"""Augmentation of training images, by named policy (torchvision.transforms.v2): on a few images
per class, the largest accuracy lever of fine-tuning. Only training batches are augmented;
validation, test and prediction see the source's evaluation transform.

- ``none``: the evaluation transform alone.
- ``light``: a random crop of at least 64% of the image, resized back, and a horizontal flip: the
  augmentation of BiT's fine-tuning rule (Kolesnikov et al. 2020: resize to 160 px, random
  128 px crop, flip).
- ``strong``: ``light``, then TrivialAugment (Müller & Hutter 2021), one random operation at a
  random strength per image, with no policy to tune.

The default follows BiT-HyperRule too: crops and flips for every fine-tuning, a heavier
regulariser (MixUp there) only from 20,000 training examples on.
"""

from typing import TYPE_CHECKING, Callable

from autotl.contracts.settings import Setting

if TYPE_CHECKING:
    import torch

POLICIES = ("none", "light", "strong")
BY_DATA_SIZE = -1
HEAVY_FROM = 20_000
"""Training images from which the default policy is ``strong``."""
CROP_AREA = (128 / 160) ** 2
"""The smallest fraction of the image a ``light`` crop keeps: BiT's 128 px crop of 160 px."""

AUGMENT = Setting(
    "augment",
    BY_DATA_SIZE,
    (0, 1, 2),
    "augmentation of training images: none, light (random crop and flip), strong (light, then "
    f"TrivialAugment); auto: light below {HEAVY_FROM:,} training images, strong from there",
    integer=True,
    names=((BY_DATA_SIZE, "auto"), *enumerate(POLICIES)),
    modality="image",
)
"""Declared by the built-in end-to-end strategies; ``train_end_to_end`` honours it."""


def policy(value: float, train_size: int) -> str:
    """The policy that ``augment=value`` names, ``auto`` decided by the number of training images."""
    if value == BY_DATA_SIZE:
        return "strong" if train_size >= HEAVY_FROM else "light"
    return POLICIES[int(value)]


def augmenter(name: str, size: int) -> Callable[["torch.Tensor"], "torch.Tensor"] | None:
    """What augments one image's (3, size, size) uint8 pixels under policy ``name``; None for ``none``."""
    from torchvision.transforms import v2

    if name == "none":
        return None
    light = [v2.RandomResizedCrop(size, scale=(CROP_AREA, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    return v2.Compose(light + [v2.TrivialAugmentWide()] if name == "strong" else light)
