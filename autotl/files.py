"""Files autotl writes for the user (predictions, exported models): their place checked before any
work, and each written whole or not at all, made beside its destination and then moved into place."""

import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from autotl.errors import AutotlError, WriteError

KERNEL_FILESYSTEMS = frozenset(
    {
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "proc",
        "pstore",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "sysfs",
        "tracefs",
    }
)
"""Filesystems that are windows on the kernel, not storage: a file there is refused, lost, or
(``/dev``, as root) kept in memory as if it were a device."""
MOUNTS = Path("/proc/self/mountinfo")
SHOWN_NAME = 32
"""How much of the output's name its temporary file repeats: enough to tell whose it is, and
short enough that any name the filesystem takes also fits with the temporary's decorations."""


def within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, links resolved: what autotl must not write
    into the data, and what it reads from it."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def check_output(output: Path, data: Path | None, force: bool, option: str = "--output") -> None:
    """Before any work: ``output`` is a new file (or, with ``force``, a file to replace) outside the
    data, in a folder that exists, on storage rather than a kernel filesystem, with a name the
    filesystem takes, and where a file can be made and removed; each fault is one line."""
    said = f"{option} {output}"
    folder = Path(os.path.abspath(output)).parent
    if data is not None and within(output, data):
        raise AutotlError(f"{said}: it is inside --data {data}; write it somewhere else")
    if not folder.is_dir():
        raise AutotlError(f"{said}: the folder {folder} does not exist; create it first")
    kind, mount = filesystem(folder.resolve())
    if kind in KERNEL_FILESYSTEMS:
        raise AutotlError(
            f"{said}: {mount} is the kernel's {kind} filesystem, not storage; write to a folder on a disk"
        )
    longest, length = name_max(folder), len(os.fsencode(output.name))
    if length > longest:
        raise AutotlError(
            f"{said}: its name is {length} bytes long, over the {longest} this filesystem allows; give a shorter name"
        )
    if output.resolve().is_dir():
        raise AutotlError(f"{said}: it is a folder; give a file name in it")
    if output.resolve().exists() and not force:
        raise AutotlError(f"{said}: the file exists; give --force to replace it")
    try:
        with _temporary(output):
            pass
    except OSError as error:
        raise AutotlError(
            f"{said}: cannot make a file in {folder} ({error.strerror or error}); choose a folder you can write to"
        ) from None


def filesystem(folder: Path) -> tuple[str, str]:
    """The type of the filesystem that holds ``folder``, and where it is mounted; ("", "") where the
    mount table cannot be read (not Linux)."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return "", ""
    found = ("", "")
    for line in lines:
        fields, _, described = line.partition(" - ")
        mount = re.sub(r"\\([0-7]{3})", lambda code: chr(int(code[1], 8)), fields.split()[4])  # a space is \040
        if (folder == Path(mount) or Path(mount) in folder.parents) and len(mount) >= len(found[1]):
            found = (described.split()[0], mount)  # the last of several mounts on one place is the one seen
    return found


def name_max(folder: Path) -> int:
    """The longest file name, in bytes, that the filesystem of ``folder`` takes."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


@contextmanager
def written_whole(output: Path) -> Iterator[Path]:
    """A temporary file beside ``output`` to write; moved onto ``output`` when the block ends well,
    removed in any case, so that a failed write (a full disk) leaves no half-written file. Such a
    failure is a ``WriteError``: one line and exit status 1."""
    try:
        with _temporary(output) as temporary:
            yield temporary
            publish(temporary, output)
    except OSError as error:
        raise WriteError(f"could not write {output}: {error.strerror or error}") from None


@contextmanager
def _temporary(output: Path) -> Iterator[Path]:
    handle, temporary = tempfile.mkstemp(dir=Path(output).parent, prefix=f".{output.name[:SHOWN_NAME]}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
    finally:
        Path(temporary).unlink(missing_ok=True)


def publish(temporary: Path | str, output: Path) -> None:
    """Moves a finished temporary file to ``output``, with the permissions a plain ``open()`` would
    have given it (``mkstemp`` makes files only their owner can read)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    os.replace(temporary, output)
