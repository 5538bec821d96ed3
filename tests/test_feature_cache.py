"""The feature cache: it serves each input's features once computed, deletes only what it made,
never what a process is using, and recovers from damaged files."""

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from autotl.contracts.data import Example
from autotl.errors import AutotlError
from autotl.training.features import MODEL_MARKER, ROOT_MARKER, FeatureCache, _hold


@pytest.fixture
def source(tmp_path):
    from fakes import FakeSource, save_fake_checkpoint

    return FakeSource("tiny", checkpoint=save_fake_checkpoint(tmp_path / "tiny.pt"))


def examples(images: Path) -> list[Example]:
    files = sorted(images.rglob("*.png"))
    return [Example(str(f), f.parent.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in files]


def model_folders(cache: FeatureCache) -> list[Path]:
    return [p for p in cache.folder.iterdir() if p.is_dir()]


def test_features_are_computed_once_and_served_from_disk_after(tmp_path, source, colour_images):
    cache = FeatureCache(tmp_path / "cache")
    first = cache.features(source.load(), source, examples(colour_images), torch.device("cpu"))
    calls = source.forward_calls
    again = cache.features(source.load(), source, examples(colour_images), torch.device("cpu"))
    assert source.forward_calls == calls and np.array_equal(first, again)
    assert (cache.folder / ROOT_MARKER).is_file() and all((p / MODEL_MARKER).is_file() for p in model_folders(cache))


def test_other_weights_behind_the_same_name_get_features_of_their_own(tmp_path, source, colour_images):
    cache = FeatureCache(tmp_path / "cache")
    cache.features(source.load(), source, examples(colour_images), torch.device("cpu"))
    changed = source.load()
    with torch.no_grad():
        changed.body[0][0].weight.add_(1.0)
    cache.features(changed, source, examples(colour_images), torch.device("cpu"))
    assert len(model_folders(cache)) == 2


def test_a_damaged_file_is_computed_again_with_a_warning(tmp_path, source, colour_images, capsys):
    cache = FeatureCache(tmp_path / "cache")
    data = examples(colour_images)
    good = cache.features(source.load(), source, data, torch.device("cpu"))
    damaged = model_folders(cache)[0] / f"{data[0].fingerprint}.npy"
    damaged.write_bytes(damaged.read_bytes()[:20])  # a write cut short
    again = cache.features(source.load(), source, data, torch.device("cpu"))
    assert np.allclose(good, again)
    assert "Warning: the cached features in" in capsys.readouterr().err
    assert not [
        f for f in model_folders(cache)[0].iterdir() if f.name.startswith(".") and f.suffix == ".npy"
    ]  # no temporary left


def test_the_cache_drops_the_least_recently_used_model_first_and_passes_by_one_in_use(tmp_path, source, colour_images):
    cache = FeatureCache(tmp_path / "cache", limit_gb=2.5e-6)  # 2,500 bytes
    cache.claim()
    for age, name in enumerate(["old-000000000000", "used-000000000001", "middle-000000000002", "new-000000000003"]):
        folder = cache.folder / name
        folder.mkdir()
        (folder / MODEL_MARKER).touch()
        (folder / "x.npy").write_bytes(b"0" * 1000)
        os.utime(folder, (1000 + age, 1000 + age))
    held = _hold(cache.folder / "used-000000000001")  # another process has used it
    cache.prune()
    assert sorted(p.name for p in model_folders(cache)) == ["new-000000000003", "used-000000000001"]
    held.close()


def test_a_folder_stays_in_use_for_as_long_as_the_cache_that_used_it_lives(tmp_path, source, colour_images):
    """Not only while features are read: a select scores every source first and trains on their features later."""
    import gc

    using = FeatureCache(tmp_path / "cache")
    using.features(source.load(), source, examples(colour_images), torch.device("cpu"))
    other = FeatureCache(tmp_path / "cache")  # another process's `autotl cache clear`
    assert other.clear() == 0 and len(model_folders(other)) == 1
    del using
    gc.collect()  # the process ends: the system releases its locks
    assert other.clear() > 0 and not other.folder.exists()


def test_a_folder_autotl_did_not_make_is_neither_written_to_nor_cleared(tmp_path, source, colour_images):
    before = {p: p.read_bytes() for p in colour_images.rglob("*") if p.is_file()}
    cache = FeatureCache(colour_images)
    with pytest.raises(AutotlError, match="did not make it"):
        cache.clear()
    with pytest.raises(AutotlError, match="holds files autotl did not make"):
        cache.features(source.load(), source, examples(colour_images), torch.device("cpu"))
    assert {p: p.read_bytes() for p in colour_images.rglob("*") if p.is_file()} == before


def test_a_cache_from_before_the_markers_is_adopted_and_cleared(tmp_path):
    old = tmp_path / "cache" / "tiny-0123456789ab"
    old.mkdir(parents=True)
    (old / "a.npy").write_bytes(b"0" * 2000)
    cache = FeatureCache(tmp_path / "cache")
    assert cache.clear() == 2000 and not cache.folder.exists()


def test_a_source_whose_features_are_all_cached_is_timed_on_a_few_inputs_without_writing(
    tmp_path, source, colour_images
):
    """Every final model's test pass is priced from the seconds per input: with a warm cache they
    are measured on a few cached inputs again, which leaves the cache as it was."""
    from autotl.contracts.settings import TrainParams
    from autotl.selection.costs import seconds_per_input
    from autotl.training.job import TrainingJob

    cache = FeatureCache(tmp_path / "cache")
    inputs = examples(colour_images)
    splits = {"train": inputs, "val": [], "test": []}
    job = TrainingJob(source, None, ("a", "b"), splits, TrainParams(), torch.device("cpu"), "accuracy", cache)
    backbone = source.load()
    per_input, timed = seconds_per_input(job, backbone, time.monotonic)
    assert timed == len(inputs) - 2 and per_input > 0  # after two inputs of warm-up
    written = sorted(p.name for folder in model_folders(cache) for p in folder.iterdir())
    calls = source.forward_calls
    per_input, timed = seconds_per_input(job, backbone, time.monotonic)
    assert timed == 0 and per_input > 0 and source.forward_calls > calls
    assert sorted(p.name for folder in model_folders(cache) for p in folder.iterdir()) == written
