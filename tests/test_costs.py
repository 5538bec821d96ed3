"""The cost model: a trial's time predicted from one source's calibrated step times and the work
each strategy and regularizer adds to a step."""

import pytest

from autotl.contracts.settings import TrainParams
from autotl.plugins import build_registry
from autotl.selection.costs import StepTimes, epoch_seconds

TIMES = StepTimes(forward=1.0, backward=2.0)


def step_seconds(strategy: str, regularizer: str = "none", source_data: bool = False, **extra) -> float:
    """One step's predicted seconds: an epoch of one example, with nothing evaluated."""
    registry = build_registry()
    strategies = {s.name: s for s in registry.items("strategies")}
    regularizers = {r.name: r for r in registry.items("regularizers")}
    params = TrainParams(extra=extra)
    cost = strategies[strategy].step_cost(params, blocks=8, source_data=source_data)
    return epoch_seconds(TIMES, cost, regularizers[regularizer].extra_forwards, examples=1, evaluated=0, batch_size=64)


def test_fine_tuning_pays_a_forward_and_a_backward_pass():
    assert step_seconds("finetune") == pytest.approx(3.0)
    assert step_seconds("scratch") == pytest.approx(3.0)


def test_freezing_lower_blocks_shortens_the_backward_pass():
    assert step_seconds("partial_freeze", frozen_blocks=2) == pytest.approx(1.0 + 2.0 * 6 / 8)
    assert step_seconds("partial_freeze", frozen_blocks=-1) == pytest.approx(1.0 + 2.0 * 4 / 8)


def test_a_frozen_reference_model_adds_its_forward_pass():
    assert step_seconds("finetune", "kl") == pytest.approx(4.0)
    assert step_seconds("finetune", "delta") == pytest.approx(4.0)
    assert step_seconds("finetune", "l2sp") == pytest.approx(3.0)


def test_multitask_pays_for_its_source_task():
    assert step_seconds("multitask") == pytest.approx(2 * 1.0 + 2.0)  # the source model's outputs (LwF)
    assert step_seconds("multitask", source_data=True) == pytest.approx(2 * 3.0)  # a step on a source batch too


def test_an_epoch_counts_every_batch_and_the_validation():
    from autotl.contracts.strategies import StepCost

    assert epoch_seconds(TIMES, StepCost(), 0.0, examples=130, evaluated=70, batch_size=64) == pytest.approx(
        3 * 3.0 + 2 * 1.0
    )


def test_head_trials_are_costed_as_a_fixed_part_plus_a_part_per_epoch():
    from autotl.selection.costs import fixed_plus_proportional

    assert fixed_plus_proportional([(1, 2.0)], 10) == pytest.approx(
        20.0
    )  # one count seen: in proportion, an overestimate
    assert fixed_plus_proportional([(1, 2.0), (11, 3.0)], 51) == pytest.approx(1.9 + 0.1 * 51)
