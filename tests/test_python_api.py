"""The Python API as a notebook user meets it: data given as a folder, a DataFrame or lists; a
predictor with predict, predict_proba, evaluate, leaderboard() and save; and ``autotl.load`` giving
the same predictor back. The README's Python example runs here, on tiny models."""

import re
import runpy
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from test_train_predict import tiny_bert

import autotl
from autotl import api
from autotl.contracts.data import IntakeOptions
from autotl.data.intake import read_dataset
from autotl.errors import AutotlError
from autotl.plugins import build_registry
from autotl.predictor import Predictor

EXAMPLE = Path(__file__).parent.parent / "examples" / "python_api.py"


def predicting(run, *args, **options) -> Predictor:
    """``autotl.select`` or ``autotl.train`` (``run``), quietly."""
    return run(*args, progress=lambda message: None, **options)


def read(data, **options):
    return read_dataset(data, IntakeOptions(**options), build_registry().items("data_formats"))


def test_a_selection_on_an_image_folder_predicts_evaluates_and_comes_back_the_same_from_a_saved_folder(
    tiny, colour_images, tmp_path
):
    predictor = predicting(
        autotl.select, colour_images, 3600, models=["tiny"], strategies=["linear_probe"], regularizers=["none"]
    )
    paths = sorted(str(path) for path in colour_images.rglob("*.png"))
    labels = [Path(path).parent.name for path in paths]

    predicted = predictor.predict(paths)
    probabilities = predictor.predict_proba(paths)
    assert list(probabilities.columns) == list(predictor.classes) == ["blue", "red"]
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert list(probabilities.idxmax(axis=1)) == list(predicted["prediction"])

    evaluation = predictor.evaluate(colour_images)
    right = [prediction == label for prediction, label in zip(predicted["prediction"], labels)]
    assert evaluation.accuracy == pytest.approx(np.mean(right))
    assert evaluation.examples == evaluation.confusion.to_numpy().sum() == evaluation.per_class["support"].sum() == 30
    assert list(evaluation.confusion.index) == list(evaluation.confusion.columns) == ["blue", "red"]
    assert evaluation.confusion.loc["red"].sum() == 15
    assert evaluation.confusion.loc["red", "red"] == sum(r for r, label in zip(right, labels) if label == "red")
    assert evaluation.per_class.loc["red", "recall"] == pytest.approx(evaluation.confusion.loc["red", "red"] / 15)
    assert "on 30 examples" in str(evaluation) and "<table" in evaluation._repr_html_()
    assert predictor.evaluate(paths, labels).accuracy == evaluation.accuracy  # the inputs and their labels
    assert predictor.evaluate(pd.DataFrame({"image": paths, "label": labels})).accuracy == evaluation.accuracy

    board = predictor.leaderboard()
    assert len(board) == len(predictor.result["leaderboard"]) > 1
    assert not any(isinstance(value, dict) for value in board.to_numpy().ravel())
    assert {"candidate", "state", "val_metric"} <= set(board.columns)
    assert any(column.startswith("score_") for column in board.columns)
    assert predictor.result["model_uri"] == predictor.model_uri

    saved = predictor.save(tmp_path / "saved")
    loaded = autotl.load(saved)
    pd.testing.assert_frame_equal(loaded.predict_proba(paths), probabilities)
    pd.testing.assert_frame_equal(loaded.leaderboard(), board)
    assert loaded.result == predictor.result
    images = [Path(path).read_bytes() for path in paths]  # a pyfunc model takes images as bytes
    assert list(mlflow.pyfunc.load_model(str(saved)).predict(images)["prediction"]) == list(predicted["prediction"])
    with pytest.raises(AutotlError, match="exists and is not empty: give save a new folder"):
        predictor.save(saved)


def test_the_readme_shows_the_example_as_it_is():
    readme = (EXAMPLE.parent.parent / "README.md").read_text()
    shown = re.search(r"<!-- python-example -->\n```python\n(.*?)```", readme, re.DOTALL)[1]
    assert shown == EXAMPLE.read_text()


def test_the_readme_example_selects_on_a_dataframe_of_texts(tiny, tmp_path, monkeypatch):
    """The example as the README shows it, on a tiny text model, which every select it makes is limited to."""
    monkeypatch.setenv("AUTOTL_HF_MODELS", str(tiny_bert(tmp_path / "tiny-bert")))
    limited = dict(models=["tiny-bert"], strategies=["linear_probe"], regularizers=["none"])
    monkeypatch.setattr(autotl, "select", lambda data, **options: predicting(api.select, data, **options, **limited))

    names = runpy.run_path(str(EXAMPLE), run_name="__main__")
    predictor, new, loaded = names["predictor"], names["new"], names["loaded"]

    probabilities = predictor.predict_proba(new["text"])
    assert list(probabilities.columns) == sorted(set(names["data"]["label"])) == list(predictor.classes)
    assert list(probabilities.index) == list(new.index) and np.allclose(probabilities.sum(axis=1), 1.0)
    evaluation = predictor.evaluate(new)
    predicted = predictor.predict(new["text"])["prediction"]
    assert evaluation.accuracy == pytest.approx(np.mean(predicted == new["label"]))
    assert evaluation.confusion.to_numpy().sum() == len(new)
    assert predictor.result["leaderboard"] and len(predictor.leaderboard()) == len(predictor.result["leaderboard"])
    pd.testing.assert_frame_equal(loaded.predict_proba(new["text"]), probabilities)
    pd.testing.assert_frame_equal(loaded.leaderboard(), predictor.leaderboard())
    assert (tmp_path / "topic-model" / "MLmodel").is_file()


