"""Fine-tuning regularizers that keep the fine-tuned model near its source."""

from dataclasses import dataclass, field

from autotl.needs import Needs


@dataclass(frozen=True)
class Regularizer:
    """A penalty added to the task loss (L2-SP, KL divergence, ...).

    ``needs`` is checked against what the source offers plus what the strategy
    provides: a regularizer that anchors backbone weights needs a trained backbone.
    """

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)
