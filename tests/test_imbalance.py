"""Imbalanced classes: above a ratio of 1.5 between the largest and the smallest training class,
`select` judges by macro-F1 (saying so) and searches class-weighted losses beside the plain one;
every logged model records each class's recall."""

from pathlib import Path

import mlflow
import numpy as np
import pytest
from PIL import Image

import autotl
from autotl.training.loop import class_weights


@pytest.fixture
def lopsided_images(tmp_path) -> Path:
    """Reddish and bluish 8x8 images, 32 of one and 8 of the other: a ratio of 4."""
    root = tmp_path / "lopsided"
    rng = np.random.default_rng(0)
    for label, channel, count in (("red", 0, 32), ("blue", 2, 8)):
        (root / label).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 90, size=(8, 8, 3), dtype=np.uint8)
            pixels[..., channel] = rng.integers(150, 256, size=(8, 8))
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


def test_each_class_weighs_as_much_as_the_others_at_exponent_one_and_the_loss_is_plain_at_zero():
    labels = [0, 0, 0, 1]  # 4 examples, 2 classes: n / (k * count)
    assert class_weights(labels, 2, 1.0) == pytest.approx([4 / 6, 4 / 2])
    assert class_weights(labels, 2, 0.5) == pytest.approx([(4 / 6) ** 0.5, 2**0.5])
    assert class_weights(labels, 2, 0.0) is None
    assert class_weights(labels, 3, 1.0)[2] == 1.0  # a class absent from training is left alone


def trial_rows(result) -> list[dict]:
    return [row for row in result.result["leaderboard"] if row["trial"] is not None and row["state"] == "complete"]


def test_on_imbalanced_classes_select_judges_by_macro_f1_and_searches_class_weights(tiny, lopsided_images):
    said = []
    result = autotl.select(lopsided_images, 3600, models=["tiny"], strategies=["linear_probe"], progress=said.append)
    assert result.metric == "f1_macro"
    [notice] = [line for line in said if line.startswith("Imbalanced classes")]
    assert "above 1.5): judging by f1_macro; --metric accuracy judges by accuracy" in notice
    assert {row["params"]["class_weight"] for row in trial_rows(result)} == {0.0, 1.0}


def test_balanced_classes_keep_accuracy_and_the_plain_loss(tiny, colour_images):
    said = []
    result = autotl.select(colour_images, 3600, models=["tiny"], strategies=["linear_probe"], progress=said.append)
    assert result.metric == "accuracy" and not any("Imbalanced" in line for line in said)
    assert {row["params"]["class_weight"] for row in trial_rows(result)} == {0.0}


def test_an_explicit_metric_is_kept_on_imbalanced_classes(tiny, lopsided_images):
    said = []
    result = autotl.select(
        lopsided_images, 3600, models=["tiny"], strategies=["linear_probe"], metric="accuracy", progress=said.append
    )
    assert result.metric == "accuracy" and not any("Imbalanced" in line for line in said)


def test_a_trained_model_records_each_class_recall_and_trains_with_class_weights(tiny, lopsided_images):
    result = autotl.train(
        lopsided_images,
        "tiny",
        "mlp_probe",
        settings={"class_weight": "1", "epochs": "3"},
        progress=lambda message: None,
    )
    run = mlflow.get_run(result.run_id)
    assert run.data.params["class_weight"] == "1.0"
    assert {"test_recall/red", "test_recall/blue"} <= set(run.data.metrics)
    recall = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/class_recall.json")
    assert set(recall) == {"red", "blue"} and all(0.0 <= value <= 1.0 for value in recall.values())
