"""Writing a file whole or not at all: made beside its destination, then moved into place."""

import os
from pathlib import Path


def publish(temporary: Path | str, output: Path) -> None:
    """Moves a finished temporary file to ``output``, with the permissions a plain ``open()`` would
    have given it (``mkstemp`` makes files only their owner can read)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, output)
