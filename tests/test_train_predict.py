"""``autotl train`` and ``autotl predict`` on a tiny model built in the test, tracked in a temporary MLflow store."""

import csv
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from fakes import DeclaredStrategy

import autotl

TESTS = Path(__file__).parent


def train_json(cli, *args) -> dict:
    result = cli("train", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_reports_the_contract_and_logs_a_finished_run(cli, tiny, colour_images, tmp_path):
    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "mlp_probe", "--set", "epochs=4")
    for key in (
        "source",
        "strategy",
        "regularizer",
        "params",
        "val_metric",
        "test_metric",
        "test_accuracy",
        "baseline_test_accuracy",
        "run_id",
        "model_uri",
        "budget_s",
        "elapsed_s",
        "train_command",
        "leaderboard",
    ):
        assert key in report
    assert report["params"]["epochs"] == 4
    assert report["train_command"].startswith("autotl train --data")
    mlflow.set_tracking_uri(f"sqlite:///{Path('mlruns/mlflow.db').resolve()}")
    run = mlflow.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["strategy"] == "mlp_probe" and run.data.params["seed"] == "0"
    assert run.data.tags["version.torch"] == version("torch")
    history = mlflow.MlflowClient().get_metric_history(report["run_id"], "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3, 4]
    assert set(
        os.listdir(
            Path(
                mlflow.artifacts.download_artifacts(
                    run_id=report["run_id"], artifact_path="data", dst_path=tmp_path / "run"
                )
            )
        )
    ) == {"profile.json", "split.csv"}


def featurized(monkeypatch) -> list[int]:
    """How many inputs each feature extraction runs through a backbone (the logged model's check
    of its input example runs it too, but extracts no features)."""
    from autotl.training import features

    counts: list[int] = []
    real = features._compute

    def spy(backbone, items, *args, **kwargs):
        counts.append(len(items))
        return real(backbone, items, *args, **kwargs)

    monkeypatch.setattr(features, "_compute", spy)
    return counts


def test_a_second_run_on_the_same_data_extracts_no_features(cli, tiny, colour_images, monkeypatch):
    counts = featurized(monkeypatch)
    train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=2")
    first = sum(counts)
    train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=2")
    assert first == 30 and sum(counts) == first  # every image once, then none


def test_the_cache_follows_content_not_paths(cli, tiny, colour_images, tmp_path, monkeypatch):
    counts = featurized(monkeypatch)
    train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=1")
    first = sum(counts)
    colour_images.rename(tmp_path / "moved")
    train_json(cli, "--data", tmp_path / "moved", "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=1")
    assert first > 0 and sum(counts) == first


def record_torch_loads(monkeypatch) -> list[str]:
    loaded: list[str] = []
    real = torch.load

    def spy(path, *args, **kwargs):
        loaded.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    return loaded


def test_scratch_reads_no_pretrained_file_and_finetune_does(cli, tiny, colour_images, monkeypatch):
    loaded = record_torch_loads(monkeypatch)
    train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "scratch", "--set", "epochs=1")
    assert str(tiny.checkpoint) not in loaded
    train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "finetune", "--set", "epochs=1")
    assert str(tiny.checkpoint) in loaded


def test_finetune_learns_the_tiny_task(cli, tiny, colour_images):
    report = train_json(
        cli,
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "finetune",
        "--set",
        "epochs=15",
        "--set",
        "lr=0.05",
        "--set",
        "batch_size=8",
    )
    assert report["val_metric"] >= 0.8


def install_tiny_plugin(site: Path) -> dict:
    """The tiny plugin as an installed distribution, for processes other than the test's own."""
    info = site / "tiny_plugin-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[autotl]\ntiny = tiny_plugin\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}


