"""What ``autotl.select`` and ``autotl.train`` return, and ``autotl.load`` gives back: a logged
model for use in this process, with the facts of the run that chose it (``--json``). Image paths
are the caller's own to give here: the predictor reads the files itself and passes their bytes to
the model, whose pyfunc interface, the one ``mlflow models serve`` answers with, reads no path it is
sent unless the deployment names a folder for them."""

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from autotl.data.frames import Data
from autotl.errors import AutotlError, WriteError
from autotl.logged_model import URI_SCHEMES, AutotlModel, values
from autotl.logged_model import load as load_model
from autotl.registry import Names
from autotl.tracking import RESULT_FILE

"""The run's facts, in the model folder that ``save`` writes (and, when logged there, in the run)."""

PREFIXES = {"scores": "score_", "params": "param_"}
"""The leaderboard's nested dicts, flattened into columns named as scikit-learn's ``cv_results_`` names them."""


class Predictor:
    """``predict`` and ``predict_proba`` on inputs (image paths or bytes, or texts: a list, a Series,
    or a DataFrame whose first column holds them), ``evaluate`` on labelled data, the run's
    ``leaderboard()`` and ``result``, and ``save``. The model is loaded on first use. Used as a
    context manager, or closed, it removes the temporary copy of a ``runs:/`` or ``models:/`` model
    at once; else when it is collected."""

    def __init__(self, model_uri: str | Path, facts: Mapping[str, Any] | None = None, tracking_uri: str | None = None):
        self.model_uri = str(model_uri)
        """Where the model is: ``runs:/...``, ``models:/...`` or a model folder."""
        self._facts = dict(facts) if facts is not None else None
        self._tracking_uri = tracking_uri
        self._model: AutotlModel | None = None

    @classmethod
    def from_result(cls, result: Any, tracking_uri: str | None = None) -> "Predictor":
        """The predictor of a run's ``Result`` (or of its ``--json`` facts), its model looked up, when
        first used, in ``tracking_uri``: the store the run logged to."""
        facts = result if isinstance(result, Mapping) else result.to_dict()
        return cls(facts["model_uri"], json.loads(json.dumps(facts, default=str)), tracking_uri)

    @property
    def model(self) -> AutotlModel:
        if self._model is None:
            self._model = load_model(_in_store(self.model_uri, self._tracking_uri))
        return self._model

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.model.classes)

    @property
    def result(self) -> dict[str, Any]:
        """The facts of the run that chose the model, as ``--json`` prints them; empty when the model
        was loaded without them."""
        if self._facts is None:
            self._facts = _facts_of_run(self.model_uri, self._tracking_uri)
        return self._facts

    def __getattr__(self, name: str) -> Any:
        """The run's facts as attributes, named as ``--json`` names them: ``predictor.test_accuracy``,
        ``predictor.source``, ``predictor.decision``."""
        facts = self.result if not name.startswith("_") else {}
        if name in facts:
            return facts[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def predict(self, inputs) -> pd.DataFrame:
        """A ``prediction`` and a ``confidence`` per input; a Series' or DataFrame's index is kept."""
        return _indexed(self.model.predict(self._given(inputs)), inputs)

    def predict_proba(self, inputs) -> pd.DataFrame:
        """A column of probabilities per class, a row per input."""
        return _indexed(self.model.predict_proba(self._given(inputs)), inputs)

    def evaluate(
        self,
        data: Data,
        labels: Sequence | None = None,
        *,
        text_column: str = "text",
        label_column: str = "label",
        skip_bad_files: bool = False,
    ) -> "Evaluation":
        """Accuracy, macro F1, each class's figures and the confusion matrix on labelled ``data``: a
        folder or CSV as ``select`` reads them, a DataFrame, a dict of columns, or the inputs with
        their ``labels``. Every example counts, whichever split a run would have put it in."""
        from autotl.contracts.data import IntakeOptions
        from autotl.data.intake import read_examples
        from autotl.plugins import build_registry

        given = data if labels is None else (data, labels)
        intake = IntakeOptions(text_column=text_column, label_column=label_column, skip_bad_files=skip_bad_files)
        modality, examples = read_examples(given, intake, build_registry().items("data_formats"))
        if modality != self.model.modality:
            raise AutotlError(f"the data holds {modality} inputs, and the model takes {self.model.modality}")
        if any(e.label is None for e in examples):
            raise AutotlError(
                f"evaluate needs a label for every input: give a {label_column!r} column, or one sub-folder per class"
            )
        predicted = self.predict([e.input for e in examples])["prediction"]
        return Evaluation.of([e.label for e in examples], list(predicted), self.classes)

    def leaderboard(self) -> pd.DataFrame:
        """One row per candidate, trial and baseline, best first, as the run ranked them; the
        transferability scores and the settings in ``score_<name>`` and ``param_<name>`` columns."""
        if "leaderboard" not in self.result:
            raise AutotlError(
                f"{self.model_uri} was loaded without the facts of its run: load the folder that save wrote"
            )
        frame = pd.DataFrame([_flat(row) for row in self.result["leaderboard"]])
        group = lambda column: next(  # noqa: E731
            (i for i, prefix in enumerate(PREFIXES.values(), 1) if column.startswith(prefix)), 0
        )
        return frame[sorted(frame.columns, key=group)]

    def save(self, path: str | Path) -> Path:
        """Writes the model folder, an MLflow pyfunc model that ``mlflow.pyfunc.load_model`` and
        ``autotl.load`` take, with the run's facts in it (``autotl-result.json``); into a new or empty
        folder only, whole or not at all."""
        target = Path(path).expanduser()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise AutotlError(f"{target} exists and is not empty: give save a new folder")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
            try:
                folder = self._copy_model(staging)
                (folder / RESULT_FILE).write_text(json.dumps(self.result, indent=2, default=str), encoding="utf-8")
                os.replace(folder, target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as error:
            raise WriteError(f"could not write {target}: {error.strerror or error}") from None
        return target

    def _copy_model(self, staging: Path) -> Path:
        """The model's folder, copied or downloaded into ``staging``."""
        if not self.model_uri.startswith(URI_SCHEMES):
            return Path(shutil.copytree(Path(self.model_uri).expanduser(), staging / "model"))
        import mlflow

        try:
            uri = _in_store(self.model_uri, self._tracking_uri)
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging / "download")))
        except mlflow.exceptions.MlflowException as error:
            raise AutotlError(f"cannot save model {self.model_uri}: {error.message.splitlines()[0]}") from None

    def __repr__(self) -> str:
        facts = self._facts or {}
        chosen = str(Names(*(facts.get(key) or "" for key in ("source", "strategy", "regularizer"))))
        return f"Predictor({self.model_uri}{': ' + chosen if chosen else ''})"

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def _given(self, inputs) -> list:
        """The inputs as a list: one text, path or image's bytes is a list of one."""
        given = [inputs] if isinstance(inputs, (str, bytes, os.PathLike)) else values(inputs)
        if self.model.modality != "image":
            return given
        return [value if isinstance(value, bytes) else _read(value) for value in given]


