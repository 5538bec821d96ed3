"""Built-in strategy ``partial_freeze``: the lower ``frozen_blocks`` blocks (and the stem beneath
them) keep their pretrained weights and statistics; the blocks above and the head are trained.

General features live low in a network and task-specific ones high (Yosinski et al. 2014), so
the lower blocks often need no change and the fewer trained weights overfit less.
"""

from dataclasses import dataclass

import autotl
from autotl.contracts.capabilities import Capability
from autotl.contracts.settings import CLASS_WEIGHT, Range, Setting
from autotl.contracts.strategies import StepCost, Strategy
from autotl.training.augmentation import AUGMENT
from autotl.training.end_to_end import BACKBONE_LR_RATIO, TUNED, backbone_groups, train_end_to_end


def _quarters(num_blocks: int) -> tuple[int, ...]:
    """A quarter, half and three quarters of the blocks (at least one frozen, at least one trained)."""
    return tuple(sorted({min(num_blocks - 1, max(1, round(num_blocks * share))) for share in (0.25, 0.5, 0.75)}))


FROZEN_BLOCKS = Setting(
    "frozen_blocks",
    -1,
    _quarters,
    "number of lower blocks kept frozen (-1: half of them)",
    integer=True,
    range=Range(-1, says="-1 (half of the blocks) or a number of blocks, 0 or more"),
)
"""Its upper end is the source's number of blocks, checked once the source is loaded."""


def _frozen(setting: float, blocks: int) -> int:
    return blocks // 2 if setting < 0 else int(setting)


@dataclass(frozen=True)
class PartialFreeze(Strategy):
    def step_cost(self, params, blocks, source_data):
        """The backward pass stops at the first trained block."""
        trained = 1 - _frozen(params.extra["frozen_blocks"], blocks) / blocks if blocks else 1.0
        return StepCost(backwards=max(0.0, trained))

    def train(self, job):
        from autotl.errors import AutotlError
        from autotl.training.classifier import Classifier
        from autotl.training.layers import freeze_below

        classifier = Classifier(job.load_backbone(pretrained=True), len(job.classes))
        blocks = len(classifier.backbone.blocks)
        k = _frozen(job.params.extra["frozen_blocks"], blocks)
        if not 0 <= k <= blocks:
            raise AutotlError(f"--set frozen_blocks={k}: {job.source.name} has {blocks} blocks; choose 0 to {blocks}")
        freeze_below(classifier.backbone, k)
        return train_end_to_end(job, classifier, backbone_groups(job, classifier))


@autotl.hookimpl
def register_strategies(register):
    register(
        PartialFreeze(
            "partial_freeze",
            "the lower frozen_blocks blocks frozen (in eval mode); the blocks above and the head trained",
            needs=frozenset({Capability.BLOCKS}),
            provides=TUNED,
            defaults={"lr": 1e-3, "epochs": 5},
            settings=(FROZEN_BLOCKS, BACKBONE_LR_RATIO, CLASS_WEIGHT, AUGMENT),
            depth=0.5,
        )
    )
