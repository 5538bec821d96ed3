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


@pytest.fixture
def no_network(monkeypatch):
    """Every connection fails as on a machine without a network (urllib and httpx both connect through this)."""
    import errno
    import socket

    def unreachable(*args, **kwargs):
        raise OSError(errno.ENETUNREACH, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)


def assert_pull_failed(result, name: str, origin: str) -> str:
    """Exit 2 and one ``Error:`` line that names the origin and the attempts made, after the
    ``Pulling`` line and torch hub's own line for each attempt: no traceback, no retry chatter."""
    from autotl.pulling import ATTEMPTS

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert lines[0] == f"Pulling {name} from {origin} (at most {ATTEMPTS} attempts)"
    assert len(lines) <= 2 + ATTEMPTS and all(line.startswith("Downloading: ") for line in lines[1:-1]), lines
    assert lines[-1].startswith(f"Error: cannot pull {name} from {origin} after {ATTEMPTS} attempts: "), lines[-1]
    return lines[-1]


@pytest.mark.parametrize("name", ["gpt2", "tv-resnet18"])
def test_a_pull_without_a_network_is_one_line_after_a_bounded_number_of_attempts(
    cli, name, no_network, tmp_path, monkeypatch
):
    from autotl.plugins import build_registry

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    [source] = [source for source in build_registry().items("sources") if source.name == name]
    line = assert_pull_failed(cli("models", "pull", name), name, source.pull_from())
    assert "Network is unreachable" in line and "check the network" in line


def test_a_checkpoint_at_a_closed_port_is_one_line_after_a_bounded_number_of_attempts(
    cli, tiny, register_plugin, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    url = "http://127.0.0.1:9/tiny-weights.pt"
    register_plugin(SourcePlugin(Served("closed", url, "0" * 64)), "sources-plugin")
    assert "Connection refused" in assert_pull_failed(cli("models", "pull", "closed"), "closed", url)


def test_a_hugging_face_mirror_at_a_closed_port_is_one_line_without_its_password(tmp_path):
    """The case of issue 30 as a user meets it: a fresh process, HF_ENDPOINT at a closed port (with a password)."""
    import os
    import subprocess
    import sys
    import time

    from autotl.pulling import ATTEMPTS

    environment = os.environ | {"HF_ENDPOINT": "http://bob:RRpw@127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "autotl", "models", "pull", "gpt2"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "RRpw" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"Pulling gpt2 from http://bob:***@127.0.0.1:9/gpt2 (at most {ATTEMPTS} attempts)",
        result.stderr.splitlines()[-1],
    ]
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: cannot pull gpt2 from http://bob:***@127.0.0.1:9/gpt2 after {ATTEMPTS} attempts: "
    )
    assert time.monotonic() - started < 120
