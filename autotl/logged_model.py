"""The logged model as an MLflow pyfunc: ``mlflow.pyfunc.load_model(uri).predict(inputs)``.

Inputs are image paths or texts: a list, or a one-column DataFrame. The output
is one :class:`Prediction` per input.
"""

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pydantic

from autotl.errors import AutotlError


class Prediction(pydantic.BaseModel):
    prediction: str
    confidence: float


class AutotlModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.load(Path(context.artifacts["bundle"]))

    def load(self, folder: Path) -> "AutotlModel":
        """A fine-tuned classifier rebuilt from its source's code, or the classical baseline."""
        from autotl import classical

        if classical.is_classical(folder):
            self.classical = classical.load(folder)
            self.classes = self.classical.classes
            return self
        import torch

        from autotl.plugins import build_registry
        from autotl.training import classifier

        sources = {source.name: source for source in build_registry().items("sources")}
        self.classifier, self.classes = classifier.load(folder, sources)
        self.classical = None
        self.device = torch.device("cpu")
        return self

    def probabilities(self, inputs: list[str], batch_size: int = 64) -> np.ndarray:
        if self.classical is not None:
            return self.classical.probabilities(inputs)
        from autotl.training.classifier import predict_proba

        return predict_proba(self.classifier, inputs, self.classifier.backbone.preprocessor, self.device, batch_size)

    def predict(self, context, model_input: list[str], params=None) -> list[Prediction]:
        probabilities = self.probabilities(list(model_input))
        return [
            Prediction(prediction=self.classes[row.argmax()], confidence=float(row.max())) for row in probabilities
        ]


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
