"""The logged model, loaded from installed code: by ``autotl predict``, by ``autotl.load`` and, as
an MLflow pyfunc whose loader module this is, by ``mlflow.pyfunc.load_model(uri).predict(inputs)``
and ``mlflow models serve``.

Inputs are images' bytes (raw, or in base64 as JSON carries them) or texts: a list, or a one-column
DataFrame. The output is a DataFrame with a ``prediction`` and a ``confidence`` per input. A
request's image path is read only under the folder that ``AUTOTL_SERVE_ROOT`` names when the
pyfunc loads (``image_files.image_input``). The model folder holds a JSON manifest and weights (or
arrays) and no pickle: MLflow imports this module and calls ``_load_pyfunc``.
"""

import shutil
import tempfile
import weakref
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from autotl.errors import AutotlError

URI_SCHEMES = ("runs:/", "models:/")


class AutotlModel:
    serve_root: Path | None = None
    """The folder whose image files a request may name (``AUTOTL_SERVE_ROOT``); None: images as bytes only."""
    _copy: weakref.finalize | None = None

    def load(self, folder: Path) -> "AutotlModel":
        """A fine-tuned classifier rebuilt from its source's code, the classical baseline, or an
        ensemble of those, as the manifest's ``kind`` says."""
        from autotl.training import classical, ensemble, manifests

        self.classical = self.classifier = self.ensemble = None
        manifest = manifests.read(folder)
        kind = manifest.get("kind")
        if kind == ensemble.KIND:
            self.classes, temperature, listed = ensemble.listed_members(folder)
            self.members = [_member(path, name, self.classes) for name, _, path in listed]
            members = [
                ensemble.Member(name, weight, m.probabilities) for (name, weight, _), m in zip(listed, self.members)
            ]
            self.ensemble = ensemble.EnsembleModel(members, self.classes, temperature)
            if len({m.modality for m in self.members}) > 1:
                raise AutotlError(f"{folder}: an ensemble's members must all take images or all take texts")
            return self
        if kind == "classical":
            self.classical = classical.load(folder)
            self.classes = self.classical.classes
            return self
        if kind is not None:
            raise manifests.refuse(manifest, "kind", folder, "ensemble, classical or none")
        import torch

        from autotl.plugins import build_registry
        from autotl.training import classifier

        sources = {source.name: source for source in build_registry().items("sources")}
        self.classifier, self.classes = classifier.load(folder, sources)
        self.device = torch.device("cpu")
        return self

    def remove_when_done(self, copy: Path) -> None:
        """``copy``, a temporary folder this model was loaded from, is removed by ``close`` or when the
        model is collected or the process ends, whichever comes first: a plugin's source may read
        its files after loading."""
        self._copy = weakref.finalize(self, shutil.rmtree, copy, ignore_errors=True)

    def close(self) -> None:
        """Removes the temporary copy of a ``runs:/`` or ``models:/`` model now."""
        if self._copy is not None:
            self._copy()

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

    def predict_proba(self, model_input) -> pd.DataFrame:
        """A column of probabilities per class, a row per input (as ``predict`` takes them)."""
        from autotl.data.image_files import image_input

        inputs = values(model_input)
        if self.modality == "image":
            inputs = [image_input(value, self.serve_root, f"input {i}") for i, value in enumerate(inputs, 1)]
        probabilities = self.probabilities(inputs).reshape(len(inputs), len(self.classes))
        return pd.DataFrame(probabilities, columns=list(self.classes))

    def predict(self, model_input, params=None) -> pd.DataFrame:
        """MLflow's pyfunc interface: a list of inputs, or a DataFrame whose first column holds them.
        An image model takes images' bytes, raw or in base64 (what a request to ``mlflow models
        serve`` carries), and file paths only under ``serve_root``."""
        probabilities = self.predict_proba(model_input)
        return pd.DataFrame({"prediction": probabilities.idxmax(axis=1), "confidence": probabilities.max(axis=1)})


def values(model_input) -> list:
    """The inputs of a list, or of a DataFrame's first column."""
    return list(model_input.iloc[:, 0]) if isinstance(model_input, pd.DataFrame) else list(model_input)


def _member(folder: Path, name: str, classes: tuple[str, ...]) -> AutotlModel:
    """One member of an ensemble, loaded like any model; one that cannot be read (corrupt, a
    pickle where weights belong, another ensemble, other classes) is refused by name."""
    from autotl.training import ensemble, manifests

    if manifests.read(folder).get("kind") == ensemble.KIND:
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
    """What ``mlflow.pyfunc.load_model`` (and so ``mlflow models serve``) calls with the logged
    bundle's local folder; ``AUTOTL_SERVE_ROOT`` is read now, once."""
    from autotl.data.image_files import serve_root

    model = AutotlModel().load(Path(path))
    model.serve_root = serve_root()
    return model


def load(uri: str) -> AutotlModel:
    """A logged model from ``runs:/...``, ``models:/...``, an MLflow model folder or a saved bundle
    folder, rebuilt by the installed autotl from the bundle's manifest and weights (or arrays).
    Nothing is unpickled, not even the ``python_model.pkl`` of a model logged before autotl
    stopped writing one: a tampered model runs no code. A ``runs:/`` or ``models:/`` model is
    copied into a temporary folder of autotl's own, which ``AutotlModel.close`` removes (or
    collection, or the end of the process)."""
    from autotl.training.manifests import MANIFEST

    path = Path(uri).expanduser()
    if (path / MANIFEST).is_file():
        return AutotlModel().load(path)
    if path.is_dir():
        return AutotlModel().load(bundle_of(path, uri))
    if not uri.startswith(URI_SCHEMES):
        raise AutotlError(f"--model {uri}: give runs:/<run id>/model, models:/<name>/<version> or a local model folder")
    copy = Path(tempfile.mkdtemp(prefix="autotl-model-"))
    try:
        model = _downloaded(uri, copy)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise
    model.remove_when_done(copy)
    return model


def _downloaded(uri: str, copy: Path) -> AutotlModel:
    """The model at ``uri``, downloaded into ``copy``; an error names the URI, not the copy."""
    try:
        folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(copy))).resolve()
    except mlflow.exceptions.MlflowException as error:
        raise AutotlError(f"cannot load model {uri}: {error.message.splitlines()[0]}") from None
    except OSError as error:
        raise AutotlError(f"cannot load model {uri}: {error}") from None
    try:
        return AutotlModel().load(bundle_of(folder, uri))
    except AutotlError as error:
        raise AutotlError(str(error).replace(str(folder), uri)) from None


def bundle_of(folder: Path, uri: str) -> Path:
    """The bundle inside an MLflow model folder, as its ``MLmodel`` file names it (read as plain YAML)."""
    import yaml

    from autotl.training.manifests import MANIFEST

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
