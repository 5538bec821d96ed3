"""Fine-tuning regularizers that keep the fine-tuned model near its source."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from autotl.contracts.capabilities import Needs
from autotl.contracts.settings import Setting

if TYPE_CHECKING:
    import torch

    from autotl.contracts.settings import TrainParams
    from autotl.training.classifier import Classifier


class Term:
    """A term added to the loss at every training step, after the model's forward pass.

    Terms see the batch's inputs; what they need from inside the model (the
    backbone's features, intermediate maps) they record with forward hooks,
    registered through ``hook`` so that ``close`` removes them.
    """

    anchored: "frozenset[int]" = frozenset()
    """ids of the parameters this term pulls towards a value other than zero: the optimizer's
    plain weight decay would fight it, so the loop leaves them out of that decay."""

    def __init__(self) -> None:
        self._hooks: list[Any] = []

    def __call__(self, inputs: Any) -> "torch.Tensor":
        raise NotImplementedError

    def hook(self, module: "torch.nn.Module", record) -> None:
        """Calls ``record(output)`` after every forward pass of ``module``."""
        self._hooks.append(module.register_forward_hook(lambda _module, _inputs, output: record(output)))

    def close(self) -> None:
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()


@dataclass(frozen=True)
class Regularizer(ABC):
    """A penalty added to the task loss (L2-SP, KL divergence, ...).

    ``needs`` is checked against what the source offers plus what the strategy
    provides: a regularizer that anchors backbone weights needs a trained backbone.
    ``settings`` (its strength, ...) are searched by ``select`` and set by ``--set``.
    ``extra_forwards``: forward passes it adds to each step (a frozen reference model's),
    for ``select``'s cost model. ``penalises``: False for a regularizer that adds nothing (the
    built-in ``none``), which ``select``'s portfolio and baselines train with.
    """

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)
    settings: tuple[Setting, ...] = ()
    extra_forwards: float = 0.0
    penalises: bool = True

    @abstractmethod
    def bind(
        self, model: "Classifier", params: "TrainParams", train: "Iterable[tuple[Any, torch.Tensor]]"
    ) -> Term | None:
        """Called once, before training, with the model at its starting (pretrained) weights,
        which the penalty measures distance to, and the training batches (for statistics the
        penalty needs). None adds nothing."""
