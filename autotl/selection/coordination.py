"""What a ``select`` tells the workers of its study, through the study itself (Optuna's user
attributes in the shared storage): where the data is and how to read it, which sources it kept
and what it measured of them, the select run to nest trials under, and until when trials may run.
No queue of autotl's own: the storage is the one place every process already reads.
"""

import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from autotl.contracts.data import Dataset
from autotl.contracts.options import SelectOptions

PLAN = "autotl.coordinator"
"""The study's user attribute that holds the coordinator's ``Coordination``."""
DEADLINE = "autotl.trials_end_by"
"""When trials must end (Unix seconds): the coordinator's budget less what it keeps for its closing."""
CLOSED = "autotl.closed"
"""Set when the coordinator's search ends: workers take no more trials."""
SHARED_OPTIONS = (
    "models",
    "strategies",
    "regularizers",
    "metric",
    "seed",
    "cv",
    "experiment",
    "text_column",
    "label_column",
    "skip_bad_files",
    "source_data",
)
"""The options that decide a worker's candidates, splits and trials: the coordinator's. The device,
cache, tracking URI and ``--trust-remote-code`` are each worker's own."""


@dataclass
class Coordination:
    data: str
    """The dataset's absolute path on the coordinator's machine (a worker may be given its own mount of it)."""
    options: dict[str, Any]
    """The ``SelectOptions`` fields that decide the candidates, splits and trials."""
    parent_run_id: str
    """The select run that trial runs nest under."""
    tracking_uri: str
    """Masked: a worker with a password-protected store is given the URI itself."""
    budget_s: float
    kept_sources: list[str]
    """Best first, as the coordinator's scoring kept them."""
    splits: str
    """``splits_digest`` of the coordinator's dataset: a worker must split the same examples the same way."""
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    num_blocks: dict[str, int] = field(default_factory=dict)
    inference_s: dict[str, float] = field(default_factory=dict)
    """Seconds per input to featurize, by source: the cost model's start on a worker."""


def splits_digest(dataset: Dataset) -> str:
    """The examples of each split, by content, in order."""
    digest = hashlib.sha256()
    for split in sorted(dataset.splits):
        for example in dataset.splits[split]:
            digest.update(f"{split}:{example.fingerprint}:{example.label}\n".encode())
    return digest.hexdigest()


def plan_for(dataset: Dataset, options: SelectOptions, **measured: Any) -> Coordination:
    """The coordinator's plan: its data and options, and what it ``measured`` (the fields of ``Coordination``)."""
    shared = {name: getattr(options, name) for name in SHARED_OPTIONS}
    if shared["source_data"] is not None:
        shared["source_data"] = str(shared["source_data"])
    data = os.path.abspath(dataset.path)  # a worker started in another folder finds it; its links kept, as mounted
    return Coordination(data=data, options=shared, splits=splits_digest(dataset), **measured)


def publish(study: optuna.Study, plan: Coordination, deadline: float) -> None:
    """Opens the study to workers (again, when a select resumes it)."""
    study.set_user_attr(PLAN, asdict(plan))
    study.set_user_attr(DEADLINE, deadline)
    study.set_user_attr(CLOSED, False)


def published(study: optuna.Study) -> Coordination | None:
    attrs = study.user_attrs
    return Coordination(**attrs[PLAN]) if PLAN in attrs else None


def set_deadline(study: optuna.Study, seconds_left: float) -> None:
    study.set_user_attr(DEADLINE, time.time() + seconds_left)


def seconds_left(study: optuna.Study) -> float:
    """Until trials must end, by this machine's clock (machines that share a study keep their
    clocks in step, as NTP does; a skew moves the workers' deadline by as much)."""
    return study.user_attrs.get(DEADLINE, 0.0) - time.time()


def close(study: optuna.Study) -> None:
    study.set_user_attr(CLOSED, True)


def is_closed(study: optuna.Study) -> bool:
    return bool(study.user_attrs.get(CLOSED, False))
