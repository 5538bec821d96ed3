"""Transfer strategies: how a source model is adapted to the target task."""

from dataclasses import dataclass, field

from autotl.needs import Needs


@dataclass(frozen=True)
class Strategy:
    """A way to transfer (linear probe, full fine-tuning, partial freezing, ...).

    ``needs``: what the source must offer. ``provides``: what the strategy adds
    for regularizers, such as a backbone that training updates.
    """

    name: str
    description: str
    needs: Needs = field(default_factory=frozenset)
    provides: Needs = field(default_factory=frozenset)