def _read(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except (OSError, TypeError, ValueError) as error:
        reason = getattr(error, "strerror", None) or error
        raise AutotlError(f"{path}: cannot read this image file ({reason}); give a path or the image's bytes") from None


def load(uri: str | Path, tracking_uri: str | None = None) -> Predictor:
    """The predictor of the model at ``uri``: a folder that ``Predictor.save`` wrote, with the facts
    of its run, or any model folder, ``runs:/...`` or ``models:/...`` URI. A ``runs:/`` or
    ``models:/`` URI is looked up in ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
    autotl's default store, as ``autotl predict --tracking-uri`` does."""
    facts = None if str(uri).startswith(URI_SCHEMES) else _saved_facts(Path(uri).expanduser() / RESULT_FILE)
    predictor = Predictor(uri, facts, tracking_uri)
    predictor.model  # loaded now: a wrong URI or a damaged model is said here
    return predictor


@dataclass(frozen=True, eq=False)
class Evaluation:
    """How a model did on labelled data; ``per_class`` and ``confusion`` are labelled by class (rows
    of the confusion matrix: the true class; columns: the predicted one). A class the model does not
    know counts, with every one of its examples wrong."""

    accuracy: float
    f1_macro: float
    per_class: pd.DataFrame
    """``precision``, ``recall``, ``f1`` and ``support`` (examples) of each class."""
    confusion: pd.DataFrame
    examples: int

    @classmethod
    def of(cls, truth: list[str], predicted: list[str], classes: Sequence[str]) -> "Evaluation":
        from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

        names = [*classes, *sorted(set(truth) - set(classes))]
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, predicted, labels=names, zero_division=0
        )
        figures = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        per_class = pd.DataFrame(figures, index=pd.Index(names, name="class"))
        confusion = pd.DataFrame(
            confusion_matrix(truth, predicted, labels=names),
            index=pd.Index(names, name="true"),
            columns=pd.Index(names, name="predicted"),
        )
        return cls(float(accuracy_score(truth, predicted)), float(f1.mean()), per_class, confusion, len(truth))

    @property
    def headline(self) -> str:
        return f"Accuracy {self.accuracy:.4f}, macro F1 {self.f1_macro:.4f} on {self.examples} examples"

    def __str__(self) -> str:
        return "\n\n".join(
            [
                self.headline,
                self.per_class.to_string(float_format="{:.4f}".format),
                f"Confusion matrix (rows: true class, columns: predicted)\n{self.confusion.to_string()}",
            ]
        )

    def _repr_html_(self) -> str:
        from html import escape

        return (
            f"<p>{escape(self.headline)}</p>{self.per_class.to_html(float_format='{:.4f}'.format)}"
            f"<p>Confusion matrix (rows: true class, columns: predicted)</p>{self.confusion.to_html()}"
        )


