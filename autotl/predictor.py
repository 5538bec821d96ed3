"""``autotl.load(uri)``: a logged model for use in this process, where image paths are the caller's
own to give. The predictor reads the files itself and passes their bytes to the model, whose pyfunc
interface, the one ``mlflow models serve`` answers with, reads no path it is sent unless the
deployment names a folder for them."""

from pathlib import Path

import pandas as pd

from autotl.errors import AutotlError
from autotl.logged_model import URI_SCHEMES, AutotlModel, values
from autotl.logged_model import load as load_model


class Predictor:
    """``predict`` and ``predict_proba`` on a list of inputs (image paths or bytes, or texts) or a
    DataFrame whose first column holds them. Used as a context manager, or closed, it removes the
    temporary copy of a ``runs:/`` or ``models:/`` model at once; else when it is collected."""

    def __init__(self, model: AutotlModel):
        self.model = model

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.model.classes)

    def predict(self, inputs) -> pd.DataFrame:
        """A ``prediction`` and a ``confidence`` per input."""
        return self.model.predict(self._given(inputs))

    def predict_proba(self, inputs) -> pd.DataFrame:
        """A column of probabilities per class, a row per input."""
        return self.model.predict_proba(self._given(inputs))

    def close(self) -> None:
        self.model.close()

    def __enter__(self) -> "Predictor":
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def _given(self, inputs) -> list:
        given = values(inputs)
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
    """The model at ``uri`` (``runs:/...``, ``models:/...`` or a model folder). A ``runs:/`` or
    ``models:/`` URI is looked up in ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
    autotl's default store, as ``autotl predict --tracking-uri`` does."""
    if str(uri).startswith(URI_SCHEMES):
        import mlflow

        from autotl import tracking

        mlflow.set_tracking_uri(tracking.resolve_uri(tracking_uri))
    return Predictor(load_model(str(uri)))
