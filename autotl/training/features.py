"""Frozen features, computed once per model, preprocessing and input content, and kept on disk.

A model's features live in one folder per (source, weights, preprocessing),
one ``.npy`` file per input named by the input's content hash: a renamed or
moved file hits the cache, an edited one does not. Folders not used for the
longest are removed when the cache outgrows its limit.
"""

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from autotl.data import Example
from autotl.sources import Source
from autotl.sources.backbone import Backbone, move_batch

DEFAULT_LIMIT_GB = 10.0


def default_cache_dir() -> Path:
    configured = os.environ.get("AUTOTL_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "autotl" / "features"


class FeatureCache:
    def __init__(self, folder: Path | None = None, limit_gb: float | None = None):
        self.folder = Path(folder) if folder else default_cache_dir()
        self.limit_bytes = int((limit_gb or float(os.environ.get("AUTOTL_CACHE_LIMIT_GB", DEFAULT_LIMIT_GB))) * 1e9)

    def features(
        self, backbone: Backbone, source: Source, examples: list[Example], device: torch.device, batch_size: int = 64,
        on_batch: Callable[[int], None] = lambda count: None,
    ) -> np.ndarray:
        """Features of each example, in order; only inputs not cached yet go through the backbone
        (``on_batch`` hears how many after each batch)."""
        if not examples:
            return np.zeros((0, backbone.feature_dim), dtype=np.float32)
        folder = self.folder / _model_key(source, backbone)
        folder.mkdir(parents=True, exist_ok=True)
        missing = {e.fingerprint: e.input for e in examples if not (folder / f"{e.fingerprint}.npy").is_file()}
        if missing:
            _compute(backbone, list(missing.items()), folder, device, batch_size, on_batch)
            self.prune(keep=folder)
        os.utime(folder)
        return np.stack([np.load(folder / f"{e.fingerprint}.npy") for e in examples])

    def missing(self, backbone: Backbone, source: Source, examples: list[Example]) -> list[Example]:
        """The examples whose features are not cached yet, one per content."""
        folder = self.folder / _model_key(source, backbone)
        unique = {e.fingerprint: e for e in examples}
        return [e for f, e in unique.items() if not (folder / f"{f}.npy").is_file()]

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.folder.rglob("*") if f.is_file()) if self.folder.exists() else 0

    def prune(self, keep: Path | None = None) -> None:
        """Removes the least recently used model folders until the cache fits its limit."""
        folders = sorted((p for p in self.folder.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
        total = self.size_bytes()
        for folder in folders:
            if total <= self.limit_bytes:
                break
            total -= sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _model_key(source: Source, backbone: Backbone) -> str:
    identity = f"{source.name}|{source.spec.weights}|{backbone.preprocessor.key}"
    return f"{source.name.replace('/', '_')}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


@torch.no_grad()
def _compute(backbone: Backbone, items: list[tuple[str, str]], folder: Path, device: torch.device, batch_size: int,
             on_batch: Callable[[int], None]) -> None:
    backbone.eval().to(device)
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        batch = move_batch(backbone.preprocessor([raw for _, raw in chunk]), device)
        features = backbone(batch).float().cpu().numpy()
        for (fingerprint, _), vector in zip(chunk, features):
            temporary = folder / f".{fingerprint}.{time.monotonic_ns()}.npy"
            np.save(temporary, vector)
            temporary.replace(folder / f"{fingerprint}.npy")
        on_batch(len(chunk))
