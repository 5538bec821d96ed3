"""The logged model, loaded from installed code: by ``autotl predict`` and, as an MLflow pyfunc
whose loader module this is, by ``mlflow.pyfunc.load_model(uri).predict(inputs)``.

Inputs are image paths or texts: a list, or a one-column DataFrame. The output is a DataFrame
with a ``prediction`` and a ``confidence`` per input. The model folder holds a JSON manifest and
weights (or arrays) and no pickle: MLflow imports this module and calls ``_load_pyfunc``.
"""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from autotl.errors import AutotlError


class AutotlModel:
    def load(self, folder: Path) -> "AutotlModel":
        """A fine-tuned classifier rebuilt from its source's code, the classical baseline, or an
        ensemble of those."""
        from autotl.training import classical, ensemble

        self.classical = self.classifier = self.ensemble = None
        if ensemble.is_ensemble(folder):
            self.classes, temperature, listed = ensemble.listed_members(folder)
            self.members = [_member(path, name, self.classes) for name, _, path in listed]
            members = [
                ensemble.Member(name, weight, m.probabilities) for (name, weight, _), m in zip(listed, self.members)
            ]
            self.ensemble = ensemble.EnsembleModel(members, self.classes, temperature)
            if len({m.modality for m in self.members}) > 1:
                raise AutotlError(f"{folder}: an ensemble's members must all take images or all take texts")
            return self
        if classical.is_classical(folder):
            self.classical = classical.load(folder)
            self.classes = self.classical.classes
            return self
        import torch

        from autotl.plugins import build_registry
        from autotl.training import classifier

        sources = {source.name: source for source in build_registry().items("sources")}
        self.classifier, self.classes = classifier.load(folder, sources)
        self.device = torch.device("cpu")
        return self

    @property
    def modality(self) -> str:
        """``image`` or ``text``: what the model takes."""
        from autotl.training.classical import RawPixels

        if self.ensemble is not None:
            return self.members[0].modality
        if self.classical is not None:
            return "image" if isinstance(self.classical.representation, RawPixels) else "text"
        from autotl.training.backbone import ImagePreprocessor  # torch: only a fine-tuned model needs it

        return "image" if isinstance(self.classifier.backbone.preprocessor, ImagePreprocessor) else "text"

    def probabilities(self, inputs: list[str], batch_size: int = 64) -> np.ndarray:
        if self.ensemble is not None:
            return self.ensemble.probabilities(inputs)
        if self.classical is not None:
            return self.classical.probabilities(inputs)
        from autotl.training.classifier import predict_proba

        return predict_proba(self.classifier, inputs, self.classifier.backbone.preprocessor, self.device, batch_size)

    def predict(self, model_input, params=None) -> pd.DataFrame:
        """MLflow's pyfunc interface: a list of inputs, or a DataFrame whose first column holds them.
        An image model takes file paths and images' bytes, raw or in base64 (what a request to
        ``mlflow models serve`` carries)."""
        from autotl.data.image_files import image_input

        inputs = list(model_input.iloc[:, 0]) if isinstance(model_input, pd.DataFrame) else list(model_input)
        if self.modality == "image":
            inputs = [image_input(value) for value in inputs]
        probabilities = self.probabilities(inputs)
        return pd.DataFrame(
            {"prediction": [self.classes[i] for i in probabilities.argmax(1)], "confidence": probabilities.max(1)}
        )


def _member(folder: Path, name: str, classes: tuple[str, ...]) -> AutotlModel:
    """One member of an ensemble, loaded like any model; one that cannot be read (corrupt, a
    pickle where weights belong, another ensemble, other classes) is refused by name."""
    from autotl.training import ensemble

    if ensemble.is_ensemble(folder):
        raise AutotlError(f"ensemble member {name!r} ({folder.name}) is itself an ensemble, which autotl never saves")
    try:
        member = AutotlModel().load(folder)
    except AutotlError:
        raise
    except Exception as error:  # a damaged or tampered member names itself, with no traceback
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise AutotlError(
            f"cannot load ensemble member {name!r} ({folder.name}): {type(error).__name__}: {first}"
        ) from None
    if tuple(member.classes) != tuple(classes):
        raise AutotlError(f"ensemble member {name!r} ({folder.name}) predicts other classes than the ensemble")
    return member


def _load_pyfunc(path: str) -> AutotlModel:
    """What ``mlflow.pyfunc.load_model`` calls with the logged bundle's local folder."""
    return AutotlModel().load(Path(path))


def load(uri: str) -> AutotlModel:
    """A logged model from ``runs:/...``, ``models:/...``, an MLflow model folder or a saved bundle
    folder, rebuilt by the installed autotl from the bundle's manifest and weights (or arrays).
    Nothing is unpickled, not even the ``python_model.pkl`` of a model logged before autotl
    stopped writing one: a tampered model runs no code."""
    from autotl.training.classifier import MANIFEST

    path = Path(uri).expanduser()
    if (path / MANIFEST).is_file():
        return AutotlModel().load(path)
    if not (uri.startswith(("runs:/", "models:/")) or path.is_dir()):
        raise AutotlError(f"--model {uri}: give runs:/<run id>/model, models:/<name>/<version> or a local model folder")
    try:
        folder = path if path.is_dir() else Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except mlflow.exceptions.MlflowException as error:
        raise AutotlError(f"cannot load model {uri}: {error.message.splitlines()[0]}") from None
    except OSError as error:
        raise AutotlError(f"cannot load model {uri}: {error}") from None
    return AutotlModel().load(bundle_of(folder, uri))


def bundle_of(folder: Path, uri: str) -> Path:
    """The bundle inside an MLflow model folder, as its ``MLmodel`` file names it (read as plain YAML)."""
    import yaml

    from autotl.training.classifier import MANIFEST

    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise AutotlError(
            f"cannot load model {uri}: {folder} holds no MLmodel file; give the folder of a model autotl logged"
        )
    try:
        flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("python_function", {})
        relative = (
            flavor["data"] if "data" in flavor else flavor["artifacts"]["bundle"]["path"]
        )  # now, or as logged before
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        raise AutotlError(
            f"cannot load model {uri}: it is not a model autotl logged (no bundle in its MLmodel file)"
        ) from None
    bundle = (folder / str(relative)).resolve()
    if folder.resolve() not in bundle.parents or not (bundle / MANIFEST).is_file():
        raise AutotlError(f"cannot load model {uri}: its bundle is missing or lies outside the model folder")
    return bundle
