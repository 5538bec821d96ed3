"""Frozen features, computed once per model, preprocessing and input content, and kept on disk.

A model's features live in one folder per (source, digest of its weights, preprocessing), one
``.npy`` file per input named by the input's content hash: a renamed or moved file hits the
cache, an edited one does not, and changed weights behind the same name get a folder of their
own. Folders not used for the longest are removed when the cache outgrows its limit.

The cache deletes only what it made: its root and each model folder carry a marker file, and
neither ``clear`` nor pruning touches a folder without one. A process holds a shared lock on
each model folder it has used until it ends (the system releases it, however it ends), and
pruning and ``clear`` pass such a folder by.
"""

import fcntl
import hashlib
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Callable

import numpy as np
import torch

from autotl.contracts.data import Example
from autotl.contracts.sources import Source
from autotl.errors import AutotlError, WriteError
from autotl.training.backbone import Backbone, move_batch
from autotl.training.device import inference_batch_size

DEFAULT_LIMIT_GB = 10.0
ROOT_MARKER = ".autotl-cache"
"""In the cache's root: autotl made this folder, and may delete in it."""
MODEL_MARKER = ".autotl-features"
"""In each model folder: what pruning and ``clear`` may remove."""
LOCK = ".lock"
_MODEL_FOLDER = re.compile(r".+-[0-9a-f]{12}")


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
        self.held: dict[Path, IO] = {}
        """The model folders this cache has used, each with its shared lock (released with the object)."""

    def features(
        self,
        backbone: Backbone,
        source: Source,
        examples: list[Example],
        device: torch.device,
        batch_size: int = 64,
        on_batch: Callable[[int], None] = lambda count: None,
    ) -> np.ndarray:
        """Features of each example, in order; only inputs not cached yet go through the backbone
        (``on_batch`` hears how many after each batch). A file that does not load (a write cut
        short, a full disk) is removed and computed again, with a warning."""
        if not examples:
            return np.zeros((0, backbone.feature_dim), dtype=np.float32)
        folder = self.model_folder(source, backbone)
        vectors = {e.fingerprint: _load(folder / f"{e.fingerprint}.npy", backbone.feature_dim) for e in examples}
        missing = {e.fingerprint: e.input for e in examples if vectors[e.fingerprint] is None}
        if missing:
            vectors.update(_compute(backbone, list(missing.items()), folder, device, batch_size, on_batch))
        os.utime(folder)
        if missing:
            self.prune()
        return np.stack([vectors[e.fingerprint] for e in examples])

    def missing(self, backbone: Backbone, source: Source, examples: list[Example]) -> list[Example]:
        """The examples whose features are not cached yet, one per content."""
        folder = self.folder / _model_key(source, backbone)
        unique = {e.fingerprint: e for e in examples}
        return [e for f, e in unique.items() if not (folder / f"{f}.npy").is_file()]

    def model_folder(self, source: Source, backbone: Backbone) -> Path:
        """The folder of this model's features, held in use from now on."""
        self.claim()
        folder = self.folder / _model_key(source, backbone)
        if folder not in self.held:
            self.held[folder] = _hold(folder)
            (folder / MODEL_MARKER).touch()
        return folder

    def claim(self) -> None:
        """Makes the root an autotl cache: a new or empty folder, one marked already, or a cache of
        an autotl from before the markers (model folders alone); anything else is refused."""
        if (self.folder / ROOT_MARKER).is_file():
            return
        if self.folder.exists() and not self.folder.is_dir():
            raise AutotlError(
                f"cache folder {self.folder}: it is a file; give a folder (--cache-dir or AUTOTL_CACHE_DIR)"
            )
        if self.folder.is_dir() and not self.looks_like_an_older_cache():
            raise AutotlError(
                f"cache folder {self.folder}: it holds files autotl did not make (no {ROOT_MARKER} marker); "
                "give a new or empty folder (--cache-dir or AUTOTL_CACHE_DIR)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.iterdir():  # an earlier autotl's model folders
            (old / MODEL_MARKER).touch()
        (self.folder / ROOT_MARKER).write_text(
            "A cache of autotl's frozen features: `autotl cache clear` empties it.\n"
        )

    def looks_like_an_older_cache(self) -> bool:
        """Model folders alone, each holding features and nothing else: an autotl cache made before the markers."""
        return all(
            p.is_dir()
            and _MODEL_FOLDER.fullmatch(p.name)
            and all(f.suffix == ".npy" or f.name == LOCK for f in p.iterdir())
            for p in self.folder.iterdir()
        )

    def owned(self) -> list[Path]:
        """The model folders this cache made; refuses a root without the marker."""
        if not self.folder.exists():
            return []
        if not (self.folder / ROOT_MARKER).is_file() and self.looks_like_an_older_cache():
            self.claim()
        if not (self.folder / ROOT_MARKER).is_file():
            raise AutotlError(
                f"cache folder {self.folder}: autotl did not make it (no {ROOT_MARKER} marker), "
                "so it deletes nothing there; check --cache-dir or AUTOTL_CACHE_DIR"
            )
        return [p for p in self.folder.iterdir() if p.is_dir() and (p / MODEL_MARKER).is_file()]

    def size_bytes(self) -> int:
        return _size(self.folder) if self.folder.exists() else 0

    def prune(self) -> None:
        """Removes the least recently used model folders until the cache fits its limit, passing by
        any that a process (this one too) is using."""
        folders = sorted(self.owned(), key=lambda p: p.stat().st_mtime)
        total = self.size_bytes()
        for folder in folders:
            if total <= self.limit_bytes:
                break
            size = _size(folder)
            if _remove_unless_in_use(folder):
                total -= size

    def clear(self) -> int:
        """Removes every model folder not in use, and the root when nothing else is left in it;
        returns the bytes freed."""
        freed = 0
        for folder in self.owned():
            size = _size(folder)
            freed += size if _remove_unless_in_use(folder) else 0
        if [p.name for p in self.folder.iterdir()] == [ROOT_MARKER]:
            shutil.rmtree(self.folder)
        return freed


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _hold(folder: Path) -> IO:
    """A shared lock on ``folder``, made if need be. A pruner may have removed the folder while
    this waited for the lock: then it is made again."""
    while True:
        folder.mkdir(exist_ok=True)
        try:
            lock = open(folder / LOCK, "a")
        except FileNotFoundError:  # removed between the two lines
            continue
        fcntl.flock(lock, fcntl.LOCK_SH)
        if os.fstat(lock.fileno()).st_nlink:  # still there: held from now on
            return lock
        lock.close()


def _remove_unless_in_use(folder: Path) -> bool:
    with open(folder / LOCK, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True


def _load(path: Path, dim: int) -> np.ndarray | None:
    """A cached vector, or None when it is absent or does not load as one of ``dim`` numbers (then it is removed)."""
    if not path.is_file():
        return None
    try:
        vector = np.load(path, allow_pickle=False)
        if vector.shape == (dim,):
            return vector
    except (OSError, ValueError, EOFError):
        pass
    print(f"Warning: the cached features in {path} are damaged; computing them again", file=sys.stderr)
    path.unlink(missing_ok=True)
    return None


def _model_key(source: Source, backbone: Backbone) -> str:
    identity = f"{source.name}|{source.spec.weights}|{weights_digest(backbone)}|{backbone.preprocessor.key}"
    return f"{source.name.replace('/', '_')}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def weights_digest(backbone: Backbone) -> str:
    """A hash of the backbone's weights and buffers, computed once per loaded backbone (a fraction
    of a second for a base-sized model): the same name and path with other weights behind them
    must not serve the old features."""
    digest = getattr(backbone, "_autotl_weights_digest", None)
    if digest is None:
        hasher = hashlib.sha256()
        for name, tensor in sorted(backbone.state_dict().items()):
            hasher.update(name.encode())
            hasher.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
        digest = hasher.hexdigest()[:16]
        backbone._autotl_weights_digest = digest
    return digest


@torch.no_grad()
def forward_seconds(backbone: Backbone, inputs: list, device: torch.device, clock: Callable[[], float]) -> float:
    """Seconds of one uncached forward pass over ``inputs`` (preprocessing included), after a
    pass over the first two that absorbs first-call costs; nothing is written."""
    backbone.eval().to(device)
    backbone(move_batch(backbone.preprocessor(inputs[:2]), device))
    started = clock()
    backbone(move_batch(backbone.preprocessor(inputs), device)).float().cpu()
    return clock() - started


@torch.no_grad()
def _compute(
    backbone: Backbone,
    items: list[tuple[str, str]],
    folder: Path,
    device: torch.device,
    batch_size: int,
    on_batch: Callable[[int], None],
) -> dict[str, np.ndarray]:
    """Features of ``items`` (fingerprint, input), written to ``folder`` and returned by fingerprint."""
    computed = {}
    backbone.eval().to(device)
    batch_size = inference_batch_size(device, batch_size)
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        batch = move_batch(backbone.preprocessor([raw for _, raw in chunk]), device)
        features = backbone(batch).float().cpu().numpy()
        for (fingerprint, _), vector in zip(chunk, features):
            temporary = folder / f".{fingerprint}.{time.monotonic_ns()}.npy"
            try:
                np.save(temporary, vector)
                temporary.replace(folder / f"{fingerprint}.npy")
            except OSError as error:
                raise WriteError(
                    f"could not write the feature cache in {folder}: {error.strerror or error}; "
                    "free some space or give --cache-dir elsewhere"
                ) from None
            finally:
                temporary.unlink(missing_ok=True)  # a write cut short leaves no file behind
            computed[fingerprint] = vector
        on_batch(len(chunk))
    return computed
