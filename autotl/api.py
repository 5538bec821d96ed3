"""The Python API, for notebooks: ``select``, ``train`` and ``load``, and what they return. Each is
the notebook form of its command and returns a :class:`~autotl.predictor.Predictor`; the runs
themselves live in :mod:`autotl.runs`."""

import time
from dataclasses import fields
from typing import Any, Callable, Mapping, Sequence

from autotl.contracts.options import AUTO_METRIC, DEFAULT_BUDGET, SelectOptions, TrainOptions
from autotl.data.frames import Data
from autotl.predictor import Evaluation, Predictor, load
from autotl.progress import lines
from autotl.runs.result import Result
from autotl.runs.select import select_with
from autotl.runs.train import train_with

__all__ = ["Evaluation", "Predictor", "Result", "load", "select", "train"]


def select(
    data: Data,
    budget: str | float = DEFAULT_BUDGET,
    *,
    models: Sequence[str] | None = None,
    strategies: Sequence[str] | None = None,
    regularizers: Sequence[str] | None = None,
    metric: str = AUTO_METRIC,
    seed: int = 0,
    device: str = "auto",
    cv: int = 0,
    tracking_uri: str | None = None,
    experiment: str = "autotl",
    text_column: str = "text",
    label_column: str = "label",
    skip_bad_files: bool = False,
    cache_dir: str | None = None,
    source_data: str | None = None,
    storage: str | None = None,
    study: str | None = None,
    gpus: Sequence[int] | None = None,
    register: str | None = None,
    trust_remote_code: bool = False,
    progress: Callable[[str], None] = lines,
    clock: Callable[[], float] = time.monotonic,
) -> Predictor:
    """Chooses the source model, transfer strategy and regularizer for ``data`` within ``budget``,
    as ``autotl select`` does, and returns the chosen model as a predictor.

    data: a folder of images (a sub-folder per class), a .csv/.tsv/.jsonl file, a pandas DataFrame
        (a text column, or an ``image`` column of paths, and a label column), a dict of such
        columns, or a pair ``(inputs, labels)``.
    budget: the wall time of the whole call: ``"90s"``, ``"15m"``, ``"2h"`` or seconds (``"15m"``).
    models, strategies, regularizers: names to choose from (None: every registered one; see
        ``autotl models`` and ``autotl plugins``).
    metric: ``"accuracy"``, ``"f1_macro"`` or ``"auto"`` (f1_macro on imbalanced classes).
    seed: the splits', the search's and training's seed (0).
    device: ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    cv: judge every trial by K folds of train+val (0: as the data's size calls for).
    tracking_uri: the MLflow store (None: MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db).
    experiment: the MLflow experiment (``"autotl"``).
    text_column, label_column: the columns of text data (``"text"``, ``"label"``).
    skip_bad_files: leave out unreadable files and empty rows, with a warning (False: stop).
    cache_dir: the feature cache (None: AUTOTL_CACHE_DIR, else ~/.cache/autotl/features).
    source_data: labelled examples of a source task, for the multitask strategy (None).
    storage, study: the Optuna storage URL and study name (None: beside the tracking store; a new
        study per call), for resuming or sharing a search with ``autotl worker`` processes.
    gpus: CUDA devices: this call works on the first, a worker on each other (None).
    register: also put the model in the MLflow model registry under this name (None).
    trust_remote_code: let Hugging Face models run code from their repository (False).
    progress: where progress lines go (stderr).
    """
    options = _options(SelectOptions, locals())
    return _predictor(select_with(data, options, progress, clock))


def train(
    data: Data,
    model: str,
    strategy: str,
    regularizer: str = "none",
    settings: Mapping[str, str] | None = None,
    *,
    metric: str = AUTO_METRIC,
    seed: int = 0,
    device: str = "auto",
    tracking_uri: str | None = None,
    experiment: str = "autotl",
    text_column: str = "text",
    label_column: str = "label",
    skip_bad_files: bool = False,
    cache_dir: str | None = None,
    source_data: str | None = None,
    register: str | None = None,
    trust_remote_code: bool = False,
    progress: Callable[[str], None] = lines,
) -> Predictor:
    """Fine-tunes one source ``model`` with one ``strategy`` and ``regularizer``, as ``autotl
    train`` does, and returns the model as a predictor.

    data: as :func:`select` takes it.
    settings: ``--set``'s key=value pairs (None: the strategy's own defaults, which ``autotl
        plugins`` lists).
    The other options are :func:`select`'s, with the same defaults.
    """
    options = _options(TrainOptions, locals() | {"settings": dict(settings or {})})
    return _predictor(train_with(data, options, progress))


def _options(kind: type, given: dict[str, Any]):
    """The run's options from the keywords of the same names."""
    return kind(**{f.name: given[f.name] for f in fields(kind) if f.name in given})


def _predictor(result: Result) -> Predictor:
    return Predictor.from_result(result, result.tracking_uri)
