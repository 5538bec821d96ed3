"""Augmentation of training images: a declared ``augment`` setting of the end-to-end strategies
(none, light, strong; auto by the data size), applied to training batches afresh every epoch,
never to val, test or prediction, and recorded with the model."""

import json
from pathlib import Path

import mlflow
import pytest
import torch
from fakes import FakeSource

import autotl
from autotl.plugins import build_registry
from autotl.registry import Candidate
from autotl.training import batches
from autotl.training.augmentation import HEAVY_FROM, augmenter, policy
from autotl.training.backbone import ImagePreprocessor


def epochs_of(loader, count: int = 2) -> list[torch.Tensor]:
    return [torch.cat([inputs for inputs, _ in loader]) for _ in range(count)]


@pytest.mark.parametrize("decoded_once", [True, False])
def test_training_batches_change_every_epoch_under_a_policy_and_stay_the_same_without_one(
    image_folder, monkeypatch, decoded_once
):
    if not decoded_once:
        monkeypatch.setattr(batches, "DECODED_LIMIT", 0)  # each batch decoded as it comes
    paths = sorted(str(p) for p in image_folder({"a": 3, "b": 3}, size=(20, 20)).rglob("*.png"))
    preprocess = ImagePreprocessor(16, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    device = torch.device("cpu")

    first, second = epochs_of(
        batches.raw_batches(paths, [0] * 6, preprocess, 4, device, augment=augmenter("light", 16))
    )
    assert first.shape == second.shape == (6, 3, 16, 16)
    assert not torch.equal(first, second)
    plain = epochs_of(batches.raw_batches(paths, [0] * 6, preprocess, 4, device))
    assert torch.equal(plain[0], plain[1]) and torch.equal(plain[0], preprocess(paths))


def test_auto_crops_and_flips_below_twenty_thousand_training_images_and_adds_trivial_augment_from_there():
    assert policy(-1, HEAVY_FROM - 1) == "light" and policy(-1, HEAVY_FROM) == "strong"
    assert [policy(value, 10) for value in (0, 1, 2)] == ["none", "light", "strong"]
    assert augmenter("none", 16) is None


def test_a_model_trained_with_strong_augmentation_predicts_deterministically_and_records_its_policy(
    tiny, colour_images, tmp_path
):
    result = autotl.train(
        colour_images, "tiny", "finetune", settings={"augment": "strong", "epochs": "2"}, progress=lambda m: None
    )
    assert mlflow.get_run(result.run_id).data.params["augment"] == "2"
    folder = mlflow.artifacts.download_artifacts(f"runs:/{result.run_id}/model", dst_path=str(tmp_path / "model"))
    [manifest] = list(Path(folder).rglob("autotl_model.json"))
    assert json.loads(manifest.read_text())["trained_with"]["augment"] == "strong"

    model = autotl.load(result.model_uri)
    images = sorted(str(p) for p in colour_images.rglob("*.png"))[:6]
    assert model.predict(images).equals(model.predict(images))


def test_augmentation_is_a_setting_of_image_sources_only(tiny):
    strategies = {s.name: s for s in build_registry().items("strategies")}
    none = next(r for r in build_registry().items("regularizers") if r.name == "none")
    names = lambda source: {s.name for s in Candidate(source, strategies["finetune"], none).settings}  # noqa: E731
    assert "augment" in names(FakeSource("pictures"))
    assert "augment" not in names(FakeSource("reader", modality="text"))
    assert "augment" not in {s.name for s in strategies["linear_probe"].settings}  # cached features see no pixels


def test_an_unknown_policy_is_refused_in_one_line(cli, tiny, colour_images):
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "finetune", "--set", "augment=wild")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --set augment=wild: expected one of auto (-1), none (0), light (1), strong (2)"
    )
