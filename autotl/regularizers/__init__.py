"""Fine-tuning regularizers that keep the fine-tuned model near its source."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autotl.needs import Needs

if TYPE_CHECKING:
    import torch

    from autotl.training.classifier import Classifier


@dataclass(frozen=True)
class Regularizer(ABC):
    """A penalty added to the task loss (L2-SP, KL divergence, ...).

    ``needs`` is checked against what the source offers plus what the strategy
    provides: a regularizer that anchors backbone weights needs a trained backbone.
    """

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)

    @abstractmethod
    def penalty(self, classifier: "Classifier") -> "torch.Tensor | None":
        """The term added to the loss at each step; None adds nothing."""
