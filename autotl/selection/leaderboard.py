"""What the leaderboard holds: one row per candidate, trial or baseline, with its scores, its
result and its uncertainty, and why it was kept, skipped or dropped; and the plain-text table
that the terminal shows and the MLflow run keeps."""

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from autotl.registry import Candidate


class RowState(StrEnum):
    """Where a leaderboard row stands; the values are what ``--json`` and MLflow show."""

    CANDIDATE = "candidate"
    COMPLETE = "complete"
    ENSEMBLE = "ensemble"
    NOT_CHOSEN = "not chosen"
    BASELINE = "baseline"
    PRUNED = "pruned"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNTRIED = "untried"
    DROPPED = "dropped"
    LEFT_OUT = "left out"


@dataclass(frozen=True)
class TrialKey:
    """One setting of the search: a candidate with its learning-rate and epoch scales and its own
    settings' values. A setting is run once per study, whichever process runs it."""

    candidate: str
    lr_scale: float = 1.0
    epochs_scale: float = 1.0
    settings: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> list:
        return [self.candidate, self.lr_scale, self.epochs_scale, [list(item) for item in self.settings]]

    @classmethod
    def from_json(cls, value: list) -> "TrialKey":
        label, lr_scale, epochs_scale, settings = value
        return cls(label, lr_scale, epochs_scale, tuple(tuple(item) for item in settings))


@dataclass
class Row:
    """One leaderboard line: a candidate with its source's scores, a trial with its result, or a baseline."""

    candidate: str
    source: str
    strategy: str
    regularizer: str
    scores: dict[str, float] = field(default_factory=dict)
    trial: int | None = None
    params: dict[str, Any] | None = None
    predicted_s: float | None = None
    seconds: float | None = None
    val_metric: float | None = None
    val_se: float | None = None
    """The standard error of ``val_metric``: over folds, or binomial on a single validation split."""
    folds: int = 1
    state: RowState = RowState.CANDIDATE
    reason: str = ""
    run_id: str | None = None
    predictions: list[list[float]] | None = None
    """Its class probabilities on the examples every contender is judged on (out of fold, in the
    order of :class:`.folds.OnFooting`), when it ran on all of them: what the final decision compares.
    They travel with the row through the study to other processes; the leaderboard leaves them out."""
    footing: str = ""
    """The digest of the examples ``predictions`` are on (:attr:`.folds.OnFooting.digest`)."""

    def __post_init__(self) -> None:
        self.state = RowState(self.state)  # a row read back from the study holds the plain string


def row_for(candidate: Candidate, scores: dict[str, dict[str, float]], **fields: Any) -> Row:
    """The row of ``candidate``, with its source's transferability scores."""
    return Row(
        candidate.label,
        candidate.source.name,
        candidate.strategy.name,
        candidate.regularizer.name,
        scores.get(candidate.source.name, {}),
        **fields,
    )


ORDER = {
    RowState.ENSEMBLE: 0,
    RowState.COMPLETE: 0,
    RowState.NOT_CHOSEN: 1,
    RowState.BASELINE: 1,
    RowState.PRUNED: 2,
    RowState.FAILED: 3,
    RowState.SKIPPED: 4,
    RowState.UNTRIED: 5,
    RowState.DROPPED: 6,
}


def leaderboard(rows: list[Row]) -> list[dict[str, Any]]:
    ranked = sorted(rows, key=lambda r: (ORDER.get(r.state, 7), -(r.val_metric or -1), r.trial or 0))
    return [{k: v for k, v in asdict(r).items() if k not in ("predictions", "footing")} for r in ranked]


def format_scores(scores: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.3g}" for name, value in scores.items())


def format_result(value: float | None, se: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if se is None else f"{value:.4f} ± {se:.4f}"


def format_leaderboard(rows: list[dict[str, Any]], metric: str) -> str:
    """A plain-text table: the terminal shows it and the MLflow run keeps it."""
    header = ("#", "candidate", "scores", "lr", "best epoch", "predicted", "took", f"val {metric} ± se", "state / why")
    lines = []
    for row in rows:
        params = row["params"] or {}
        lines.append(
            (
                "" if row["trial"] is None else str(row["trial"]),
                row["candidate"],
                format_scores(row["scores"]),
                f"{params['lr']:.2g}" if "lr" in params else "",
                f"{params['best_epoch']} of {params['epochs']}" if {"best_epoch", "epochs"} <= set(params) else "",
                "" if row["predicted_s"] is None else f"{row['predicted_s']:.0f}s",
                "" if row["seconds"] is None else f"{row['seconds']:.0f}s",
                format_result(row["val_metric"], row["val_se"])
                + (f" ({row['folds']} folds)" if row["folds"] > 1 else ""),
                row["state"] + (f": {row['reason']}" if row["reason"] else ""),
            )
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    render = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths]), *map(render, lines)])
