"""The convex probe and the classical no-transfer baseline: the same fit as scikit-learn's, and a
saved baseline that predicts exactly as the fitted one, from arrays alone."""

import numpy as np
import pytest

from autotl.training import classical
from autotl.training.convex import fit_logistic, row_space


def blobs(n: int, d: int, classes: int, seed: int = 0, noise: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    return rng.normal(size=(classes, d))[labels] + noise * rng.normal(size=(n, d)) + 5, labels


def reference(features, labels, c, **options):
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    length = np.sqrt(
        np.square(features - mean).sum(axis=1).mean()
    )  # centred, one scale for all: rows of unit length on average
    model = LogisticRegression(C=c, **options).fit((features - mean) / length, labels)
    return lambda inputs: model.predict_proba((inputs - mean) / length)


@pytest.mark.parametrize("classes", [4, 2])
def test_the_probe_is_scikit_learns_logistic_regression_at_the_strength_it_chose(classes):
    features, labels = blobs(200, 10, classes)
    fit = fit_logistic(features, labels, classes)
    test, _ = blobs(50, 10, classes, seed=1)
    # Raw features in: the scaling is folded into the weights, and two classes get two logits.
    assert fit.probabilities(test) == pytest.approx(
        reference(features, labels, fit.c, max_iter=5000, tol=1e-10)(test), abs=1e-3
    )


def test_wide_features_are_fitted_in_their_row_space_to_the_same_model():
    features, labels = blobs(60, 200, 3, noise=8)  # noisy enough for a strength at which L-BFGS converges
    fit = fit_logistic(features, labels, 3)
    test, _ = blobs(50, 200, 3, seed=1, noise=8)
    # Every gradient is a combination of the rows: the optimum on 60 coordinates is the optimum on 200 features.
    assert fit.probabilities(test) == pytest.approx(
        reference(features, labels, fit.c, max_iter=5000, tol=1e-10)(test), abs=1e-3
    )


def test_the_row_space_keeps_products_and_lengths():
    features = np.random.default_rng(0).normal(size=(5, 40))
    coordinates, basis = row_space(features)
    assert coordinates @ basis == pytest.approx(features)
    assert basis @ basis.T == pytest.approx(np.eye(5), abs=1e-9)


def test_a_class_missing_from_the_training_labels_is_never_predicted():
    features, labels = blobs(30, 5, 2)
    fit = fit_logistic(features, labels, num_classes=3)
    assert fit.probabilities(features)[:, 2].max() < 1e-6


@pytest.mark.parametrize("modality", ["text", "image"])
def test_a_saved_baseline_predicts_as_the_fitted_one(modality, tmp_path, colour_images):
    if modality == "text":
        inputs = [f"{word} report number {i}" for word in ("market", "match") for i in range(8)]
    else:
        inputs = sorted(str(p) for p in colour_images.rglob("*.png"))
    labels = [i * 2 // len(inputs) for i in range(len(inputs))]
    model = classical.fit(modality, inputs, labels, ("a", "b"), image_side=8)
    loaded = classical.load(model.save(tmp_path / "bundle"))
    assert loaded.probabilities(inputs) == pytest.approx(model.probabilities(inputs))
    assert loaded.description == model.description and (loaded.probabilities(inputs).argmax(1) == labels).all()
    with np.load(
        tmp_path / "bundle" / classical.ARRAYS, allow_pickle=False
    ) as arrays:  # arrays only: nothing to unpickle
        assert {"weight", "bias"} <= set(arrays.files)
