"""docs/plugins.md documents every hook, and its complete plugin works as printed."""

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

import autotl
from autotl.contracts import hookspecs

PLUGINS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def test_every_hook_has_a_section_in_the_plugin_guide():
    hooks = [
        name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")
    ]
    headings = set(re.findall(r"^### (\w+)$", PLUGINS_PAGE.read_text(), re.MULTILINE))
    assert hooks and set(hooks) <= headings, (
        f"hooks without a section in docs/plugins.md: {sorted(set(hooks) - headings)}"
    )


@pytest.fixture
def printed_plugin(tmp_path, monkeypatch, register_plugin):
    """The guide's 30-line plugin, as printed, registered the way its entry point would be."""
    text = PLUGINS_PAGE.read_text()
    code = re.search(r"<!-- minimal-plugin -->\n```python\n(.*?)```", text, re.DOTALL)[1]
    (tmp_path / "my_resnet").mkdir()
    (tmp_path / "my_resnet" / "__init__.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("my_resnet")
    yield register_plugin(module, "my-resnet")
    sys.modules.pop("my_resnet", None)


def test_the_printed_plugin_adds_a_model_that_trains(printed_plugin, colour_images, tmp_path, monkeypatch):
    import torch
    import torchvision

    from autotl.plugins import build_registry

    monkeypatch.delenv("MY_RESNET18", raising=False)
    source = build_registry().pick("sources", ["my-resnet18"])[0]
    assert "MY_RESNET18" in source.availability().reason
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)  # random weights stand in for ImageNet's
    monkeypatch.setenv("MY_RESNET18", str(weights))
    monkeypatch.chdir(tmp_path)
    result = autotl.train(
        colour_images,
        "my-resnet18",
        "partial_freeze",
        settings={"epochs": "1", "image_size": "64"},
        cache_dir=tmp_path / "cache",
        progress=lambda message: None,
    )
    assert result.source == "my-resnet18" and 0 <= result.test_accuracy <= 1
