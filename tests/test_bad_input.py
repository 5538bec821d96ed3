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
        (lambda data, tmp: Path("/proc/p.csv"), "--output /proc/p.csv: /proc is the kernel's proc filesystem"),
        (lambda data, tmp: Path("/sys/p.csv"), "--output /sys/p.csv: /sys is the kernel's sysfs filesystem"),
        (lambda data, tmp: Path("/dev/p.csv"), "--output /dev/p.csv: /dev is the kernel's devtmpfs filesystem"),
        (lambda data, tmp: tmp / ("p" * 300 + ".csv"), "its name is 304 bytes long, over the 255 this filesystem"),
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
        (["--set", "class_weight=2"], "--set class_weight=2.0: expected a number from 0 to 1"),
        (["--set", "class_weight=-1"], "--set class_weight=-1.0: expected a number from 0 to 1"),
        (["--set", "backbone_lr_ratio=-1"], "--set backbone_lr_ratio=-1.0: expected a number, 0 or more"),
        (["--set", "layer_decay=-0.5"], "--set layer_decay=-0.5: expected a number, 0 or more"),
        (["--strategy", "lora", "--set", "lora_rank=0"], "--set lora_rank=0: expected an integer, 1 or more"),
        (["--strategy", "mlp_probe", "--set", "hidden=-5"], "--set hidden=-5: expected an integer, 1 or more"),
        (["--strategy", "lp_ft", "--set", "probe_epochs=0"], "--set probe_epochs=0: expected an integer, 1 or more"),
        (
            ["--strategy", "partial_freeze", "--set", "frozen_blocks=-2"],
            "--set frozen_blocks=-2: expected -1 (half of the blocks) or a number of blocks, 0 or more",
        ),
        (["--strategy", "multitask", "--set", "task_weight=-1"], "--set task_weight=-1.0: expected a number, 0 or"),
        (["--regularizer", "kl", "--set", "kl_temperature=0"], "--set kl_temperature=0.0: expected a number above 0"),
        (["--regularizer", "kl", "--set", "kl_weight=-1"], "--set kl_weight=-1.0: expected a number, 0 or more"),
        (["--regularizer", "l2sp", "--set", "l2sp_alpha=-1"], "--set l2sp_alpha=-1.0: expected a number, 0 or more"),
        (["--regularizer", "delta", "--set", "delta_weight=-1"], "--set delta_weight=-1.0: expected a number, 0 or"),
        (["--regularizer", "bss", "--set", "bss_weight=-1"], "--set bss_weight=-1.0: expected a number, 0 or more"),
        (["--regularizer", "bss", "--set", "bss_k=0"], "--set bss_k=0: expected an integer, 1 or more"),
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


# -- links out of the data and loose files (issue 30) --


def warning_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]


