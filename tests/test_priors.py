"""The priors that seed the search: how much of a source to adapt, from the data's size and how
well the source's frozen features already separate the classes."""

import pytest

from autotl.plugins import build_registry
from autotl.selection.priors import knn_similarity, prior, rank
from tests.fakes import FakeSource


def first_guesses(per_class: float, similarity: float | None, count: int = 3) -> list[str]:
    registry = build_registry()
    source = FakeSource("tiny", offers=("source_head", "blocks"))
    candidates, _ = registry.candidates("image", [source], registry.items("strategies"), registry.items("regularizers"))
    return [f"{c.strategy.name}+{c.regularizer.name}" for c in rank(candidates, prior(per_class, similarity))[:count]]


def test_very_little_data_starts_from_frozen_features():
    assert first_guesses(5, 0.9)[:2] == ["linear_probe+none", "mlp_probe+none"]


def test_much_data_starts_with_every_weight_trained_and_no_penalty():
    assert first_guesses(5000, 0.9)[0] == "finetune+none"


def test_a_dissimilar_source_is_adapted_more_deeply_than_a_similar_one():
    assert prior(50, similarity=0.1).depth > prior(50, similarity=0.9).depth
    assert first_guesses(50, 0.9)[0].startswith(("lora", "partial_freeze"))
    assert first_guesses(50, 0.0)[0].split("+")[0] in {"lp_ft", "multitask", "finetune"}


def test_little_data_anchors_the_weights_and_more_data_frees_them():
    assert first_guesses(40, 0.5)[0].startswith("partial_freeze+") and not first_guesses(40, 0.5)[0].endswith("+none")
    assert first_guesses(400, 0.5)[0] == "finetune+none"


def test_scratch_is_never_a_first_guess():
    assert all(not guess.startswith("scratch") for guess in first_guesses(10**6, 0.0, count=10))


@pytest.mark.parametrize(
    "accuracy, classes, expected", [(0.1, 10, 0.0), (1.0, 10, 1.0), (0.55, 10, 0.5), (None, 10, None)]
)
def test_similarity_is_knn_accuracy_above_chance(accuracy, classes, expected):
    assert knn_similarity(accuracy, classes) == (pytest.approx(expected) if expected is not None else None)