def test_predict_in_a_fresh_process_reproduces_the_test_accuracy(cli, tiny, colour_images, tmp_path):
    report = train_json(
        cli,
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "finetune",
        "--set",
        "epochs=3",
        "--set",
        "lr=0.05",
        "--set",
        "batch_size=8",
    )
    env = install_tiny_plugin(tmp_path / "site")
    predict = [
        sys.executable,
        "-m",
        "autotl",
        "predict",
        "--model",
        report["model_uri"],
        "--data",
        str(colour_images),
        "--split",
        "test",
        "--output",
        "preds.csv",
    ]
    result = subprocess.run(predict, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    accuracy = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pandas as p; d = p.read_csv('preds.csv'); print((d.label == d.prediction).mean())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert float(accuracy) == pytest.approx(report["test_accuracy"], abs=1e-9)
    with open("preds.csv", newline="") as handle:
        assert csv.reader(handle).__next__() == ["input", "label", "prediction", "confidence"]


def test_predict_on_unlabelled_images_and_with_pyfunc(cli, tiny, colour_images, tmp_path):
    report = train_json(
        cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=2"
    )
    flat = tmp_path / "flat"
    flat.mkdir()
    for image in list((colour_images / "red").iterdir())[:3]:
        (flat / image.name).write_bytes(image.read_bytes())
    result = cli("predict", "--model", report["model_uri"], "--data", flat, "--output", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(tmp_path / "out.csv")
    assert list(rows.columns) == ["input", "prediction", "confidence"] and len(rows) == 3
    assert "Accuracy" not in result.stderr
    labelled = tmp_path / "labelled"  # with a class the model never saw
    for n, image in enumerate(sorted(flat.iterdir())):
        (labelled / ("green" if n == 0 else "red")).mkdir(parents=True, exist_ok=True)
        (labelled / ("green" if n == 0 else "red") / image.name).write_bytes(image.read_bytes())
    unseen = cli("predict", "--model", report["model_uri"], "--data", labelled)
    assert unseen.exit_code == 0 and "Warning: the model never saw the class(es) 'green'" in unseen.stderr
    again = cli("predict", "--model", report["model_uri"], "--data", flat, "--output", tmp_path / "out.csv", "--force")
    assert again.exit_code == 0 and pd.read_csv(tmp_path / "out.csv").equals(rows)  # replaced, only when asked
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []  # no temporary left behind
    pyfunc = mlflow.pyfunc.load_model(report["model_uri"], dst_path=str(tmp_path / "pyfunc"))
    predicted = pyfunc.predict(pd.DataFrame({"input": [Path(p).read_bytes() for p in rows["input"]]}))  # served: bytes
    assert list(predicted["prediction"]) == list(rows["prediction"]) and list(predicted.columns) == [
        "prediction",
        "confidence",
    ]


class Exploding(DeclaredStrategy):
    def train(self, job):
        raise RuntimeError("the GPU caught fire")


class Interrupted(DeclaredStrategy):
    def train(self, job):
        raise KeyboardInterrupt


class StrategyPlugin:
    @autotl.hookimpl
    def register_strategies(self, register):
        register(Exploding("exploding", "fails"))
        register(Interrupted("interrupted", "Ctrl-C"))


@pytest.mark.parametrize("strategy, status", [("exploding", "FAILED"), ("interrupted", "KILLED")])
def test_no_run_is_left_running(cli, tiny, colour_images, register_plugin, strategy, status):
    register_plugin(StrategyPlugin(), "failing")
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", strategy)
    assert result.exit_code != 0
    mlflow.set_tracking_uri(f"sqlite:///{Path('mlruns/mlflow.db').resolve()}")
    runs = mlflow.search_runs(experiment_names=["autotl"], output_format="list")
    assert [run.info.status for run in runs] == [status]


def test_bad_settings_and_devices_are_usage_errors(cli, tiny, colour_images):
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "finetune", "--set", "speed=11")
    assert result.exit_code == 2 and "--set speed=...: unknown key" in result.stderr
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "finetune", "--set", "epochs=many")
    assert result.exit_code == 2 and "expected an integer" in result.stderr
    if not torch.cuda.is_available():
        result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "finetune", "--device", "cuda")
        assert result.exit_code == 2 and "no CUDA GPU" in result.stderr


def test_a_source_without_a_text_modality_is_refused_on_text(cli, tiny, text_file):
    from fakes import labelled_rows

    result = cli(
        "train", "--data", text_file(labelled_rows({"a": 5, "b": 5})), "--model", "tiny", "--strategy", "linear_probe"
    )
    assert result.exit_code == 2
    assert "image model; the data is text" in result.stderr


