"""Every kind of bad input ends with exit status 2 and one line that names the fault and the fix
(or, where going on is right, a one-line warning). Every command here also leaves its --data
byte for byte as it was, and no MLflow run RUNNING: the ``cli`` of this module checks both."""

import hashlib
import json
import os
from pathlib import Path

import pytest
from fakes import labelled_rows


def tree_digest(path: Path | None) -> dict[str, str] | None:
    """Each file's content hash by its path below ``path`` (a file: its own), None when absent."""
    if path is None or not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {
        str(f.relative_to(path) if f != path else f.name): hashlib.sha256(f.read_bytes()).hexdigest() for f in files
    }


def running_runs(store: Path) -> list[str]:
    if not store.is_file():
        return []
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return (
        [run.info.run_id for run in client.search_runs(experiments, "attributes.status = 'RUNNING'")]
        if experiments
        else []
    )


@pytest.fixture(autouse=True)
def own_folder(tmp_path, monkeypatch):
    """Each test in its own folder, with the default tracking store there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture
def cli(cli, tmp_path):
    def checked(*args):
        words = [str(a) for a in args]
        data = Path(words[words.index("--data") + 1]) if "--data" in words else None
        before = tree_digest(data)
        result = cli(*args)
        assert tree_digest(data) == before, f"{data} changed"
        assert running_runs(tmp_path / "mlruns" / "mlflow.db") == [], "a run was left RUNNING"
        return result

    return checked


def assert_user_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_path(cli, tmp_path):
    assert_user_error(cli("inspect", "--data", tmp_path / "nowhere"), "nowhere does not exist")


def test_empty_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_user_error(cli("inspect", "--data", tmp_path / "empty"), "empty is empty", "<class>")


def test_images_without_class_folders(cli, image_folder, tmp_path):
    root = image_folder({"cat": 2})
    for image in (root / "cat").iterdir():
        image.rename(root / image.name)
    (root / "cat").rmdir()
    assert_user_error(cli("inspect", "--data", root), "no class folders")


def test_one_image_class_only(cli, image_folder):
    assert_user_error(cli("inspect", "--data", image_folder({"cat": 5})), "one class only ('cat')")


def test_one_text_class_only(cli, text_file):
    assert_user_error(cli("inspect", "--data", text_file(labelled_rows({"spam": 5}))), "one class only ('spam')")


def test_class_too_small_for_the_split(cli, image_folder):
    result = cli("inspect", "--data", image_folder({"cat": 5, "dog": 2}))
    assert_user_error(result, "class 'dog' has 2 examples", "at least 3", "give the splits yourself")


def test_too_small_for_a_val_split_when_test_is_given(cli, image_folder, tmp_path):
    image_folder({"cat": 3, "dog": 1}, root=tmp_path / "given" / "train")
    image_folder({"cat": 1, "dog": 1}, root=tmp_path / "given" / "test")
    assert_user_error(cli("inspect", "--data", tmp_path / "given"), "class 'dog' has 1 example:", "train, val")


def test_corrupt_and_non_image_files_are_listed(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    good = (root / "dog" / "0.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "dog" / "notes.txt").write_text("not an image")
    result = cli("inspect", "--data", root)
    assert_user_error(
        result,
        "3 file(s) cannot be read as images",
        "broken.png",
        "truncated.png",
        "notes.txt (not an image file",
        "--skip-bad-files",
    )


def test_skip_bad_files_warns_and_goes_on(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / "broken.jpg").write_bytes(b"garbage")
    result = cli("inspect", "--data", root, "--skip-bad-files", "--json")
    assert result.exit_code == 0, result.output
    assert "skipped 1 file(s) cannot be read as images" in result.stdout
    assert '"num_examples": 6' in result.stdout


def test_csv_without_the_named_columns(cli, text_file):
    path = text_file([["body", "label"], ["hello", "a"]])
    assert_user_error(cli("inspect", "--data", path), "no column 'text'", "its columns: body, label", "--text-column")


def test_csv_without_the_named_label_column(cli, text_file):
    path = text_file(labelled_rows({"a": 3, "b": 3}))
    assert_user_error(cli("inspect", "--data", path, "--label-column", "topic"), "no column 'topic'", "--label-column")


def test_empty_texts_are_named_by_line(cli, text_file):
    rows = labelled_rows({"a": 3, "b": 3})
    rows[2][0] = "   "
    assert_user_error(
        cli("inspect", "--data", text_file(rows)), "1 row(s) with an empty text or label", "data.csv line 3: empty text"
    )


def test_missing_labels_are_named_by_line(cli, text_file):
    rows = labelled_rows({"a": 3, "b": 3}) + [["orphan", ""]]
    assert_user_error(cli("inspect", "--data", text_file(rows)), "line 8: no label")


def test_non_utf8_text(cli, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncafé,a\n".encode("latin-1"))
    assert_user_error(cli("inspect", "--data", path), "latin1.csv is not UTF-8", "byte 0xe9 on line 2", "re-save")


def test_invalid_json_line(cli, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": oops}\n', encoding="utf-8")
    assert_user_error(cli("inspect", "--data", path), "data.jsonl line 2 is not valid JSON")


def test_unsupported_file(cli, tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello\n")
    assert_user_error(cli("inspect", "--data", path), "cannot read", ".csv, .tsv or .jsonl", "one sub-folder per class")


@pytest.mark.parametrize(
    "option, kind", [("--models", "sources"), ("--strategies", "strategies"), ("--regularizers", "regularizers")]
)
def test_unknown_plugin_names(cli, image_folder, option, kind):
    result = cli("inspect", "--data", image_folder({"a": 3, "b": 3}), option, "nope")
    assert_user_error(result, f"unknown name 'nope' in {option}", f"registered {kind} are")


def test_cache_clear_on_a_folder_autotl_did_not_make_deletes_nothing(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert_user_error(cli("cache", "clear", "--cache-dir", root), "autotl did not make it", "deletes nothing")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.parametrize(
    "where, fragment",
    [
        (lambda data, tmp: data / "cat" / "predictions.csv", "it is inside --data"),
        (lambda data, tmp: tmp / "missing" / "predictions.csv", "does not exist; create it first"),
        (lambda data, tmp: tmp, "it is a folder"),
        (lambda data, tmp: tmp / "earlier.csv", "the file exists; give --force"),
    ],
)
def test_predict_output_is_checked_before_any_work(cli, image_folder, tmp_path, where, fragment):
    data = image_folder({"cat": 3, "dog": 3})
    (tmp_path / "earlier.csv").write_text("kept\n")
    before = sorted((p, p.read_bytes()) for p in data.rglob("*") if p.is_file())
    result = cli("predict", "--model", "runs:/not-looked-at/model", "--data", data, "--output", where(data, tmp_path))
    assert_user_error(result, fragment)
    assert sorted((p, p.read_bytes()) for p in data.rglob("*") if p.is_file()) == before
    assert (tmp_path / "earlier.csv").read_text() == "kept\n"


def test_predict_from_an_address_that_is_no_model_uri(cli, image_folder):
    result = cli("predict", "--model", "http://example.com/model", "--data", image_folder({"cat": 3, "dog": 3}))
    assert_user_error(result, "--model http://example.com/model: give runs:/<run id>/model")


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--seed", "-1"], "--seed -1: give a whole number from 0 to 4294967295"),
        (["--seed", "99999999999"], "--seed 99999999999: give a whole number"),
        (["--set", "threads=-1"], "--set threads=-1: expected 0 (torch's default) or a number of CPU threads"),
        (["--set", "lr=nan"], "--set lr=nan: expected a finite number"),
        (["--set", "image_size=-5"], "--set image_size=-5: expected 0 (the source's own) or a side in pixels"),
        (["--set", "warmup=5"], "--set warmup=5.0: expected a fraction of the steps, from 0 to below 1"),
        (["--set", "weight_decay=-1"], "--set weight_decay=-1.0: expected a weight decay of 0 or more"),
    ],
)
def test_settings_out_of_range(cli, tiny, colour_images, arguments, fragment):
    assert_user_error(
        cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "finetune", *arguments), fragment
    )


def test_the_label_column_as_the_text_column(cli, text_file):
    result = cli("inspect", "--data", text_file(labelled_rows({"spam": 5, "ham": 5})), "--text-column", "label")
    assert_user_error(result, "--text-column and --label-column are both 'label'")


def test_a_study_name_with_quotes(cli, tiny, colour_images):
    assert_user_error(
        cli("select", "--data", colour_images, "--models", "tiny", "--study", "x'y"), '--study "x\'y": use letters'
    )


def test_a_heartbeat_interval_that_is_no_whole_number_of_seconds(cli, tiny, colour_images, monkeypatch):
    monkeypatch.setenv("AUTOTL_HEARTBEAT_S", "0.5")
    assert_user_error(
        cli("select", "--data", colour_images, "--models", "tiny"),
        "AUTOTL_HEARTBEAT_S='0.5': give a whole number of seconds",
    )


@pytest.mark.parametrize(
    ("gpus", "fragment"), [("99", "--gpus 99: this machine has"), ("0,x", "--gpus '0,x': give CUDA device numbers")]
)
def test_gpus_that_this_machine_does_not_have(cli, tiny, colour_images, gpus, fragment):
    assert_user_error(cli("select", "--data", colour_images, "--models", "tiny", "--gpus", gpus), fragment)


def test_a_worker_for_a_study_that_no_select_coordinates(cli, tmp_path):
    """It says that it waits, then gives up with one line."""
    result = cli("worker", "--study", "nobody", "--storage", f"sqlite:///{tmp_path / 'optuna.db'}", "--wait", "1s")
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Waiting for a select to coordinate study nobody",
        "Error: --study nobody: no select coordinated it within 1s; start `autotl select --study nobody --storage "
        "...` (before or after the workers), or give a longer --wait",
    ]


def test_a_duplicated_label_header(cli, text_file):
    rows = [["text", "label", "label"]] + [[f"text {i}", "a" if i % 2 else "b", "x"] for i in range(10)]
    assert_user_error(cli("inspect", "--data", text_file(rows)), "has 2 columns named 'label'", "rename all but")


def test_labels_one_as_a_number_and_as_a_string_are_merged_with_a_warning(cli, text_file):
    rows = [{"text": f"text {i}", "label": [1, "1", "2"][i % 3]} for i in range(12)]
    result = cli("inspect", "--data", text_file(rows, "data.jsonl"))
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1 and "labels '1' appear both as numbers and as strings" in warnings[0]


@pytest.mark.parametrize(
    "option, inside, fragment",
    [
        ("--tracking-uri", lambda data: f"sqlite:///{data / 'runs' / 'mlflow.db'}", "the tracking store"),
        ("--cache-dir", lambda data: data / "features", "the feature cache"),
    ],
)
def test_nothing_is_written_inside_the_data(cli, tiny, colour_images, option, inside, fragment):
    before = sorted((p, p.read_bytes()) for p in colour_images.rglob("*") if p.is_file())
    result = cli(
        "train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", option, inside(colour_images)
    )
    assert_user_error(result, fragment, f"inside --data {colour_images}")
    assert sorted((p, p.read_bytes()) for p in colour_images.rglob("*") if p.is_file()) == before
    assert sorted(p.name for p in colour_images.iterdir()) == ["blue", "red"]


def test_links_out_of_the_data_or_back_up_to_it_are_ignored_with_a_warning(cli, image_folder, tmp_path):
    root = image_folder({"cat": 3, "dog": 3})
    elsewhere = image_folder({"secret": 1}, root=tmp_path / "private")
    (root / "everything").symlink_to(root, target_is_directory=True)  # a class holding every image
    (root / "cat" / "leak.png").symlink_to(elsewhere / "secret" / "0.png")
    result = cli("inspect", "--data", root, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any("'everything'" in p and "a link back to a folder above it" in p for p in report["problems"])
    assert any("ignored 1 file(s) linked from outside" in p and "leak.png" in p for p in report["problems"])
    assert report["num_examples"] == 6


def test_an_image_over_the_pixel_limit_is_not_decoded(cli, image_folder, monkeypatch):
    monkeypatch.setenv("AUTOTL_MAX_IMAGE_PIXELS", "100")
    root = image_folder({"cat": 3, "dog": 3}, size=(8, 8))
    image_folder({"dog": 1}, root=root.parent / "big", size=(20, 20))
    (root.parent / "big" / "dog" / "0.png").rename(root / "dog" / "huge.png")
    assert_user_error(
        cli("inspect", "--data", root), "huge.png (20 x 20 pixels, over the limit of 100 (AUTOTL_MAX_IMAGE_PIXELS))"
    )


def test_a_full_disk_is_one_line_and_exit_status_1(cli, tiny, colour_images, monkeypatch):
    import errno

    import mlflow
    import numpy as np

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe")
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]  # after the progress lines
    assert (
        len(errors) == 1
        and errors[0].startswith("Error: could not write the feature cache in")
        and "No space left" in errors[0]
    )
    cache = Path(os.environ["AUTOTL_CACHE_DIR"])
    assert not [f for f in cache.rglob("*.npy")]  # nothing half-written
    client = mlflow.MlflowClient()
    assert {run.info.status for run in client.search_runs([e.experiment_id for e in client.search_experiments()])} <= {
        "FAILED"
    }
