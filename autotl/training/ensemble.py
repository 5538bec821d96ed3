"""An ensemble of fitted models: the weighted average of their class probabilities (Caruana et
al. 2004), divided by a temperature when it is calibrated.

Saved as a JSON manifest that names each member's folder and weight; each member is saved in its
folder as it saves itself (weights or arrays, never a pickle). Reading the manifest checks every
name and weight before any member is loaded.
"""

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from autotl.errors import AutotlError
from autotl.training import manifests
from autotl.training.manifests import MANIFEST

KIND = "ensemble"
MEMBER_FOLDER = re.compile(r"member-\d{1,3}")


@dataclass
class Member:
    name: str
    weight: float
    probabilities: Callable[[list[str]], np.ndarray]
    save: Callable[[Path], Path] | None = None
    """How it writes itself into a folder (None for a member that was loaded)."""


@dataclass
class EnsembleModel:
    members: list[Member]
    classes: tuple[str, ...]
    temperature: float = 1.0

    def probabilities(self, inputs: list[str]) -> np.ndarray:
        from autotl.training.calibration import rescaled

        average = sum(member.weight * member.probabilities(inputs) for member in self.members)
        return average if self.temperature == 1.0 else rescaled(average, self.temperature)

    @property
    def description(self) -> str:
        return "ensemble of " + ", ".join(f"{m.name} x{m.weight:.2f}" for m in self.members)

    def save(self, folder: Path) -> Path:
        from autotl import __version__

        folder.mkdir(parents=True, exist_ok=True)
        listed = []
        for i, member in enumerate(self.members):
            member.save(folder / f"member-{i}")
            listed.append({"name": member.name, "weight": member.weight, "folder": f"member-{i}"})
        manifest = {
            "kind": KIND,
            "classes": list(self.classes),
            "temperature": self.temperature,
            "members": listed,
            "autotl_version": __version__,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return folder


def listed_members(folder: Path) -> tuple[tuple[str, ...], float, list[tuple[str, float, Path]]]:
    """The classes, the temperature and each member's name, weight and folder, checked: folders
    named ``member-N`` inside ``folder``, finite weights from 0 to 1 summing to 1."""
    manifest = manifests.read(folder)
    classes = manifests.classes(manifest, folder)
    temperature = manifests.positive(manifest, "temperature", folder, default=1.0)
    try:
        members = [(str(m["name"]), float(m["weight"]), str(m["folder"])) for m in manifest["members"]]
    except (KeyError, TypeError, ValueError):
        raise manifests.refuse(manifest, "members", folder, "a list of each member's name, weight and folder") from None
    weights = [weight for _, weight, _ in members]
    if not members or not all(math.isfinite(w) and 0 <= w <= 1 for w in weights) or abs(sum(weights) - 1) > 1e-6:
        raise AutotlError(f"{folder}: an ensemble's weights must be from 0 to 1 and sum to 1, not {weights}")
    for _, _, name in members:
        if not MEMBER_FOLDER.fullmatch(name) or not (folder / name).is_dir():
            raise AutotlError(f"{folder}: ensemble member folder {name!r} is not a member-N folder inside it")
    return classes, temperature, [(name, weight, folder / sub) for name, weight, sub in members]
