"""The logged model as an MLflow pyfunc: ``mlflow.pyfunc.load_model(uri).predict(inputs)``.

Inputs are a DataFrame with an ``input`` column (image paths or texts), or a
list of them; the output has ``prediction`` and ``confidence`` columns.
"""

import warnings
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from autotl.errors import AutotlError


# MLflow asks for type hints on predict, to validate inputs; these inputs are paths or texts of any form.
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method", category=UserWarning)


class AutotlModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.load(Path(context.artifacts["bundle"]))

    def load(self, folder: Path) -> "AutotlModel":
        import torch

        from autotl.plugins import build_registry
        from autotl.training import classifier

        sources = {source.name: source for source in build_registry().items("sources")}
        self.classifier, self.classes = classifier.load(folder, sources)
        self.device = torch.device("cpu")
        return self

    def probabilities(self, inputs: list[str], batch_size: int = 64) -> np.ndarray:
        from autotl.training.classifier import predict_proba

        return predict_proba(self.classifier, inputs, self.classifier.backbone.preprocessor, self.device, batch_size)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        inputs = list(model_input["input"]) if isinstance(model_input, pd.DataFrame) else list(model_input)
        probabilities = self.probabilities([str(i) for i in inputs])
        return pd.DataFrame(
            {"prediction": [self.classes[i] for i in probabilities.argmax(1)], "confidence": probabilities.max(1)}
        )


def load(uri: str) -> AutotlModel:
    """A logged model from ``runs:/...``, ``models:/...``, an MLflow model folder or a saved bundle folder."""
    from autotl.training.classifier import MANIFEST

    path = Path(uri).expanduser()
    if (path / MANIFEST).is_file():
        return AutotlModel().load(path)
    try:
        return mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except mlflow.exceptions.MlflowException as error:
        raise AutotlError(f"cannot load model {uri}: {error.message.splitlines()[0]}") from None
    except OSError as error:
        raise AutotlError(f"cannot load model {uri}: {error}") from None
