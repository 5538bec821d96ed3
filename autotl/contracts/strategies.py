"""Transfer strategies: how a source model is adapted to the target task."""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from autotl.contracts.capabilities import Needs
from autotl.contracts.settings import Setting

if TYPE_CHECKING:
    from autotl.contracts.settings import TrainParams
    from autotl.training.job import TrainedModel, TrainingJob


@dataclass(frozen=True)
class StepCost:
    """One training step's work in passes over the backbone: ``forwards`` forward passes and
    ``backwards`` backward passes, a backward through part of the network counting its share."""

    forwards: float = 1.0
    backwards: float = 1.0


@dataclass(frozen=True)
class Strategy(ABC):
    """A way to transfer (linear probe, full fine-tuning, partial freezing, ...).

    ``needs``: what the source must offer. ``provides``: what the strategy adds
    for regularizers, such as a backbone that training updates. ``defaults``:
    loop settings that suit it (see :class:`autotl.contracts.TrainParams`);
    ``settings``: its own hyperparameters, which ``--set`` takes and ``select``
    searches. ``cached_features``: it trains on frozen features from the cache,
    so an epoch costs a head's work, not the backbone's. ``schedule``: it trains by epochs at a
    learning rate; False for a closed-form or convex fit, for which ``select`` searches neither.
    ``depth``: how much of the source it adapts, 0 (frozen features) to 1 (every weight), which
    ``select``'s priors match to the data; None leaves it out of the first guesses. ``baseline``: it
    transfers nothing (``scratch`` trains the source's architecture from random weights), so
    ``select`` never searches it as a candidate but runs it beside its choice, with its whole
    default schedule or not at all, to say what transfer bought; ``autotl train`` takes it like any
    other.
    """

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)
    provides: Needs = field(default_factory=frozenset)
    defaults: Mapping[str, float] = field(default_factory=dict, hash=False)
    settings: tuple[Setting, ...] = ()
    cached_features: bool = False
    depth: float | None = None
    schedule: bool = True
    baseline: bool = False

    def step_cost(self, params: "TrainParams", blocks: int, source_data: bool) -> StepCost:
        """The work of one training step, for ``select``'s cost model (not asked of strategies
        with ``cached_features``, whose epochs cost a head's work)."""
        return StepCost()

    @abstractmethod
    def train(self, job: "TrainingJob") -> "TrainedModel":
        """Trains on ``job``'s train split, picks the epoch by val, and returns
        the classifier with its probabilities on val and, unless the job leaves it empty (as
        ``select``'s trials do: only the final model is tested), on test."""
