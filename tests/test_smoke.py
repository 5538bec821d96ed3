"""One real process per command, as a user runs them."""

import json
import subprocess
import sys

from PIL import Image


def autotl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotl", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_help_and_version():
    assert "inspect" in autotl("--help").stdout
    assert autotl("--version").stdout.startswith("autotl ")


def test_inspect(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (5, 5), (i * 40, 0, 0)).save(tmp_path / label / f"{i}.png")
    result = autotl("inspect", "--data", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "6 examples in 2 classes" in result.stdout


def test_inspect_bad_input_exits_2():
    result = autotl("inspect", "--data", "/no/such/place")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: /no/such/place does not exist")


def test_plugins():
    result = autotl("plugins", "--json")
    assert result.returncode == 0
    assert "autotl.data.images" in [p["name"] for p in json.loads(result.stdout)["plugins"]]


def test_models():
    result = autotl("models", "--json")
    assert result.returncode == 0
    assert "models" in json.loads(result.stdout)
