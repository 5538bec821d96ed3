"""Fixtures that build small datasets and plugins inside the test, and run the CLI in-process."""

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from autotl.cli import app
from autotl.plugins import pm


@pytest.fixture
def cli() -> Callable:
    """Runs ``autotl ARGS...`` in-process; the result has exit_code, stdout and stderr apart."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return run


@pytest.fixture
def image_folder(tmp_path: Path) -> Callable[..., Path]:
    """make(counts={"cat": 4, "dog": 4}, root=None) writes small distinct PNGs per class."""

    def make(counts: dict[str, int], root: Path | None = None, size: tuple[int, int] = (12, 10)) -> Path:
        root = root or tmp_path / "images"
        rng = np.random.default_rng(len(list(root.parent.glob("*"))))
        for label, count in counts.items():
            (root / label).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / label / f"{i}.png")
        return root

    return make


@pytest.fixture
def text_file(tmp_path: Path) -> Callable[..., Path]:
    """make(rows, name="data.csv") writes rows (a header row first) as CSV/TSV, or dicts as JSONL."""
    import csv
    import json

    def make(rows: list, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".jsonl"):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            return path
        with path.open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle, delimiter="\t" if name.endswith(".tsv") else ",").writerows(rows)
        return path

    return make


def labelled_rows(counts: dict[str, int]) -> list[list[str]]:
    rows = [["text", "label"]]
    for label, count in counts.items():
        rows += [[f"{label} example number {i}", label] for i in range(count)]
    return rows


@pytest.fixture
def register_plugin() -> Callable:
    """register_plugin(obj, name) adds a plugin object for this test only."""
    names: list[str] = []

    def register(plugin: object, name: str) -> object:
        pm.register(plugin, name=name)
        names.append(name)
        return plugin

    yield register
    for name in names:
        pm.unregister(name=name)
