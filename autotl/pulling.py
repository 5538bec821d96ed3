"""Fetching a source's weights, only when a user asks (``autotl models pull NAME``): ``select``,
``train`` and ``autotl models`` never touch the network. Each source family fetches through its
own library into that library's cache, where ``availability`` and ``load`` look: torchvision's
weights API and the torch hub cache, ``huggingface_hub`` and its cache (``HF_ENDPOINT`` for a
mirror), timm's loaders. A plugin whose weights are one file at a URL subclasses
:class:`CheckpointAtUrl`, which does both.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from autotl.contracts.sources import Availability, Source
from autotl.errors import AutotlError


@contextmanager
def fetching(name: str, origin: str) -> Iterator[None]:
    """What a download raises (no network, not found, a wrong hash, a full disk) as one line."""
    try:
        yield
    except (OSError, RuntimeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AutotlError(f"cannot pull {name} from {origin}: {reason}") from None


def torch_hub_checkpoint(url: str) -> Path:
    """Where torch's hub keeps the file at ``url`` (``$TORCH_HOME/hub/checkpoints``)."""
    from torch.hub import get_dir

    return Path(get_dir()) / "checkpoints" / Path(url).name


class CheckpointAtUrl(Source):
    """A source whose pretrained weights are one file at ``url``, kept in the torch hub cache and
    checked against ``sha256`` (the whole digest, or a prefix of it) when pulled: a file whose
    digest differs is refused, and nothing is left behind."""

    url: str
    sha256: str

    def checkpoint(self) -> Path:
        return torch_hub_checkpoint(self.url)

    def availability(self) -> Availability:
        if self.checkpoint().is_file():
            return Availability(True)
        return Availability(False, f"no {self.checkpoint().name} in {self.checkpoint().parent}")

    def pull_from(self) -> str:
        return self.url

    def pull(self) -> None:
        from torch.hub import download_url_to_file

        self.checkpoint().parent.mkdir(parents=True, exist_ok=True)
        download_url_to_file(self.url, str(self.checkpoint()), hash_prefix=self.sha256, progress=True)
