"""Temperature scaling: the logged model divides its logits by a temperature fitted on held-out
predictions, which changes no prediction; the test ECE without and with it is reported."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from scipy.special import softmax

import autotl
from autotl.training.calibration import calibrate, expected_calibration_error, fit_temperature, rescaled


def overconfident(temperature: float, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A model's probabilities whose logits are ``temperature`` times too large, and labels drawn
    from the true probabilities."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(count, 4))
    labels = np.array([rng.choice(4, p=p) for p in softmax(logits / temperature, axis=1)])
    return softmax(logits, axis=1), labels


def test_the_fitted_temperature_undoes_overconfidence_and_lowers_the_calibration_error():
    held_out, held_out_labels = overconfident(2.0, 4000, seed=0)
    assert fit_temperature(held_out, held_out_labels) == pytest.approx(2.0, rel=0.1)
    test, test_labels = overconfident(2.0, 4000, seed=1)
    calibration = calibrate(held_out, held_out_labels, test, test_labels)
    assert calibration.test_ece_after < calibration.test_ece_before / 3
    assert (rescaled(test, calibration.temperature).argmax(1) == test.argmax(1)).all()  # the same predictions


def test_a_perfectly_calibrated_model_has_an_ece_near_zero_and_a_confident_wrong_one_near_one():
    probabilities, labels = overconfident(1.0, 20000, seed=2)
    assert expected_calibration_error(probabilities, labels) < 0.02
    assert expected_calibration_error(np.array([[0.99, 0.01]] * 10), np.ones(10, dtype=int)) == pytest.approx(0.99)


def test_a_trained_model_carries_its_temperature_and_reports_the_ece_before_and_after(tiny, colour_images):
    result = autotl.train(colour_images, "tiny", "mlp_probe", settings={"epochs": "3"}, progress=lambda m: None)
    calibration = result.calibration
    assert set(calibration) == {"temperature", "test_ece_before", "test_ece_after", "held_out"}
    metrics = mlflow.get_run(result.run_id).data.metrics
    assert metrics["temperature"] == pytest.approx(calibration["temperature"])
    assert metrics["test_ece"] == pytest.approx(calibration["test_ece_after"])
    folder = Path(mlflow.artifacts.download_artifacts(f"runs:/{result.run_id}/model"))
    [manifest] = folder.rglob("autotl_model.json")
    assert json.loads(manifest.read_text())["temperature"] == pytest.approx(calibration["temperature"])


def test_select_calibrates_its_final_model_on_the_chosen_trials_held_out_predictions(tiny, colour_images):
    result = autotl.select(colour_images, 3600, models=["tiny"], strategies=["linear_probe"], progress=lambda m: None)
    assert result.calibration["held_out"] > 0 and result.calibration["temperature"] > 0
    assert "test_ece" in mlflow.get_run(result.run_id).data.metrics
