"""A model folder's manifest (``autotl_model.json``), read with each field checked: a damaged or
edited folder is refused in one line that names the file and the field, before any weights are
read, rather than failing later in torch or giving every prediction a confidence of nan."""

import json
import math
from pathlib import Path

from autotl.errors import AutotlError

MANIFEST = "autotl_model.json"
DAMAGED = "the model folder is damaged or was edited: use it as autotl saved it, or log the model again"
_MISSING = object()


def read(folder: Path) -> dict:
    """The manifest of the model in ``folder``, a JSON object."""
    return read_json(folder / MANIFEST)


def read_json(path: Path) -> dict:
    """A JSON object from a file of a model folder."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AutotlError(f"{path}: cannot be read ({error.strerror or error}); {DAMAGED}") from None
    except ValueError as error:  # not JSON, or not UTF-8
        raise AutotlError(f"{path} is not JSON ({error}); {DAMAGED}") from None
    if not isinstance(document, dict):
        raise AutotlError(f"{path} holds a JSON {type(document).__name__}, not an object; {DAMAGED}")
    return document


def refuse(manifest: dict, name: str, folder: Path, expected: str) -> AutotlError:
    """The error for field ``name`` of ``manifest``, the manifest of the model in ``folder`` (or a part of it)."""
    value = manifest.get(name, _MISSING)
    shown = "missing" if value is _MISSING else json.dumps(value, default=str)[:60]
    return AutotlError(f"{folder / MANIFEST}: field {name!r} is {shown}, expected {expected}; {DAMAGED}")


def text(manifest: dict, name: str, folder: Path) -> str:
    value = manifest.get(name)
    if not isinstance(value, str) or not value:
        raise refuse(manifest, name, folder, "a name")
    return value


def classes(manifest: dict, folder: Path) -> tuple[str, ...]:
    """The class names, in the order of the model's outputs: distinct strings, at least one."""
    value = manifest.get("classes")
    if not (isinstance(value, list) and value and all(isinstance(c, str) for c in value)) or len(set(value)) < len(
        value
    ):
        raise refuse(manifest, "classes", folder, "a list of distinct class names")
    return tuple(value)


def whole(manifest: dict, name: str, folder: Path, default: int | None = None, minimum: int = 0) -> int:
    value = manifest.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise refuse(manifest, name, folder, f"a whole number of {minimum} or more")
    return value


def positive(manifest: dict, name: str, folder: Path, default: float | None = None) -> float:
    """A finite number above 0: a temperature of 0, below 0 or nan would make every confidence nan or turn
    the predictions around."""
    value = manifest.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise refuse(manifest, name, folder, "a finite number above 0")
    return float(value)
