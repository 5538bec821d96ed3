"""Text files: CSV, TSV and JSON Lines, one file or one per split, any column names."""

import json

from fakes import labelled_rows


def inspect_json(cli, *args):
    result = cli("inspect", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_csv_profile(cli, text_file):
    rows = labelled_rows({"ham": 6, "spam": 3})
    report = inspect_json(cli, "--data", text_file(rows))
    assert report["modality"] == "text"
    assert report["num_examples"] == 9
    assert {c: sum(n.values()) for c, n in report["counts"].items()} == {"ham": 6, "spam": 3}
    assert report["inputs"]["words"] == {"min": 4, "median": 4, "max": 4}


def test_tsv_with_other_column_names(cli, text_file):
    rows = [["body", "topic"]] + [[f"text {i}", "ab"[i % 2]] for i in range(8)]
    report = inspect_json(
        cli, "--data", text_file(rows, "data.tsv"), "--text-column", "body", "--label-column", "topic"
    )
    assert report["classes"] == ["a", "b"]


def test_jsonl_with_numeric_labels(cli, text_file):
    rows = [{"text": f"t{i}", "label": i % 2} for i in range(6)]
    assert inspect_json(cli, "--data", text_file(rows, "data.jsonl"))["classes"] == ["0", "1"]


def test_byte_order_mark_is_accepted(cli, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\n".encode() + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(6)).encode())
    assert inspect_json(cli, "--data", path)["num_examples"] == 6


def test_split_files_in_a_folder(cli, text_file, tmp_path):
    text_file(labelled_rows({"a": 5, "b": 5}), "corpus/train.csv")
    text_file(labelled_rows({"a": 2, "b": 2}), "corpus/val.csv")
    text_file(labelled_rows({"a": 1, "b": 1}), "corpus/test.csv")
    report = inspect_json(cli, "--data", tmp_path / "corpus")
    assert report["split_sizes"] == {"train": 10, "val": 4, "test": 2}
    assert set(report["split_origin"].values()) == {"given"}
    assert "2 input(s) in test have the same content as inputs in train" in report["problems"]


def test_skip_bad_files_drops_empty_rows(cli, text_file):
    rows = labelled_rows({"a": 3, "b": 3}) + [["", "a"]]
    report = inspect_json(cli, "--data", text_file(rows), "--skip-bad-files")
    assert report["num_examples"] == 6
    assert any("line 8: empty text" in p for p in report["problems"])


def test_a_class_only_in_test_is_an_error(cli, text_file, tmp_path):
    text_file(labelled_rows({"a": 5, "b": 5}), "corpus/train.csv")
    text_file(labelled_rows({"a": 1, "c": 1}), "corpus/test.csv")
    result = cli("inspect", "--data", tmp_path / "corpus")
    assert result.exit_code == 2
    assert "class 'c' appears in test but not in train" in result.stderr


def test_a_split_file_linked_inside_the_folder_is_read(cli, text_file, tmp_path):
    text_file(labelled_rows({"a": 5, "b": 5}), "corpus/sources/train.csv")
    (tmp_path / "corpus" / "train.csv").symlink_to(tmp_path / "corpus" / "sources" / "train.csv")
    assert inspect_json(cli, "--data", tmp_path / "corpus")["num_examples"] == 10
