"""What plugins implement and receive: the base classes and records of sources, strategies,
regularizers, scorers and data formats, their settings and capabilities, and the hooks that
register them. Nothing here imports training, selection or tracking, or a heavy library, so a
plugin can subclass these at registration time for free."""

from autotl.contracts.capabilities import Capability, Needs, needs
from autotl.contracts.data import SPLITS, DataFormat, Dataset, Example, IntakeOptions, LoadedData
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.scorers import FunctionScorer, Scorer, ScoringInputs
from autotl.contracts.settings import Setting, TrainParams
from autotl.contracts.sources import Availability, Modality, Source, SourceSpec
from autotl.contracts.strategies import StepCost, Strategy

__all__ = [
    "SPLITS",
    "Availability",
    "Capability",
    "DataFormat",
    "Dataset",
    "Example",
    "FunctionScorer",
    "IntakeOptions",
    "LoadedData",
    "Modality",
    "Needs",
    "Regularizer",
    "Scorer",
    "ScoringInputs",
    "Setting",
    "Source",
    "SourceSpec",
    "StepCost",
    "Strategy",
    "Term",
    "TrainParams",
    "needs",
]