def tiny_bert(folder: Path) -> Path:
    """A 2-layer, 16-wide BERT with a 30-word vocabulary, saved as a Hugging Face folder."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True)
    words = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    ] + "good bad great awful fine poor nice terrible film plot the a is was very".split()
    tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(words)})
    assert tokenizer.unk_token_id not in tokenizer("the film was very good")["input_ids"]
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def test_a_local_hugging_face_folder_is_a_source(cli, tiny, text_file, tmp_path, monkeypatch):
    folder = tiny_bert(tmp_path / "tiny-bert")
    monkeypatch.setenv("AUTOTL_HF_MODELS", str(folder))
    models = {m["name"]: m for m in json.loads(cli("models", "--json").stdout)["models"]}
    assert models["tiny-bert"]["available"] and models["tiny-bert"]["feature_dim"] == 16
    rows = [["text", "label"]] + [
        [f"the film was very {w}", "pos" if w in "good great nice fine" else "neg"]
        for w in "good bad great awful fine poor nice terrible".split() * 3
    ]
    report = train_json(
        cli, "--data", text_file(rows), "--model", "tiny-bert", "--strategy", "finetune", "--set", "epochs=2"
    )
    result = cli("predict", "--model", report["model_uri"], "--data", text_file(rows), "--split", "test")
    assert result.exit_code == 0, result.output
    assert f"Accuracy: {report['test_accuracy']:.4f}" in result.stderr


class Planted:
    """A pickle that writes a file when it is loaded: what a tampered python_model.pkl could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.write_text, (self.marker, "code from the artifact ran")


def test_a_logged_model_holds_no_pickle_and_no_loader_runs_one_planted_in_it(cli, tiny, colour_images, tmp_path):
    import pickle

    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe")
    folders = [mlmodel.parent for mlmodel in (tmp_path / "mlruns").rglob("MLmodel")]
    assert folders and not list((tmp_path / "mlruns").rglob("*.pkl"))  # the bundle's JSON and weights alone
    marker = tmp_path / "pwned"
    for folder in folders:  # what a tampered model, or one logged by an older autotl, would hold
        (folder / "python_model.pkl").write_bytes(pickle.dumps(Planted(marker)))
    result = cli("predict", "--model", report["model_uri"], "--data", colour_images, "--split", "test")
    assert result.exit_code == 0, result.output
    assert (
        f"Accuracy: {report['test_accuracy']:.4f}" in result.stderr
    )  # the bundle's weights, rebuilt by the installed code
    pyfunc = mlflow.pyfunc.load_model(report["model_uri"], dst_path=str(tmp_path / "pyfunc"))
    assert len(pyfunc.predict([next(colour_images.rglob("*.png")).read_bytes()])) == 1
    assert not marker.exists()


def test_artifacts_go_beside_the_store_the_user_named(cli, tiny, colour_images, tmp_path):
    store = tmp_path / "elsewhere" / "tracking.db"
    report = train_json(
        cli,
        "--data",
        colour_images,
        "--model",
        "tiny",
        "--strategy",
        "linear_probe",
        "--tracking-uri",
        f"sqlite:///{store}",
    )
    assert (store.parent / "artifacts").is_dir() and not (tmp_path / "mlruns").exists()  # nothing in the current folder
    assert report["model_uri"].startswith("runs:/")


def test_predict_refuses_data_of_the_other_modality(cli, tiny, colour_images, text_file):
    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe")
    texts = text_file([["text"], ["a red square"], ["a blue square"]])
    result = cli("predict", "--model", report["model_uri"], "--data", texts)
    assert (
        result.exit_code == 2
        and "holds text data, and the model" in result.stderr
        and "takes image: give it image data" in result.stderr
    )


def test_trust_remote_code_holds_for_its_own_run_and_never_touches_the_environment(tiny, colour_images, monkeypatch):
    import os

    from autotl.contracts.options import remote_code_allowed

    allowed = []
    load = type(tiny).load

    def noting(self, *args, **kwargs):
        allowed.append(remote_code_allowed.get())
        return load(self, *args, **kwargs)

    monkeypatch.setattr(type(tiny), "load", noting)
    autotl.train(colour_images, "tiny", "linear_probe", trust_remote_code=True, progress=lambda message: None)
    trusted = len(allowed)
    autotl.train(colour_images, "tiny", "linear_probe", progress=lambda message: None)
    assert allowed[:trusted] == [True] * trusted and allowed[trusted:] == [False] * (len(allowed) - trusted)
    assert trusted and remote_code_allowed.get() is False and "AUTOTL_TRUST_REMOTE_CODE" not in os.environ


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro"])
def test_train_names_each_score_once(cli, tiny, colour_images, metric):
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--metric", metric)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("test accuracy") == 1 and result.stdout.count(f"test {metric}") == 1
