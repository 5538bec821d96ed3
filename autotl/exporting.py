"""A logged model as one deployable file, ONNX (torch's dynamo exporter, run by onnxruntime) or
TorchScript (traced), that maps preprocessed inputs to class probabilities, the temperature
included. The file carries what a deployment needs beside it (the class names, the
preprocessing) as JSON metadata under ``autotl``: ONNX metadata, or TorchScript's
``autotl.json`` extra file. Before it is kept, the exported file is run by its own runtime on an
example batch and must give the probabilities that the model gives ``autotl predict``, to
``TOLERANCE``.
"""

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from autotl.errors import AutotlError, WriteError
from autotl.files import written_whole
from autotl.logged_model import AutotlModel

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4
EXAMPLE_TEXTS = ["An example text.", "A second, somewhat longer example text to pad the first one against."]


class ImageProbabilities(nn.Module):
    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classifier(pixels), dim=-1)


class TextProbabilities(nn.Module):
    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            batch["token_type_ids"] = token_type_ids
        return torch.softmax(self.classifier(batch), dim=-1)


@dataclass(frozen=True)
class Exported:
    path: Path
    inputs: list[str]
    largest_difference: float
    """The largest difference between the file's probabilities and the model's, on the check batch."""


def export(model: AutotlModel, form: str, output: Path) -> Exported:
    """Writes ``model`` to ``output`` in format ``form``, whole or not at all, once it is checked."""
    if model.classical is not None:
        raise AutotlError("the classical baseline is not a neural network; its arrays are in the logged bundle")
    if model.ensemble is not None:
        raise AutotlError(
            "an ensemble is not exported as one file: export its members one by one (the member-N folders of its "
            "bundle are model folders that --model takes) and average their probabilities with the weights in its "
            "autotl_model.json"
        )
    classifier = model.classifier.eval()
    preprocess = classifier.backbone.preprocessor
    image = model.modality == "image"
    module = (ImageProbabilities if image else TextProbabilities)(classifier).eval()
    inputs = (
        {"pixels": torch.randn(2, 3, preprocess.size, preprocess.size)} if image else dict(preprocess(EXAMPLE_TEXTS))
    )
    metadata = json.dumps(_metadata(model, list(inputs)))
    with written_whole(output) as temporary:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporters' and TorchScript's deprecation and shape notes
            (_onnx if form == "onnx" else _torchscript)(module, inputs, temporary, metadata)
            expected = module(**inputs).numpy()
            difference = float(np.abs(_run(form, temporary, inputs) - expected).max())
        if difference > TOLERANCE:
            raise WriteError(
                f"the exported {form} file gives probabilities {difference:.2g} away from the model's, over "
                f"{TOLERANCE:g}; {output} was not written (please report this model's source)"
            )
    return Exported(output, list(inputs), difference)


def _metadata(model: AutotlModel, inputs: list[str]) -> dict:
    preprocess = model.classifier.backbone.preprocessor
    if model.modality == "image":
        preprocessing = {
            "resize": preprocess.resize,
            "center_crop": preprocess.size,
            "scale": "pixels / 255",
            "mean": preprocess.mean,
            "std": preprocess.std,
            "layout": "NCHW, RGB",
        }
    else:
        preprocessing = {"tokenizer": "the preprocess/ folder of the logged model's bundle", "inputs": inputs}
    return {
        "classes": list(model.classes),
        "inputs": inputs,
        "output": "probabilities, one column per class",
        "preprocessing": preprocessing,
        "temperature": model.classifier.temperature,
    }


def _dynamic(inputs: dict[str, torch.Tensor]) -> dict[str, dict[int, object]]:
    batch = torch.export.Dim("batch")
    if "pixels" in inputs:
        return {"pixels": {0: batch}}
    tokens = torch.export.Dim("tokens")
    return {name: {0: batch, 1: tokens} for name in inputs}


def _onnx(module: nn.Module, inputs: dict[str, torch.Tensor], path: Path, metadata: str) -> None:
    try:
        program = torch.onnx.export(
            module, (), kwargs=inputs, dynamic_shapes=_dynamic(inputs), dynamo=True, verbose=False
        )
    except ImportError as error:
        raise AutotlError(f"--format onnx needs onnx and onnxscript: pip install 'autotl[export]' ({error})") from None
    program.model.metadata_props["autotl"] = metadata
    program.save(str(path))


def _torchscript(module: nn.Module, inputs: dict[str, torch.Tensor], path: Path, metadata: str) -> None:
    traced = torch.jit.trace(module, example_kwarg_inputs=inputs, strict=False)
    torch.jit.save(traced, str(path), _extra_files={"autotl.json": metadata})


def _run(form: str, path: Path, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """The exported file's probabilities, computed by its own runtime."""
    if form == "torchscript":
        with torch.no_grad():
            return torch.jit.load(str(path))(**inputs).numpy()
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # else its import writes a device id under ~/.cache
    try:
        import onnxruntime
    except ImportError:
        raise AutotlError("--format onnx is checked with onnxruntime: pip install 'autotl[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})[0]
