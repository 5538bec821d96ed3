"""Figures logged with a run, for the MLflow UI: how the search went, how training went, where
the model errs, and whether the zero-training scores foretold the fine-tuned results."""

import warnings
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from autotl.training.calibration import Calibration  # noqa: E402
from autotl.training.loop import Epoch  # noqa: E402
from autotl.training.metrics import recall_by_class  # noqa: E402


def log_class_recall(labels: Sequence[int], predictions: Sequence[int], classes: Sequence[str]) -> None:
    """Each class's test recall: a metric ``test_recall/<class>`` per class (the name kept to the
    characters MLflow takes), and ``class_recall.json`` with the class names as they are. On
    imbalanced data, overall accuracy hides a small class that is never predicted."""
    import re

    by_class = recall_by_class(labels, predictions, classes)
    mlflow.log_metrics({"test_recall/" + re.sub(r"[^\w.\- ]", "_", name): value for name, value in by_class.items()})
    mlflow.log_dict(by_class, "class_recall.json")


def log_training(
    history: Sequence[Epoch], metric: str, labels: Sequence[int], predictions: Sequence[int], classes: Sequence[str]
) -> None:
    """The learning curve of the logged model, its confusion matrix and each class's recall on the test split."""
    log_class_recall(labels, predictions, classes)
    figure, loss_axis = plt.subplots(figsize=(6, 4))
    epochs = [e.epoch for e in history]
    loss_axis.plot(epochs, [e.train_loss for e in history], "o-", color="tab:red", label="train loss")
    loss_axis.set(xlabel="epoch", ylabel="train loss")
    metric_axis = loss_axis.twinx()
    metric_axis.plot(epochs, [e.val_metric for e in history], "s-", color="tab:blue", label=f"val {metric}")
    metric_axis.set_ylabel(f"val {metric}")
    loss_axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.legend(loc="upper center", ncol=2, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.92))
    _log(figure, "plots/learning_curve.png")

    from sklearn.metrics import ConfusionMatrixDisplay

    size = max(4.0, 0.5 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay.from_predictions(
        labels,
        predictions,
        labels=list(range(len(classes))),
        display_labels=list(classes),
        ax=axis,
        colorbar=False,
        xticks_rotation=45,
    )
    axis.set_title("test split")
    figure.tight_layout()
    _log(figure, "plots/confusion_matrix.png")


def log_search(study: optuna.Study | None, rows: Sequence[dict], combined: dict[str, float], metric: str) -> None:
    """Optuna's optimization history and parameter importances, every trial's learning curve, and
    each source's combined transferability score against what its trials reached."""
    trials = [
        row for row in rows if row["trial"] is not None and row["run_id"] and row["state"] in ("complete", "pruned")
    ]
    completed = 0 if study is None else sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    if completed:
        with warnings.catch_warnings(), matplotlib.rc_context():  # Optuna's plots restyle matplotlib globally
            # Optuna's notes on too few trials for its importances (a sketch is what few trials give) and
            # on experimental plots: the figures are wanted, the terminal lines are not.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)
            from optuna.visualization import matplotlib as optuna_plots

            _log(optuna_plots.plot_optimization_history(study).figure, "plots/optimization_history.png")
            try:  # over one finished trial, as Optuna's evaluator asks: with one, every importance is equal
                if completed > 1:
                    _log(optuna_plots.plot_param_importances(study).figure, "plots/param_importances.png")
            except (ValueError, RuntimeError):  # one parameter only
                pass
    if trials:
        _log(_trial_curves(trials, metric), "plots/trial_learning_curves.png")
    if len(combined) > 1:
        _log(_scores_against_results(trials, combined, metric), "plots/score_vs_result.png")


def _trial_curves(trials: Sequence[dict], metric: str):
    client = mlflow.MlflowClient()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for row in trials:
        history = sorted(client.get_metric_history(row["run_id"], f"val_{metric}"), key=lambda m: m.step)
        style = "-" if row["state"] == "complete" else ":"
        axis.plot(
            [m.step for m in history],
            [m.value for m in history],
            style,
            alpha=0.7,
            label=f"{row['trial']}: {row['strategy']}",
        )
    axis.set(xlabel="epoch", ylabel=f"val {metric}", title="trials (dotted: pruned)")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(trials) <= 12:
        axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _scores_against_results(trials: Sequence[dict], combined: dict[str, float], metric: str):
    """One point per source and strategy: the source's combined score, the strategy's best trial."""
    best: dict[tuple[str, str], float] = {}
    for row in trials:
        if row["state"] == "complete":
            key = (row["source"], row["strategy"])
            best[key] = max(best.get(key, -np.inf), row["val_metric"])
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for strategy in sorted({s for _, s in best}):
        points = [
            (combined[source], value) for (source, s), value in best.items() if s == strategy and source in combined
        ]
        if points:
            axis.scatter(*zip(*points), label=strategy)
    for source, score in combined.items():
        axis.axvline(score, color="grey", linewidth=0.5)
        axis.annotate(source, (score, 1.0), xycoords=("data", "axes fraction"), rotation=90, va="top", fontsize="small")
    axis.set(xlabel="combined transferability score (zero training)", ylabel=f"best val {metric} of its trials")
    if best:  # a legend of no points is a warning, not a figure
        axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _log(figure, name: str) -> None:
    mlflow.log_figure(figure, name)
    plt.close(figure)


def log_calibration(calibration: Calibration | None) -> None:
    """The logged model's temperature and the test ECE without and with it (``training.calibration``)."""
    if calibration is None:
        return
    mlflow.log_metrics(
        {
            "temperature": calibration.temperature,
            "test_ece_uncalibrated": calibration.test_ece_before,
            "test_ece": calibration.test_ece_after,
        }
    )