def _in_store(uri: str, tracking_uri: str | None) -> str:
    """``uri``, with MLflow pointed at the store where a ``runs:/`` or ``models:/`` URI is found."""
    if uri.startswith(URI_SCHEMES):
        import mlflow

        from autotl import tracking

        mlflow.set_tracking_uri(tracking.resolve_uri(tracking_uri))
    return uri


def _saved_facts(file: Path) -> dict[str, Any] | None:
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, OSError) as error:
        raise AutotlError(f"{file} cannot be read as the facts that save writes ({error})") from None


def _facts_of_run(uri: str, tracking_uri: str | None) -> dict[str, Any]:
    """The facts a run logged beside its model (``runs:/<run id>/...``); empty when it logged none."""
    if not uri.startswith("runs:/"):
        return {}
    import mlflow

    run_id = uri.removeprefix("runs:/").split("/")[0]
    try:
        return mlflow.artifacts.load_dict(_in_store(f"runs:/{run_id}/{RESULT_FILE}", tracking_uri))
    except (mlflow.exceptions.MlflowException, OSError, ValueError):
        return {}


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    """A leaderboard row with its nested dicts spread into prefixed columns (none for a None)."""
    plain = {key: value for key, value in row.items() if key not in PREFIXES and not isinstance(value, Mapping)}
    nested = {
        f"{PREFIXES.get(key, key + '_')}{name}": inner
        for key, value in row.items()
        if isinstance(value, Mapping)
        for name, inner in value.items()
    }
    return plain | nested


def _indexed(frame: pd.DataFrame, inputs) -> pd.DataFrame:
    """``frame`` with the index of ``inputs`` when they are a Series or DataFrame, so that results line up."""
    if isinstance(inputs, (pd.Series, pd.DataFrame)):
        frame.index = inputs.index
    return frame
