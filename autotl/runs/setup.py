"""Preparing a run: what ``train``, ``select`` and a worker all start from (the registry, the
data, the candidates, the device, the metric), and the checks of their shared options that are
usage errors before any work starts."""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import sqlalchemy
import torch
from sqlalchemy.engine import make_url

from autotl import tracking
from autotl.contracts.capabilities import Capability
from autotl.contracts.data import Dataset, IntakeOptions
from autotl.contracts.options import AUTO_METRIC, RunOptions, remote_code_allowed
from autotl.data import within
from autotl.data.intake import read_dataset
from autotl.data.profile import IMBALANCED, imbalance_ratio
from autotl.errors import AutotlError
from autotl.plugins import build_registry
from autotl.progress import lines
from autotl.registry import Candidate, LeftOut, Registry, transferring
from autotl.training.device import keep_freed_memory, resolve_device
from autotl.training.features import FeatureCache
from autotl.training.metrics import METRICS


@dataclass
class Setup:
    registry: Registry
    dataset: Dataset
    candidates: list[Candidate]
    left_out: list[LeftOut]
    device: torch.device
    source_data: Dataset | None = None
    metric: str = "accuracy"
    """``--metric``, with ``auto`` resolved for the data."""


def prepare(
    data,
    options: RunOptions,
    names: dict[str, Sequence[str] | None],
    transfer_only: bool = False,
    progress: Callable[[str], None] = lines,
) -> Setup:
    """What ``train`` and ``select`` both start from; names are checked before the data is read.
    ``transfer_only``: no candidate of a no-transfer baseline strategy (``select`` runs those beside
    its choice), nor any left out."""
    if options.metric not in (AUTO_METRIC, *METRICS):
        raise AutotlError(f"--metric {options.metric!r} is not known: choose from {', '.join((AUTO_METRIC, *METRICS))}")
    registry = build_registry()
    chosen = {kind: registry.pick(kind, value) for kind, value in names.items()}
    if transfer_only:
        chosen["strategies"] = transferring(chosen["strategies"])
    target = resolve_device(options.device)
    keep_freed_memory()
    dataset = read_dataset(data, options.intake, registry.items("data_formats"))
    source = read_source_data(options.source_data, options.intake, registry, dataset.modality)
    given = frozenset({Capability.SOURCE_TASK}) if source else frozenset()
    candidates, left_out = registry.candidates(dataset.modality, **chosen, given=given)
    return Setup(
        registry=registry,
        dataset=dataset,
        candidates=candidates,
        left_out=left_out,
        device=target,
        source_data=source,
        metric=resolved_metric(options.metric, dataset, progress),
    )


def resolved_metric(given: str, dataset: Dataset, progress: Callable[[str], None]) -> str:
    """``--metric auto``: accuracy, or macro-F1 on imbalanced data, where accuracy rewards
    predicting the large classes; said in one line."""
    if given != AUTO_METRIC:
        return given
    ratio = imbalance_ratio(dataset)
    if ratio <= IMBALANCED:
        return "accuracy"
    progress(
        f"Imbalanced classes (largest / smallest training class {ratio:.1f}, above {IMBALANCED}): judging by "
        "f1_macro; --metric accuracy judges by accuracy"
    )
    return "f1_macro"


def read_source_data(
    path: str | Path | None, intake: IntakeOptions, registry: Registry, modality: str
) -> Dataset | None:
    """``--source-data``: labelled examples of a source task, in the same layouts as the target."""
    if path is None:
        return None
    source = read_dataset(path, intake, registry.items("data_formats"))
    if source.modality != modality:
        raise AutotlError(
            f"--source-data {path}: {source.modality} data, but the target is {modality}: give source examples of "
            "the same kind"
        )
    return source


@contextmanager
def remote_code(options: RunOptions) -> Iterator[None]:
    """``--trust-remote-code`` for this run only."""
    token = remote_code_allowed.set(options.trust_remote_code)
    try:
        yield
    finally:
        remote_code_allowed.reset(token)


def cache_outside(cache_dir: str | Path | None, data: Path) -> FeatureCache:
    """The feature cache, refused inside the data folder, where its files would become examples."""
    cache = FeatureCache(Path(cache_dir) if cache_dir else None)
    if data.is_dir() and within(cache.folder, data):
        raise AutotlError(
            f"the feature cache {cache.folder} would be inside --data {data}; give --cache-dir "
            "(or AUTOTL_CACHE_DIR) outside the data"
        )
    return cache


def checked_study(name: str) -> str:
    """A study name that MLflow filters and file names take as it is."""
    if not re.fullmatch(r"[\w.:-]{1,200}", name):
        raise AutotlError(f"--study {name!r}: use letters, digits and . _ : - only (at most 200)")
    return name


def checked_storage(url: str) -> str:
    """A usage error now, rather than a traceback after the scoring, when the URL or its driver is
    wrong, the server cannot be reached, or what it names is no database."""

    def refused(problem: str, advice: str) -> AutotlError:
        return AutotlError(f"--storage {tracking.masked(repr(url))}: {tracking.masked(problem)}; {advice}")

    try:
        engine = sqlalchemy.create_engine(make_url(url))
    except ValueError:  # make_url's int() of the port, its one ValueError
        raise refused("its port is no number", "give a URL such as postgresql://user:password@host:5432/db") from None
    except (ImportError, sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError) as error:
        raise refused(
            f"SQLAlchemy cannot use it ({error})",
            "give a URL such as postgresql://user:password@host/db with its driver installed (pip install "
            "'psycopg[binary]')",
        ) from None
    try:
        with engine.connect() as connection:  # reached now, before any scoring, rather than after it
            try:
                sqlalchemy.inspect(connection).get_table_names()  # a file that is no database fails here
            except sqlalchemy.exc.SQLAlchemyError as error:
                raise refused(
                    f"cannot read it as a database ({_first_line(error)})",
                    "give a new file or the database of an Optuna study",
                ) from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise refused(
            f"cannot reach it ({_first_line(error)})",
            "check the host, port, user and password, and that the server runs",
        ) from None
    finally:
        engine.dispose()
    return url


def _first_line(error: Exception) -> str:
    """The driver's own message, which SQLAlchemy wraps with the statement and a link."""
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]
