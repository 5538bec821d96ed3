"""What a ``select`` or ``train`` run returns: the same facts as the CLI's ``--json``."""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Result:
    source: str | None
    """None when the classical no-transfer baseline won (``strategy`` is then ``classical``)."""
    strategy: str
    regularizer: str | None
    params: dict[str, Any]
    metric: str
    val_metric: float
    test_metric: float
    test_accuracy: float
    run_id: str
    model_uri: str
    elapsed_s: float
    train_command: str
    best_epoch: int
    baseline_test_accuracy: float | None = None
    """The best test accuracy among the no-transfer baselines that trained."""
    baselines: list[dict[str, Any]] = field(default_factory=list)
    """Each no-transfer baseline's name, test accuracy, or why it was not trained."""
    decision: str = ""
    """Why the winner won, under noise."""
    val_se: float | None = None
    """The standard error of ``val_metric``."""
    budget_s: float | None = None
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    final_note: str = ""
    """Empty when the chosen trial was refit on train+val; else why the model is that trial's own."""
    exhausted: bool = False
    calibration: dict[str, float] | None = None
    """The logged model's ``temperature``, fitted on held-out predictions (``fitted`` false, and
    1, when there were fewer than the minimum), and the test expected calibration error without
    it (``test_ece_before``) and with it (``test_ece_after``), on ``test_examples``."""
    expected_accuracy: dict[str, Any] | None = None
    """What to expect of the chosen model on new data: the bias-corrected estimate (``accuracy``,
    with ``low`` and ``high``, a 95 % interval), the ``examples`` and number of configurations
    (``compared``) it rests on, and the ``method``."""
    members: list[dict[str, Any]] | None = None
    """When the final model is an ensemble (``strategy`` ``ensemble``): each member and its weight."""
    advice: str = ""
    """The budget that a candidate the portfolio or the priors favour would need, when it did not run."""
    class_recall: dict[str, float] | None = None
    """The final model's recall on the test split, by class."""
    leaderboard_text: str = field(default="", repr=False)
    tracking_uri: str = field(default="", repr=False)
    """The store the run logged to, where its model is loaded from; never printed (it may hold a password)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("leaderboard_text")
        data.pop("tracking_uri")
        return data
