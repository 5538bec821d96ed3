"""``autotl models pull NAME``: a source's weights fetched on request, checked against their hash,
into the cache its library reads; the test serves them from a local HTTP server."""

import hashlib
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fakes import FakeSource, save_fake_checkpoint
from test_plugins import SourcePlugin

from autotl.pulling import CheckpointAtUrl


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path) -> str:
    """A checkpoint at http://127.0.0.1:PORT/tiny-weights.pt, and its sha256 after a ``#``."""
    folder = tmp_path / "served"
    folder.mkdir()
    checkpoint = save_fake_checkpoint(folder / "tiny-weights.pt")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/{checkpoint.name}#{hashlib.sha256(checkpoint.read_bytes()).hexdigest()}"
    server.shutdown()


class Served(CheckpointAtUrl):
    """The tiny test model, its 'pretrained' weights one file at a URL with a known hash."""

    def __init__(self, name: str, url: str, sha256: str):
        self.spec, self.url, self.sha256 = FakeSource(name).spec, url, sha256

    def load(self, pretrained: bool = True, folder: Path | None = None):
        return FakeSource(self.name, checkpoint=self.checkpoint()).load(pretrained, folder)


def models(cli) -> dict[str, dict]:
    return {model["name"]: model for model in json.loads(cli("models", "--json").stdout)["models"]}


def test_a_pulled_checkpoint_lands_in_the_torch_hub_cache_and_the_source_trains(
    cli, tiny, register_plugin, served, tmp_path, monkeypatch, colour_images
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url, sha256 = served.split("#")
    register_plugin(SourcePlugin(Served("served", url, sha256)), "sources-plugin")
    before = models(cli)["served"]
    assert not before["available"] and before["pull_from"] == url

    result = cli("models", "pull", "served")
    assert result.exit_code == 0, result.output
    assert f"Pulling served from {url}" in result.stderr and "served is here now" in result.stderr
    assert (tmp_path / "torch" / "hub" / "checkpoints" / "tiny-weights.pt").is_file()
    assert models(cli)["served"]["available"]
    assert cli("models", "pull", "served").stderr.strip() == "served is here already; nothing to pull"
    trained = cli("train", "--data", colour_images, "--model", "served", "--strategy", "linear_probe")
    assert trained.exit_code == 0, trained.output


def test_a_checkpoint_whose_hash_differs_is_refused_and_leaves_nothing_behind(
    cli, tiny, register_plugin, served, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url, _ = served.split("#")
    register_plugin(SourcePlugin(Served("tampered", url, "0" * 64)), "sources-plugin")
    result = cli("models", "pull", "tampered")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith(f"Error: cannot pull tampered from {url}: invalid hash value")
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())
    assert not models(cli)["tampered"]["available"]


def test_weights_that_install_as_a_package_are_not_pulled_and_the_error_says_how_to_get_them(
    cli, tiny, register_plugin
):
    register_plugin(SourcePlugin(FakeSource("packaged", missing="pip install packaged-weights")), "sources-plugin")
    assert models(cli)["packaged"]["pull_from"] is None
    result = cli("models", "pull", "packaged")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: packaged cannot be pulled: pip install packaged-weights"


def test_hugging_face_sources_are_pulled_from_the_mirror_that_HF_ENDPOINT_names(tmp_path):
    import os
    import subprocess
    import sys

    environment = os.environ | {"HF_ENDPOINT": "http://127.0.0.1:9/mirror", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [sys.executable, "-m", "autotl", "models", "--json"], capture_output=True, text=True, env=environment
    )
    pulled_from = {model["name"]: model["pull_from"] for model in json.loads(result.stdout)["models"]}
    assert pulled_from["bert-base-uncased"] == "http://127.0.0.1:9/mirror/bert-base-uncased"
    assert pulled_from["all-minilm-l6-v2"] is None  # installs from PyPI
