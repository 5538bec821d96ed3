"""Fetching a source's weights, only when a user asks (``autotl models pull NAME``): ``select``,
``train`` and ``autotl models`` never touch the network. Each source family fetches through its
own library into that library's cache, where ``availability`` and ``load`` look: torchvision's
weights API and the torch hub cache, ``huggingface_hub`` and its cache (``HF_ENDPOINT`` for a
mirror), timm's loaders. A plugin whose weights are one file at a URL subclasses
:class:`CheckpointAtUrl`, which does both.
"""

import errno
import re
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from autotl.contracts.sources import Availability, Source
from autotl.errors import AutotlError

ATTEMPTS = 3
"""How often a pull is tried while the network breaks it off (refused, unreachable, timed out):
a brief outage passes, and a machine with no network is told so in seconds."""
SILENCE_S = 30
"""How long a connection may stay silent before its attempt fails (urllib, which torch's hub
downloads with, waits for ever; huggingface_hub has its own limits)."""
NETWORK_ERRORS = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ETIMEDOUT)


@contextmanager
def fetching(name: str, origin: str, shown: Callable[[str], str] = str) -> Iterator[None]:
    """What a download raises (no network, not found, a wrong hash, a full disk) as one line; a
    network error after ``retried``'s attempts says how many. ``shown``: how the CLI shows a URL
    (``tracking.masked``, which hides its credentials)."""
    try:
        yield
    except (OSError, RuntimeError, ValueError) as error:
        tried = f" after {ATTEMPTS} attempts" if is_network(error) else ""
        advice = "; check the network (a proxy, HF_ENDPOINT for a Hugging Face mirror)" if tried else ""
        raise AutotlError(shown(f"cannot pull {name} from {origin}{tried}: {_reason(error)}{advice}")) from None


def retried(pull: Callable[[], None]) -> None:
    """``pull()``, tried again after a network error (1 s, then 2 s, ... later), ``ATTEMPTS`` times
    in all, each connection silent for at most ``SILENCE_S``."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(SILENCE_S)
    try:
        for attempt in range(1, ATTEMPTS):
            try:
                return pull()
            except OSError as error:
                if not is_network(error):
                    raise
            time.sleep(attempt)
        return pull()
    finally:
        socket.setdefaulttimeout(before)


def is_network(error: BaseException) -> bool:
    """An error on the way to the origin (refused, unreachable, no such host, timed out), which a
    later attempt may not meet; not the origin's answer (not found, a wrong hash) nor this machine's (a full disk)."""
    from urllib.error import HTTPError, URLError

    if isinstance(error, URLError) and not isinstance(error, HTTPError):
        return True
    return isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)) or (
        isinstance(error, OSError) and error.errno in NETWORK_ERRORS
    )


def _reason(error: BaseException) -> str:
    from urllib.error import HTTPError, URLError

    if isinstance(error, URLError) and not isinstance(error, HTTPError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    text = re.sub(r"^\[Errno -?\d+\] ", "", str(error).strip())
    return text.splitlines()[0] if text else type(error).__name__


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
