"""autotl-timm: timm's models as autotl sources, checked against autotl's own EfficientNet-Lite0."""

import numpy as np
import pytest
import torch
from PIL import Image

from autotl_timm import MODELS, TimmModel, blocks


def lite0() -> TimmModel:
    return TimmModel("tf_efficientnet_lite0", MODELS["tf_efficientnet_lite0"])


def test_the_same_weights_give_the_same_logits_as_the_built_in_source(lite0_weights):
    from autotl.builtins.sources.efficientnet_lite import EfficientNetLite

    ours, built_in = lite0().load().eval(), EfficientNetLite(0).load().eval()
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits, expected = ours.source_head(ours(images)), built_in.source_head(built_in(images))
    assert logits.shape == (2, 1000)
    assert torch.allclose(logits, expected, atol=1e-4, rtol=0)
    assert len(ours.blocks) == len(built_in.blocks) == 16


def test_weights_that_are_nowhere_make_the_source_unavailable_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("AUTOTL_TIMM_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    found = lite0().availability()
    assert not found.available and "$AUTOTL_TIMM_WEIGHTS" in found.reason
    assert lite0().pull_from().endswith("/timm/tf_efficientnet_lite0.in1k")  # where `autotl models pull` gets them


def test_blocks_are_listed_lowest_first_whatever_the_family():
    import timm

    assert len(blocks(timm.create_model("resnet18"))) == 8  # 2 basic blocks x 4 layers
    assert len(blocks(timm.create_model("vit_small_patch16_224"))) == 12


def test_l1sp_is_alpha_times_the_l1_distance_of_the_backbone_to_its_start():
    from autotl.contracts.settings import TrainParams
    from autotl.training.classifier import Classifier
    from autotl_timm import L1SP, L1SP_ALPHA

    model = Classifier(lite0().load(pretrained=False), 3)
    term = L1SP("l1sp", "", settings=(L1SP_ALPHA,)).bind(model, TrainParams(extra={"l1sp_alpha": 0.5}), [])
    assert term(None) == 0
    weight = model.backbone.body.conv_stem.weight
    with torch.no_grad():
        weight += 0.01
    assert term(None).item() == pytest.approx(0.5 * 0.01 * weight.numel(), rel=1e-4)
    assert id(weight) in term.anchored and all(id(p) not in term.anchored for p in model.head.parameters())


def test_select_uses_a_timm_model(timm_plugin, lite0_weights, tmp_path, monkeypatch):
    import autotl

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "shapes"
    for label, value in (("dark", 40), ("light", 215)):
        (data / label).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((8, 8, 3), value + i, dtype=np.uint8)).save(data / label / f"{i}.png")
    result = autotl.select(
        data,
        120,
        models=["timm-tf_efficientnet_lite0"],
        strategies=["linear_probe"],
        regularizers=["none"],
        cache_dir=tmp_path / "cache",
        progress=lambda message: None,
    )
    assert result.source == "timm-tf_efficientnet_lite0" and result.test_accuracy == pytest.approx(1.0)


def test_registering_the_models_imports_neither_timm_nor_torch():
    import subprocess
    import sys

    check = (
        "import sys, autotl_timm; found = []; autotl_timm.register_sources(found.append); "
        "assert [s.name for s in found][:1] == ['timm-tf_efficientnet_lite0'], found; "
        "assert not {'timm', 'torch'} & set(sys.modules), sorted({'timm', 'torch'} & set(sys.modules))"
    )
    from pathlib import Path

    plugin = str(Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120, cwd=plugin)
    assert result.returncode == 0, result.stderr
