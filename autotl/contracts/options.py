"""What one ``select`` or ``train`` is asked to do: the command line's options, built once (by the
CLI, or by the notebook API from its keywords), checked when built, and passed whole to the API and
selection."""

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from autotl.contracts.data import IntakeOptions
from autotl.errors import AutotlError

MAX_SEED = 2**32 - 1
"""numpy's and scikit-learn's seeds are unsigned 32-bit integers."""
DEFAULT_BUDGET = "15m"
AUTO_METRIC = "auto"

remote_code_allowed: ContextVar[bool] = ContextVar("remote_code_allowed", default=False)
"""Whether a model may run code from its own repository (``--trust-remote-code``): set for the
length of one run, so that it neither outlives the run nor reaches another one in the process."""


@dataclass(frozen=True)
class RunOptions:
    """What ``train`` and ``select`` share."""

    metric: str = AUTO_METRIC
    """``auto``: accuracy, or f1_macro on imbalanced data (``autotl.data.profile.IMBALANCED``)."""
    seed: int = 0
    """One seed for the splits, the search and training."""
    device: str = "auto"
    tracking_uri: str | None = None
    experiment: str = "autotl"
    text_column: str = "text"
    label_column: str = "label"
    skip_bad_files: bool = False
    cache_dir: str | Path | None = None
    source_data: str | Path | None = None
    """Labelled examples of a source task, laid out like the target, for strategies that learn it too."""
    register: str | None = None
    """A model registry name to put the final model under."""
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise AutotlError(f"--seed {self.seed}: give a whole number from 0 to {MAX_SEED}")
        if self.text_column == self.label_column:
            raise AutotlError(
                f"--text-column and --label-column are both {self.text_column!r}: a model would learn the label from "
                "itself; name the column that holds the texts"
            )

    @property
    def intake(self) -> IntakeOptions:
        return IntakeOptions(
            text_column=self.text_column,
            label_column=self.label_column,
            skip_bad_files=self.skip_bad_files,
            seed=self.seed,
        )


@dataclass(frozen=True)
class SelectOptions(RunOptions):
    budget: str | float = DEFAULT_BUDGET
    """The wall time of the whole command: ``90s``, ``15m``, ``2h``, or seconds."""
    models: Sequence[str] | None = None
    """Names to choose from; None: every registered one (the same for strategies and regularizers)."""
    strategies: Sequence[str] | None = None
    regularizers: Sequence[str] | None = None
    storage: str | None = None
    """The Optuna storage URL; None: the SQLite file beside the tracking store."""
    study: str | None = None
    """The Optuna study name; None: a new one per run."""
    cv: int = 0
    """Judge every trial by this many folds of train+val; 0: the validation split (probes are
    cross-validated on small data anyway)."""
    gpus: Sequence[int] | None = None
    """CUDA devices to work on: the select itself on the first, an ``autotl worker`` on each other."""

    @property
    def candidate_names(self) -> dict[str, Sequence[str] | None]:
        """The names given for each kind of plugin that candidates are built from."""
        return {"sources": self.models, "strategies": self.strategies, "regularizers": self.regularizers}


@dataclass(frozen=True)
class TrainOptions(RunOptions):
    model: str = ""
    strategy: str = ""
    regularizer: str = "none"
    settings: Mapping[str, str] = field(default_factory=dict)
    """``--set key=value`` pairs: the loop's settings and the strategy's and regularizer's own."""


@dataclass(frozen=True)
class WorkerOptions:
    """What ``autotl worker`` is asked to do: join a study that a ``select`` coordinates."""

    study: str
    storage: str
    tracking_uri: str | None = None
    """None: MLFLOW_TRACKING_URI, else the coordinator's (when it holds no password)."""
    device: str = "auto"
    data: str | Path | None = None
    """The data where this machine sees it; None: the coordinator's path."""
    cache_dir: str | Path | None = None
    wait: str | float = "10m"
    """How long to wait for a select to coordinate the study."""
    trust_remote_code: bool = False