def trained_model(cli, colour_images) -> str:
    args = ("--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=1", "--json")
    result = cli("train", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["model_uri"]


def predicted(cli, model: str, data: Path, output: Path, *extra: str) -> tuple[object, list[dict]]:
    """The result of ``autotl predict`` and the rows of its CSV (none when it failed)."""
    import csv

    result = cli("predict", "--model", model, "--data", data, "--output", output, *extra)
    if result.exit_code != 0:
        return result, []
    with output.open(newline="") as handle:
        return result, list(csv.DictReader(handle))


def copy_images(source: Path, folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image in sorted(source.iterdir())[:count]:
        (folder / image.name).write_bytes(image.read_bytes())


def test_predict_reads_no_link_out_of_a_flat_folder_and_says_so(cli, tiny, colour_images, tmp_path):
    model = trained_model(cli, colour_images)
    flat = tmp_path / "flat"
    copy_images(colour_images / "red", flat, 2)
    (flat / "inside.png").symlink_to(flat / "0.png")  # stays in the folder: read
    (flat / "leak.png").symlink_to(colour_images / "blue" / "0.png")
    (flat / "passwd.png").symlink_to("/etc/passwd")
    for n, extra in enumerate(([], ["--skip-bad-files"])):
        result, rows = predicted(cli, model, flat, tmp_path / f"out{n}.csv", *extra)
        assert result.exit_code == 0, result.output
        assert sorted(row["input"] for row in rows) == [str(flat / name) for name in ("0.png", "1.png", "inside.png")]
        assert warning_lines(result) == [
            f"Warning: ignored 2 file(s) linked from outside {flat}: {flat / 'leak.png'}, {flat / 'passwd.png'}"
        ]


def test_predict_on_loose_images_beside_sub_folders(cli, tiny, colour_images, tmp_path):
    """Beside one sub-folder, loose images are a flat folder (one sub-folder is no set of classes);
    beside two or more, the sub-folders are the classes. Either way a warning says what was left out."""
    model = trained_model(cli, colour_images)
    photos = tmp_path / "photos"
    copy_images(colour_images / "red", photos, 2)
    copy_images(colour_images / "red", photos / "thumbnails", 2)
    result, rows = predicted(cli, model, photos, tmp_path / "photos.csv")
    assert result.exit_code == 0, result.output
    assert [row["input"] for row in rows] == [str(photos / "0.png"), str(photos / "1.png")] and "label" not in rows[0]
    assert warning_lines(result) == [
        f"Warning: read {photos} as a flat folder of images and left out its one sub-folder, thumbnails/ (labelled "
        "images need one sub-folder per class)"
    ]
    labelled = tmp_path / "labelled"
    for label in ("red", "blue"):
        copy_images(colour_images / label, labelled / label, 2)
    (labelled / "stray.png").write_bytes((colour_images / "red" / "0.png").read_bytes())
    result, rows = predicted(cli, model, labelled, tmp_path / "labelled.csv")
    assert result.exit_code == 0, result.output
    assert sorted(row["label"] for row in rows) == ["blue", "blue", "red", "red"]
    assert warning_lines(result) == [
        f"Warning: ignored 1 file(s) outside class folders in {labelled} (they have no label): stray.png"
    ]


def test_train_names_loose_files_beside_class_folders(cli, tiny, colour_images):
    (colour_images / "a.png").write_bytes((colour_images / "red" / "0.png").read_bytes())
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--set", "epochs=1")
    assert result.exit_code == 0, result.output
    assert warning_lines(result) == [
        f"Warning: ignored 1 file(s) outside class folders in {colour_images} (they have no label): a.png"
    ]


def test_loose_images_beside_one_sub_folder_are_no_labelled_dataset(cli, image_folder):
    root = image_folder({"cat": 3})
    for name in ("a.png", "b.png"):
        (root / name).write_bytes((root / "cat" / "0.png").read_bytes())
    assert_user_error(
        cli("inspect", "--data", root), f"{root} holds 2 loose image(s) (a.png, b.png) beside one sub-folder, cat/"
    )


def test_a_dangling_link_in_a_flat_folder_is_a_bad_file(cli, image_folder, tmp_path):
    flat = image_folder({"cat": 2}) / "cat"
    (flat / "gone.png").symlink_to(flat / "missing.png")
    result = cli("predict", "--model", "runs:/not-looked-at/model", "--data", flat)
    assert_user_error(result, "1 file(s) cannot be read as images", "gone.png (a link to nothing)")


def test_a_split_folder_linked_out_of_the_data_is_refused(cli, image_folder, tmp_path):
    root = image_folder({"cat": 3, "dog": 3}, root=tmp_path / "given" / "train").parent
    outside = image_folder({"cat": 2, "dog": 2}, root=tmp_path / "elsewhere")
    (root / "test").symlink_to(outside, target_is_directory=True)
    assert_user_error(cli("inspect", "--data", root), f"{root / 'test'} is a link to outside {root}")


def test_a_class_folder_linked_out_of_the_data_is_refused(cli, image_folder, tmp_path):
    root = image_folder({"cat": 3})
    outside = image_folder({"dog": 3}, root=tmp_path / "elsewhere")
    (root / "dog").symlink_to(outside / "dog", target_is_directory=True)
    assert_user_error(cli("inspect", "--data", root), f"{root / 'dog'} is a link to outside {root}")


@pytest.mark.parametrize("name, target", [("train.csv", "secret.csv"), ("test.csv", "/etc/passwd")])
def test_a_split_file_linked_out_of_a_text_folder_is_refused(cli, text_file, tmp_path, name, target):
    text_file(labelled_rows({"a": 5, "b": 5}), "corpus/train.csv")
    text_file(labelled_rows({"a": 5, "b": 5}), "secret.csv")
    (tmp_path / "corpus" / name).unlink(missing_ok=True)
    (tmp_path / "corpus" / name).symlink_to(tmp_path / target)
    result = cli("inspect", "--data", tmp_path / "corpus")
    assert_user_error(result, f"{tmp_path / 'corpus' / name} is a link to outside {tmp_path / 'corpus'}")
    assert "root:" not in result.stderr


def test_a_bad_file_named_with_a_newline_is_named_on_one_line(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / "bad\nname.png").write_bytes(b"garbage")
    assert_user_error(cli("inspect", "--data", root), "1 file(s) cannot be read as images", "bad\\nname.png")


# -- secrets, stores, pulls, ui and workers (issue 30) --


@pytest.fixture
def without_network(monkeypatch, tmp_path):
    """Every connection fails as on a machine with no network; torch's hub cache is empty."""
    import errno
    import socket

    def unreachable(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


@pytest.mark.parametrize(
    ("name", "origin"),
    [("gpt2", "/gpt2"), ("tv-resnet18", "https://download.pytorch.org/models/resnet18-f37072fd.pth")],
)
def test_a_pull_without_a_network(cli, without_network, name, origin):
    from autotl.pulling import ATTEMPTS

    result = cli("models", "pull", name)
    assert result.exit_code == 2 and result.stdout == "" and "Traceback" not in result.stderr, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot pull {name} from ") and f"{origin} after {ATTEMPTS} attempts: " in last


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_ui_on_a_port_out_of_range(cli, port):
    assert_user_error(cli("ui", "--port", port), f"--port {port}", "1 to 65535")


def test_ui_on_a_port_in_use(cli):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        assert_user_error(cli("ui", "--port", port), f"--port {port}: cannot serve on 127.0.0.1:{port}", "in use")


def test_a_worker_storage_that_is_no_database(cli, tmp_path):
    (tmp_path / "notadb.db").write_text("hello, I am no database\n")
    assert_user_error(
        cli("worker", "--study", "s", "--storage", "sqlite:///notadb.db", "--wait", "1s"),
        "--storage 'sqlite:///notadb.db'",
        "file is not a database",
    )


def test_a_worker_storage_with_a_port_that_is_no_number(cli):
    assert_user_error(
        cli("worker", "--study", "s", "--storage", "postgresql://host:abc/db", "--wait", "1s"),
        "--storage 'postgresql://host:abc/db'",
        "port",
    )


def test_a_worker_storage_password_in_the_query_is_not_shown(cli):
    pytest.importorskip("psycopg")
    storage = "postgresql://127.0.0.1:1/optuna?user=alice&password=RRpw"
    result = cli("worker", "--study", "s", "--storage", storage, "--wait", "1s")
    assert_user_error(result, "--storage 'postgresql://127.0.0.1:1/optuna?user=alice&password=***'")
    assert "RRpw" not in result.output


@pytest.mark.parametrize(
    ("device", "fragment"),
    [("tpu", "--device 'tpu' is not a device"), ("cuda:0", "--device cuda:0: no CUDA GPU is visible here")],
)
def test_a_worker_on_a_device_this_machine_lacks_says_so_before_it_waits(cli, tmp_path, device, fragment):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert_user_error(cli("worker", "--study", "s", "--storage", storage, "--device", device, "--wait", "5s"), fragment)


def test_predict_from_a_tracking_server_that_cannot_be_reached(cli, text_file):
    import time

    data = text_file(labelled_rows({"a": 3, "b": 3}))
    started = time.monotonic()
    result = cli(
        *["predict", "--model", "runs:/0123456789abcdef/model", "--data", data],
        *["--tracking-uri", "http://bob:TOPSECRET@127.0.0.1:1"],
    )
    assert_user_error(result, "--tracking-uri http://bob:***@127.0.0.1:1: cannot reach the tracking server")
    assert "TOPSECRET" not in result.output and time.monotonic() - started < 30


# -- settings, output places and predictions CSV (issue 30) --


def test_every_built_in_setting_has_a_range_that_holds_its_default_and_choices():
    from autotl.plugins import build_registry

    registry = build_registry()
    for item in [*registry.items("strategies"), *registry.items("regularizers")]:
        for setting in item.settings:
            allowed = setting.allowed()
            assert allowed.says, (item.name, setting.name)
            for value in (setting.default, *(v for blocks in (1, 4, 12) for v in setting.values(blocks))):
                assert value in allowed, (item.name, setting.name, value)


def test_a_plugin_setting_is_checked_against_its_declared_range(cli, tiny, colour_images, register_plugin):
    from fakes import DeclaredStrategy

    import autotl
    from autotl.contracts.settings import Range, Setting

    share = Setting("share", 0.5, (0.5,), "a share", range=Range(0, 1, low_open=True))

    class RangedPlugin:
        @autotl.hookimpl
        def register_strategies(self, register):
            register(DeclaredStrategy("ranged", "declares a share", settings=(share,)))

    register_plugin(RangedPlugin(), "ranged-plugin")
    result = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "ranged", "--set", "share=0")
    assert_user_error(result, "--set share=0.0: expected a number from above 0 to 1")


@pytest.mark.parametrize(
    "output, fragment",
    [
        ("/sys/m.onnx", "--output /sys/m.onnx: /sys is the kernel's sysfs filesystem, not storage"),
        ("/proc/m.onnx", "--output /proc/m.onnx: /proc is the kernel's proc filesystem, not storage"),
        ("m" * 300 + ".onnx", "its name is 305 bytes long, over the 255 this filesystem allows"),
    ],
)
def test_export_output_is_checked_before_any_work(cli, output, fragment):
    result = cli("export", "--model", "runs:/not-looked-at/model", "--format", "onnx", "--output", output)
    assert_user_error(result, fragment)


def test_a_folder_where_no_file_can_be_made_is_refused_before_any_work(cli, image_folder, tmp_path, monkeypatch):
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)  # root writes anywhere: a read-only folder, as a user meets it
    data = image_folder({"cat": 3, "dog": 3})
    result = cli("predict", "--model", "runs:/not-looked-at/model", "--data", data, "--output", tmp_path / "p.csv")
    assert_user_error(result, f"--output {tmp_path / 'p.csv'}: cannot make a file in {tmp_path} (Permission denied)")


def test_predictions_are_safe_in_a_spreadsheet_and_stdout_is_the_same_csv(
    cli, tiny, colour_images, tmp_path, monkeypatch
):
    import csv
    import io

    from test_train_predict import train_json

    report = train_json(cli, "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe")
    flat = tmp_path / "flat"
    flat.mkdir()
    names = ["=cmd().png", "+1.png", "-2.png", "@x.png", "new\nline.png", "plain.png"]
    for name, image in zip(names, sorted((colour_images / "red").iterdir())):
        (flat / name).write_bytes(image.read_bytes())
    monkeypatch.chdir(flat)  # --data . : each input is the file's bare name
    written = cli("predict", "--model", report["model_uri"], "--data", ".", "--output", tmp_path / "out.csv")
    assert written.exit_code == 0, written.output
    printed = cli("predict", "--model", report["model_uri"], "--data", ".")
    assert printed.exit_code == 0, printed.output
    text = (tmp_path / "out.csv").read_text(encoding="utf-8")
    assert printed.stdout == text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["input", "prediction", "confidence"] and len(rows) == 1 + len(names)
    inputs = sorted(row[0] for row in rows[1:])
    assert inputs == sorted(["'=cmd().png", "'+1.png", "'-2.png", "'@x.png", "new\nline.png", "plain.png"])
    assert all(row[1] == "red" and 0 <= float(row[2]) <= 1 for row in rows[1:])


# -- served models and model folders (issue 30) --


def _saved_model(kind: str, source, images: Path, folder: Path) -> Path:
    """A model of ``kind`` (fine-tuned, classical or ensemble of those two) saved in ``folder`` as autotl saves it."""
    from autotl.training import classical
    from autotl.training.classifier import Classifier, save
    from autotl.training.ensemble import EnsembleModel, Member

    classes = ("blue", "red")
    paths = sorted(str(p) for p in images.rglob("*.png"))
    classifier = Classifier(source.load(pretrained=False), len(classes))
    if kind == "fine-tuned":
        return save(classifier, source, classes, {}, folder)
    baseline = classical.fit("image", paths, [classes.index(Path(p).parent.name) for p in paths], classes, image_side=8)
    if kind == "classical":
        return baseline.save(folder)
    members = [
        Member("tiny", 0.5, None, lambda member: save(classifier, source, classes, {}, member)),
        Member("classical", 0.5, None, baseline.save),
    ]
    return EnsembleModel(members, classes).save(folder)


def _manifest(change):
    def tamper(folder: Path) -> None:
        manifest = json.loads((folder / "autotl_model.json").read_text())
        change(manifest)
        (folder / "autotl_model.json").write_text(json.dumps(manifest))

    return tamper


class _Planted:
    """What a tampered weights.pt could hold: unpickling it would write ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.write_text, (self.marker, "code from the weights ran")


def _weights_with_a_pickle(folder: Path) -> None:
    import torch

    torch.save({"head.bias": _Planted(folder / "ran")}, folder / "weights.pt")


def _npz_with_a_pickle(folder: Path) -> None:
    import numpy as np

    np.savez(folder / "classical.npz", weight=np.array([object()], dtype=object), bias=np.zeros(2))


@pytest.mark.parametrize(
    "kind, tamper, fragment",
    [
        ("fine-tuned", lambda f: (f / "autotl_model.json").write_text("{not json"), "autotl_model.json is not JSON"),
        ("fine-tuned", lambda f: (f / "autotl_model.json").write_text("[1, 2]"), "holds a JSON list, not an object"),
        ("fine-tuned", _manifest(lambda m: m.pop("classes")), "field 'classes' is missing, expected a list"),
        ("fine-tuned", _manifest(lambda m: m.update(hidden="wide")), "field 'hidden' is \"wide\", expected a whole"),
        ("fine-tuned", _manifest(lambda m: m.update(source="nosuch")), "source 'nosuch' is not registered here"),
        ("fine-tuned", _manifest(lambda m: m.update(kind="pickle")), "field 'kind' is \"pickle\""),
        (
            "fine-tuned",
            _manifest(lambda m: m.update(classes=["blue", "red", "green"])),
            "field 'classes' lists 3 classes, and the head in",
        ),
        ("fine-tuned", _weights_with_a_pickle, "weights.pt holds Python objects, not only tensors"),
        ("fine-tuned", lambda f: (f / "weights.pt").write_bytes(b"junk"), "weights.pt is missing or not a weights"),
        ("fine-tuned", _manifest(lambda m: m.update(temperature=0)), "field 'temperature' is 0, expected a finite"),
        ("fine-tuned", _manifest(lambda m: m.update(temperature=-1)), "field 'temperature' is -1, expected"),
        ("fine-tuned", _manifest(lambda m: m.update(temperature=float("nan"))), "field 'temperature' is NaN"),
        ("classical", _manifest(lambda m: m.pop("representation")), "field 'representation' is missing"),
        ("classical", _manifest(lambda m: m.update(c=0)), "field 'c' is 0, expected a finite number above 0"),
        ("classical", _manifest(lambda m: m.update(classes=["a", "b", "c"])), "do not fit 3 classes"),
        ("classical", _npz_with_a_pickle, "classical.npz: not the arrays autotl saved (Object arrays"),
        ("ensemble", _manifest(lambda m: m.update(temperature=0)), "field 'temperature' is 0"),
        (
            "ensemble",
            lambda f: (f / "member-0" / "autotl_model.json").write_text("{oops"),
            "member-0/autotl_model.json is not JSON",
        ),
    ],
)
def test_a_damaged_or_edited_model_folder_is_refused_in_one_line(
    cli, tiny, colour_images, tmp_path, kind, tamper, fragment
):
    folder = _saved_model(kind, tiny, colour_images, tmp_path / "model")
    tamper(folder)
    assert_user_error(cli("predict", "--model", folder, "--data", colour_images), fragment)
    assert not (folder / "ran").exists()


def test_an_empty_or_unknown_image_file_is_named_not_its_copy_in_memory(cli, image_folder):
    root = image_folder({"cat": 3, "dog": 3})
    (root / "cat" / "empty.png").write_bytes(b"")
    (root / "dog" / "noise.png").write_bytes(b"not an image at all")
    result = cli("inspect", "--data", root)
    assert_user_error(result, "empty.png (an empty file)", "noise.png (no image format that Pillow reads)")
    assert "BytesIO" not in result.stderr
