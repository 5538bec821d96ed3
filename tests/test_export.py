"""``autotl export``: a logged model as one ONNX or TorchScript file from preprocessed inputs to
class probabilities, which gives what ``autotl predict`` gives, to 1e-4, under its own runtime."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from test_train_predict import tiny_bert, train_json

from autotl.logged_model import load


def run_onnx(path, inputs: dict) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in inputs.items()})[0]


def test_an_image_model_exports_to_onnx_and_torchscript_and_both_give_what_predict_gives(
    cli, tiny, colour_images, tmp_path
):
    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "mlp_probe", "--set", "epochs=3")
    model = load(report["model_uri"])
    paths = sorted(str(p) for p in colour_images.rglob("*.png"))
    predicted = model.probabilities(paths)
    pixels = model.classifier.backbone.preprocessor(paths)

    result = cli("export", "--model", report["model_uri"], "--format", "onnx", "--output", tmp_path / "model.onnx")
    assert result.exit_code == 0, result.output
    assert np.abs(run_onnx(tmp_path / "model.onnx", {"pixels": pixels}) - predicted).max() < 1e-4
    metadata = json.loads(onnx.load(tmp_path / "model.onnx").metadata_props[0].value)
    assert metadata["classes"] == list(model.classes) and metadata["preprocessing"]["center_crop"] == 8

    result = cli("export", "--model", report["model_uri"], "--format", "torchscript", "--output", tmp_path / "model.pt")
    assert result.exit_code == 0, result.output
    extra = {"autotl.json": ""}
    scripted = torch.jit.load(str(tmp_path / "model.pt"), _extra_files=extra)
    assert np.abs(scripted(pixels).detach().numpy() - predicted).max() < 1e-4
    assert json.loads(extra["autotl.json"])["temperature"] == report["calibration"]["temperature"]


def test_a_text_model_exports_to_onnx_with_its_token_inputs(cli, tiny, text_file, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOTL_HF_MODELS", str(tiny_bert(tmp_path / "tiny-bert")))
    words = "good bad great awful fine poor nice terrible".split()
    rows = [["text", "label"]] + [[f"the film was very {w}", str(i % 2)] for i, w in enumerate(words * 3)]
    report = train_json(
        cli, "--data", text_file(rows), "--model", "tiny-bert", "--strategy", "finetune", "--set", "epochs=1"
    )
    result = cli("export", "--model", report["model_uri"], "--format", "onnx", "--output", tmp_path / "text.onnx")
    assert result.exit_code == 0, result.output
    model = load(report["model_uri"])
    texts = ["good", "the plot was very very awful", "a fine film"]
    tokens = dict(model.classifier.backbone.preprocessor(texts))
    assert np.abs(run_onnx(tmp_path / "text.onnx", tokens) - model.probabilities(texts)).max() < 1e-4


@pytest.mark.parametrize(
    "arguments, error",
    [
        (["--format", "pickle"], "Error: --format pickle: give onnx or torchscript"),
        (["--format", "onnx", "--force"], None),
    ],
)
def test_a_bad_format_is_refused_and_an_existing_file_is_kept_without_force(
    cli, tiny, colour_images, tmp_path, arguments, error
):
    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe")
    existing = tmp_path / "existing.onnx"
    existing.write_text("keep me")
    refused = cli("export", "--model", report["model_uri"], "--format", "onnx", "--output", existing)
    assert refused.exit_code == 2 and existing.read_text() == "keep me"
    assert "the file exists; give --force to replace it" in refused.stderr
    result = cli("export", "--model", report["model_uri"], *arguments, "--output", existing)
    if error:
        assert result.exit_code == 2 and result.stderr.strip() == error
    else:
        assert result.exit_code == 0 and existing.read_bytes() != b"keep me"


def test_checking_an_onnx_file_writes_nothing_in_the_home_folder(tmp_path):
    """onnxruntime's telemetry keeps a device id and an event database under ~/.cache from its
    import on; autotl turns it off (ORT_DISABLE_TELEMETRY) before it imports onnxruntime."""
    import os
    import subprocess
    import sys

    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "relu.onnx")
    home = tmp_path / "home"
    home.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY")}
    code = "import sys, torch; from pathlib import Path; from autotl.exporting import _run; "
    code += "print(_run('onnx', Path(sys.argv[1]), {'x': torch.tensor([-1.0])}))"
    checked = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "relu.onnx")],
        env={**environment, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0 and checked.stdout.strip() == "[0.]", checked.stderr
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []
