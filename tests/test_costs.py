"""The cost model: a trial's time predicted from one source's calibrated step times and the work
each strategy and regularizer adds to a step."""

from pathlib import Path

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


def test_a_convex_fit_costs_more_with_examples_and_classes_and_less_without_inner_folds():
    from autotl.selection.costs import logistic_units

    assert logistic_units(100, 100, 10, 10) < logistic_units(1000, 1000, 10, 10) < logistic_units(1000, 1000, 100, 10)
    assert logistic_units(1000, 50, 100, 10) < logistic_units(1000, 1000, 100, 10)  # fewer features
    assert logistic_units(1000, 1000, 1000, 1) < logistic_units(1000, 1000, 1000, 3) / 5  # no strength to choose


def texts(classes: int, per_class: int):
    from autotl.contracts.data import Dataset, Example

    examples = [
        Example(f"text {i} of class {c}", f"c{c}", f"{c}-{i}") for c in range(classes) for i in range(per_class)
    ]
    splits = {"train": examples[::2], "val": examples[1::2], "test": []}
    return Dataset(Path("texts.csv"), "csv", "text", tuple(f"c{c}" for c in range(classes)), splits, {}, {}, [])


def test_the_classical_baseline_is_timed_on_a_sample_and_shrunk_to_the_seconds_it_may_take(monkeypatch):
    """A 1000-class CSV took 72 s of a 20 s budget in the classical baseline alone: its cost is
    predicted from one sample fit, and it is shrunk until the prediction fits."""
    from autotl.selection import baselines

    fitted = []
    monkeypatch.setattr(baselines.classical, "fit", lambda *args, **kwargs: fitted.append(len(args[1])))
    ticks = iter([0.0, 1.0])
    dataset = texts(1000, 6)
    forecast = baselines.ClassicalForecast(dataset, [dataset.splits], 0, lambda: next(ticks))
    assert fitted == [baselines.SAMPLE_CLASSES * 6]  # one fit, on a sample: 10 classes of their 6 texts
    whole = forecast.seconds(baselines.Shrink())
    assert whole > 1000 and forecast.fitting(whole) == baselines.Shrink()
    seconds = [forecast.seconds(shrink) for shrink in forecast.versions()]
    assert seconds == sorted(seconds, reverse=True)  # each version smaller than the last
    shrunk = forecast.fitting(60.0)
    assert shrunk.per_class and forecast.seconds(shrunk) <= 60.0
    assert forecast.fitting(0.0) == forecast.versions()[-1]  # the smallest runs whatever the budget
    assert "training example(s) a class" in shrunk.note()


def test_small_data_is_not_timed():
    from autotl.selection import baselines

    dataset = texts(5, 20)
    forecast = baselines.ClassicalForecast(dataset, [dataset.splits], 0, lambda: 1 / 0)
    assert forecast.fitting(0.0) == baselines.Shrink()


def test_a_shrunk_baseline_keeps_a_seeded_few_of_each_class():
    from collections import Counter

    from autotl.selection.baselines import Shrink

    examples = texts(4, 10).splits["train"]
    kept = Shrink(per_class=2).examples(examples, seed=0)
    assert Counter(e.label for e in kept) == {f"c{c}": 2 for c in range(4)}
    assert kept == Shrink(per_class=2).examples(examples, seed=0) != Shrink(per_class=2).examples(examples, seed=1)
