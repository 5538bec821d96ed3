"""A source backbone with a new head for the target classes, and how it is saved and restored."""

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autotl import __version__
from autotl.contracts.sources import Source
from autotl.training.backbone import Backbone, ImagePreprocessor, move_batch
from autotl.training.device import inference_batch_size

MANIFEST = "autotl_model.json"


class Classifier(nn.Module):
    """``hidden``: 0 for a linear head, else the width of a one-hidden-layer MLP head.
    ``temperature`` divides the logits (``training.calibration``); 1 until a model is calibrated."""

    def __init__(self, backbone: Backbone, num_classes: int, hidden: int = 0):
        super().__init__()
        self.backbone = backbone
        self.hidden = hidden
        self.temperature = 1.0
        if hidden:
            self.head = nn.Sequential(
                nn.Linear(backbone.feature_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, num_classes)
            )
        else:
            self.head = nn.Linear(backbone.feature_dim, num_classes)

    def forward(self, batch) -> torch.Tensor:
        logits = self.head(self.backbone(batch))
        return logits if self.temperature == 1.0 else logits / self.temperature


@torch.no_grad()
def outputs(model: nn.Module, inputs: list[str], preprocess, device: torch.device, batch_size: int = 64) -> np.ndarray:
    """What ``model`` gives for raw inputs (image paths or texts), in order: logits from a
    classifier, features from a backbone."""
    model.eval().to(device)
    batch_size = inference_batch_size(device, batch_size)
    chunks = []
    for start in range(0, len(inputs), batch_size):
        batch = move_batch(preprocess(inputs[start : start + batch_size]), device)
        chunks.append(model(batch).float().cpu().numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0))


def predict_proba(
    model: nn.Module, inputs: list[str], preprocess, device: torch.device, batch_size: int = 64
) -> np.ndarray:
    """Class probabilities for raw inputs (image paths or texts), in order."""
    from scipy.special import softmax

    logits = outputs(model, inputs, preprocess, device, batch_size)
    return softmax(logits, axis=1) if len(logits) else logits


def save(classifier: Classifier, source: Source, classes: tuple[str, ...], trained_with: dict, folder: Path) -> Path:
    """Writes weights, labels and preprocessing: everything ``load`` needs; and, for whoever reads
    the manifest, the settings it was trained with (``TrainingJob.record``: its augmentation, for
    one, which prediction never applies)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "source": source.name,
        "classes": list(classes),
        "hidden": classifier.hidden,
        "temperature": classifier.temperature,
        "trained_with": trained_with,
        "autotl_version": __version__,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
    torch.save(classifier.state_dict(), folder / "weights.pt")
    classifier.backbone.preprocessor.save(folder / "preprocess")
    return folder


def load(folder: Path, sources: dict[str, Source]) -> tuple[Classifier, tuple[str, ...]]:
    """Rebuilds a saved classifier; the source's pretrained weights are not read."""
    manifest = json.loads((folder / MANIFEST).read_text())
    source = sources[manifest["source"]]
    backbone = source.load(pretrained=False, folder=folder / "preprocess")
    settings = folder / "preprocess" / "image_preprocessor.json"
    if settings.is_file():
        backbone.preprocessor = ImagePreprocessor(**json.loads(settings.read_text()))
    classes = tuple(manifest["classes"])
    classifier = Classifier(backbone, len(classes), manifest.get("hidden", 0))
    classifier.temperature = manifest.get("temperature", 1.0)
    classifier.load_state_dict(torch.load(folder / "weights.pt", map_location="cpu", weights_only=True))
    return classifier.eval(), classes
