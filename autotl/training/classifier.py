"""A source backbone with a new head for the target classes, and how it is saved and restored."""

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autotl import __version__
from autotl.contracts.sources import Source
from autotl.errors import AutotlError, listing
from autotl.training import manifests
from autotl.training.backbone import Backbone, ImagePreprocessor, move_batch
from autotl.training.device import inference_batch_size
from autotl.training.manifests import DAMAGED, MANIFEST


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
    """Rebuilds a saved classifier; the source's pretrained weights are not read. Each field of the
    manifest, and the weights against the model it describes, are checked first."""
    manifest = manifests.read(folder)
    name = manifests.text(manifest, "source", folder)
    if name not in sources:
        raise AutotlError(
            f"{folder / MANIFEST}: source {name!r} is not registered here (registered: {listing(sorted(sources))}); "
            "install the plugin that provides it"
        )
    classes = manifests.classes(manifest, folder)
    hidden = manifests.whole(manifest, "hidden", folder, default=0)
    temperature = manifests.positive(manifest, "temperature", folder, default=1.0)
    try:
        backbone = sources[name].load(pretrained=False, folder=folder / "preprocess")
    except (OSError, ValueError) as error:
        raise AutotlError(
            f"{folder / 'preprocess'}: source {name!r} cannot rebuild from it ({error}); {DAMAGED}"
        ) from None
    settings = folder / "preprocess" / "image_preprocessor.json"
    if settings.is_file():
        try:
            backbone.preprocessor = ImagePreprocessor(**manifests.read_json(settings))
        except (TypeError, ValueError) as error:
            raise AutotlError(f"{settings}: not the settings autotl saved ({error}); {DAMAGED}") from None
    classifier = Classifier(backbone, len(classes), hidden)
    classifier.temperature = temperature
    classifier.load_state_dict(_weights(folder, classifier))
    return classifier.eval(), classes


def _weights(folder: Path, classifier: Classifier) -> dict[str, torch.Tensor]:
    """``weights.pt``, tensors only (a pickled object is refused unread), of the names and shapes of
    ``classifier``, the model that the manifest describes."""
    import pickle
    import warnings
    import zipfile

    path = folder / "weights.pt"
    if not zipfile.is_zipfile(path):
        raise AutotlError(f"{path} is missing or not a weights file autotl saved (torch.save's zip); {DAMAGED}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on the pickle protocol of a file it then refuses
            weights = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise AutotlError(
            f"{path} holds Python objects, not only tensors, and autotl never loads those; {DAMAGED}"
        ) from None
    except (OSError, RuntimeError, EOFError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AutotlError(f"{path} is not a weights file autotl saved ({first}); {DAMAGED}") from None
    if not isinstance(weights, dict) or not all(isinstance(tensor, torch.Tensor) for tensor in weights.values()):
        raise AutotlError(f"{path} holds no named tensors; {DAMAGED}")
    expected = classifier.state_dict()
    output = [key for key in expected if key.startswith("head.")][-1]  # the head's last bias: one entry a class
    if output in weights and weights[output].dim() == 1 and len(weights[output]) != len(expected[output]):
        raise AutotlError(
            f"{folder / MANIFEST}: field 'classes' lists {len(expected[output])} classes, and the head in {path} "
            f"predicts {len(weights[output])}; {DAMAGED}"
        )
    wrong = sorted(set(expected) ^ set(weights)) + [
        key for key in expected if key in weights and weights[key].shape != expected[key].shape
    ]
    if wrong:
        raise AutotlError(
            f"{path} does not fit the model that {folder / MANIFEST} describes (its source and 'hidden'): "
            f"{listing(wrong)} missing, extra or of other shapes; {DAMAGED}"
        )
    return weights
