"""Temperature scaling: the logged model divides its logits by a temperature fitted on held-out
predictions, which changes no prediction; the test ECE without and with it is reported."""

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from scipy.special import softmax

import autotl
from autotl.training import calibration as calibration_module
from autotl.training.calibration import (
    MIN_HELD_OUT,
    calibrate,
    expected_calibration_error,
    fit_temperature,
    rescaled,
)


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


def test_on_fewer_held_out_predictions_than_the_minimum_the_temperature_stays_one():
    """Eight held-out predictions, all right, would drive the temperature to its bound and every
    confidence to 1.000."""
    held_out, labels = np.tile(np.array([[0.7, 0.3]]), (8, 1)), np.zeros(8, dtype=int)
    assert fit_temperature(held_out, labels) < 0.1
    calibration = calibrate(held_out, labels, held_out, labels)
    assert calibration.temperature == 1.0 and not calibration.fitted and calibration.held_out == 8
    assert calibration.test_ece_after == calibration.test_ece_before and calibration.test_examples == 8


def test_a_trained_model_on_a_small_validation_split_is_left_uncalibrated_and_says_so(cli, tiny, colour_images):
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "mlp_probe", "--set", "epochs=3")
    assert result.exit_code == 0, result.output
    assert f"Not calibrated: 6 held-out predictions, fewer than the {MIN_HELD_OUT} a temperature needs" in result.output


def test_a_trained_model_carries_its_temperature_and_reports_the_ece_before_and_after(
    tiny, colour_images, monkeypatch, tmp_path
):
    monkeypatch.setattr(calibration_module, "MIN_HELD_OUT", 6)  # the 6 validation images of this little set
    result = autotl.train(colour_images, "tiny", "mlp_probe", settings={"epochs": "3"}, progress=lambda m: None)
    calibration = result.calibration
    assert calibration["fitted"] and calibration["held_out"] == 6 and calibration["test_examples"] == 6
    metrics = mlflow.get_run(result.run_id).data.metrics
    assert metrics["temperature"] == pytest.approx(calibration["temperature"]) != 1.0
    assert metrics["test_ece"] == pytest.approx(calibration["test_ece_after"])
    folder = Path(mlflow.artifacts.download_artifacts(f"runs:/{result.run_id}/model", dst_path=str(tmp_path / "model")))
    [manifest] = folder.rglob("autotl_model.json")
    assert json.loads(manifest.read_text())["temperature"] == pytest.approx(calibration["temperature"])


def test_select_calibrates_its_final_model_on_the_choices_out_of_fold_predictions(tiny, colour_images, monkeypatch):
    monkeypatch.setattr(calibration_module, "MIN_HELD_OUT", 24)
    result = autotl.select(colour_images, 3600, models=["tiny"], strategies=["linear_probe"], progress=lambda m: None)
    assert result.calibration["held_out"] == 24 and result.calibration["fitted"]  # all of train+val, out of fold
    assert "test_ece" in mlflow.get_run(result.run_id).data.metrics
