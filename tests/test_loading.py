"""A ``runs:/`` or ``models:/`` model is read from a temporary copy of autotl's own, which is removed
when the command, or the predictor that ``autotl.load`` gives, ends: nothing is left in $TMPDIR."""

import json
import tempfile

import pytest

import autotl


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """$TMPDIR, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read $TMPDIR again
    return folder


def copies(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("autotl-model-"))


def test_no_copy_of_a_logged_model_is_left_behind(cli, tiny, colour_images, tmp_path, private_tmp):
    trained = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--json")
    assert trained.exit_code == 0, trained.output
    uri = json.loads(trained.stdout)["model_uri"]
    before = sorted(private_tmp.iterdir())
    assert cli("predict", "--model", uri, "--data", colour_images).exit_code == 0
    exported = cli("export", "--model", uri, "--format", "torchscript", "--output", tmp_path / "model.pt")
    assert exported.exit_code == 0, exported.output
    missing = cli("predict", "--model", "runs:/0123456789abcdef0123456789abcdef/model", "--data", colour_images)
    assert missing.exit_code == 2, missing.output
    assert sorted(private_tmp.iterdir()) == before

    images = sorted(str(p) for p in colour_images.rglob("*.png"))
    with autotl.load(uri) as predictor:
        assert len(copies(private_tmp)) == 1  # read while the predictor lives (a plugin's source may read late)
        assert len(predictor.predict(images)) == len(images)
    assert copies(private_tmp) == []
    predictor = autotl.load(uri)
    assert len(copies(private_tmp)) == 1
    del predictor  # collected: its finalizer removes the copy
    assert copies(private_tmp) == []
    assert sorted(private_tmp.iterdir()) == before
