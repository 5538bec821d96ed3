"""What a strategy is given to train, and what it gives back."""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from autotl.contracts.data import Dataset, Example
from autotl.contracts.regularizers import Regularizer
from autotl.contracts.settings import TrainParams
from autotl.contracts.sources import Source
from autotl.training.classifier import Classifier
from autotl.training.features import FeatureCache
from autotl.training.loop import Epoch, FitResult


@dataclass
class TrainingJob:
    source: Source
    regularizer: Regularizer
    classes: tuple[str, ...]
    splits: dict[str, list[Example]]
    params: TrainParams
    device: torch.device
    metric: str
    cache: FeatureCache
    seed: int = 0
    on_epoch: Callable[[Epoch], None] = lambda epoch: None
    source_data: Dataset | None = None
    """Labelled examples of a source task (``--source-data``), for strategies that learn it too."""

    def load_backbone(self, pretrained: bool = True):
        """The source model, taking images at ``params.image_size`` when that is set."""
        from autotl.training.backbone import ImagePreprocessor

        backbone = self.source.load(pretrained=pretrained)
        spec = self.source.spec
        if self.params.image_size and spec.modality == "image":
            backbone.preprocessor = ImagePreprocessor(self.params.image_size, spec.mean, spec.std)
        return backbone

    def inputs(self, split: str) -> list[str]:
        return [e.input for e in self.splits[split]]

    def labels(self, split: str) -> list[int]:
        index = {label: i for i, label in enumerate(self.classes)}
        return [index[e.label] for e in self.splits[split]]

    def class_weights(self) -> np.ndarray | None:
        """The loss weight of each class at the ``class_weight`` setting, from the training split."""
        from autotl.training.loop import class_weights

        return class_weights(self.labels("train"), len(self.classes), self.params.extra.get("class_weight", 0.0))

    def augmentation(self) -> str:
        """The policy that augments the training images (``training.augmentation``): ``none`` for
        text, and where the strategy declares no ``augment`` setting."""
        from autotl.training.augmentation import policy

        if "augment" not in self.params.extra or self.source.spec.modality != "image":
            return "none"
        return policy(self.params.extra["augment"], len(self.splits["train"]))

    def record(self) -> dict:
        """The settings the model was trained with, as its manifest keeps them: ``augment`` by its policy's name."""
        return self.params.as_dict() | ({"augment": self.augmentation()} if "augment" in self.params.extra else {})


@dataclass
class TrainedModel:
    """The classifier at its best validation epoch, with its class probabilities on val and test."""

    classifier: Classifier
    fit: FitResult
    probabilities: dict[str, np.ndarray]
