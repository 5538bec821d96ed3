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


@pytest.fixture
def colour_images(image_folder, tmp_path) -> Path:
    """Two classes a tiny model can tell apart: reddish and bluish 8x8 images, 15 of each."""
    root = tmp_path / "colours"
    rng = np.random.default_rng(0)
    for label, channel in (("red", 0), ("blue", 2)):
        (root / label).mkdir(parents=True)
        for i in range(15):
            pixels = rng.integers(0, 90, size=(8, 8, 3), dtype=np.uint8)
            pixels[..., channel] = rng.integers(150, 256, size=(8, 8))
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


@pytest.fixture
def tiny(tmp_path, monkeypatch, register_plugin):
    """The tiny source registered in-process, a tracking store and feature cache in tmp_path, cwd there."""
    import tiny_plugin
    from fakes import save_fake_checkpoint

    checkpoint = save_fake_checkpoint(tmp_path / "tiny-pretrained.pt")
    monkeypatch.setenv("AUTOTL_TINY_CHECKPOINT", str(checkpoint))
    monkeypatch.setenv("AUTOTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    register_plugin(tiny_plugin, "tiny-plugin")
    tiny_plugin.SOURCE.forward_calls = 0
    tiny_plugin.SOURCE.checkpoint = checkpoint  # before any registry is built, for tests that load it directly
    return tiny_plugin.SOURCE