def test_a_dataframe_of_texts_gives_the_dataset_and_splits_of_the_same_rows_in_a_csv(tmp_path):
    frame = pd.DataFrame(
        {"body": [f"text number {i} of {'abc'[i % 3]}" for i in range(30)], "topic": [i % 3 for i in range(30)]}
    )
    frame.to_csv(tmp_path / "same.csv", index=False)
    from_frame = read(frame, text_column="body", label_column="topic", seed=3)
    from_csv = read(tmp_path / "same.csv", text_column="body", label_column="topic", seed=3)
    assert from_frame.splits == from_csv.splits
    assert (from_frame.classes, from_frame.split_origin, from_frame.summary) == (
        from_csv.classes,
        from_csv.split_origin,
        from_csv.summary,
    )
    assert from_frame.format == "dataframe" and from_frame.modality == "text"
    pair = read((list(frame["body"]), list(frame["topic"])), text_column="body", label_column="topic", seed=3)
    columns = read(
        {"body": list(frame["body"]), "topic": list(frame["topic"])}, text_column="body", label_column="topic", seed=3
    )
    assert pair.splits == columns.splits == from_frame.splits
    assert from_frame.path == pair.path and str(from_frame.path).startswith(
        "dataframe-"
    )  # a name for MLflow, by content


def test_a_column_of_image_paths_is_read_as_images(colour_images):
    paths = sorted(colour_images.rglob("*.png"))
    labels = [path.parent.name for path in paths]
    for data in (pd.DataFrame({"image": paths, "label": labels}), ([str(path) for path in paths], labels)):
        dataset = read(data)
        assert dataset.modality == "image" and dataset.classes == ("blue", "red")
        assert dataset.summary == read(colour_images).summary


@pytest.mark.parametrize(
    "data, message",
    [
        (
            pd.DataFrame({"words": ["a", "b"], "label": ["x", "y"]}),
            "the DataFrame has no column 'text' (its columns: words, label)",
        ),
        (
            pd.DataFrame({"text": ["a", "b"], "tag": ["x", "y"]}),
            "the DataFrame has no column 'label' (its columns: text, tag)",
        ),
        ((["a", "b", "c"], ["x", "y"]), "(inputs, labels): 3 inputs but 2 labels"),
        ({"text": ["a", "b"], "label": ["x"]}, "cannot make a DataFrame of these columns"),
        (
            pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", 1, "y"]}),
            "the 'label' column mixes strings ('x') with int",
        ),
        (pd.DataFrame({"text": [], "label": []}), "the DataFrame has no rows"),
        (["a", "b"], "cannot read data of type list: give a folder"),
        (
            pd.DataFrame({"text": ["a", None, "c"], "label": ["x", "y", "x"]}),
            "1 row(s) with an empty text or label: row 1: empty text",
        ),
        (pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", None, "x"]}), "row 1: no label"),
        (
            pd.DataFrame({"image": ["missing.png", "gone.png"], "label": ["x", "y"]}),
            "2 file(s) cannot be read as images: row 0 missing.png (no such file)",
        ),
        (pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", "x", "x"]}), "has one class only ('x')"),
    ],
)
def test_bad_data_objects_are_refused_in_one_line(tmp_path, monkeypatch, data, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AutotlError) as refused:
        read(data)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_skip_bad_files_leaves_out_bad_rows_of_a_dataframe_and_says_so():
    frame = pd.DataFrame({"text": ["", *[f"text {i}" for i in range(9)]], "label": ["a", *"abcabcabc"]})
    dataset = read(frame, skip_bad_files=True)
    assert sum(len(examples) for examples in dataset.splits.values()) == 9
    assert dataset.problems[0] == "skipped 1 row(s) with an empty text or label: row 0: empty text"


def test_the_leaderboard_is_flat_with_one_row_per_entry_and_scores_and_settings_in_prefixed_columns():
    facts = {
        "model_uri": "runs:/0/model",
        "leaderboard": [
            {
                "candidate": "a + finetune",
                "scores": {"logme": 1.5},
                "params": {"lr": 0.01, "epochs": 3},
                "state": "complete",
            },
            {"candidate": "b + linear_probe", "scores": {"logme": 0.5}, "params": None, "state": "untried"},
        ],
    }
    board = Predictor.from_result(facts).leaderboard()
    assert list(board.columns) == ["candidate", "state", "score_logme", "param_lr", "param_epochs"]
    assert board["candidate"].tolist() == ["a + finetune", "b + linear_probe"]
    assert board.loc[0, "param_lr"] == 0.01 and np.isnan(board.loc[1, "param_lr"])


def test_a_model_loaded_without_its_runs_facts_has_no_leaderboard_to_show(tmp_path):
    with pytest.raises(AutotlError, match="was loaded without the facts of its run"):
        Predictor(tmp_path / "some-model", facts={}).leaderboard()
