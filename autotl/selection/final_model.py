"""The model a selection hands over: the chosen trial refit on train+val for its best epoch count,
and tested once, or, when the search spent the refit's time on that very trial, the trial's own
model (the refit is allowed a little past the budget before that happens)."""

from autotl.selection.budget import REFIT_OVERRUN
from autotl.selection.leaderboard import Row
from autotl.selection.trials import Trials, refit_params
from autotl.training.job import TrainedModel, TrainingJob


def final_model(trials: Trials, chosen: Row) -> tuple[TrainedModel, TrainingJob, str]:
    """The chosen trial refit on train+val when the time left allows, else (the search spent that
    time on a trial that won) that trial's own model, with why. The refit goes before the
    no-transfer baselines, which get what is left. A trial of another process or an earlier run is always refit.
    The refit may run ``REFIT_OVERRUN`` of the budget past it: the search keeps the refit's time, but
    a trial stopped between epochs overruns that by the cost of stopping, and a fold's model gives
    way to one trained on all of train+val for that."""
    budget, needed = trials.budget, trials.refit_seconds(chosen)
    if trials.kept is None or trials.kept[0] is not chosen or budget.fits(needed, keep=-REFIT_OVERRUN * budget.seconds):
        return *refit(trials, chosen), ""
    trained, job = trials.kept[1:]
    trained_on = "a fold of train+val" if chosen.folds > 1 else "train"
    short = trials.short_of_time(needed)
    note = f"trial {chosen.trial}'s own model, trained on {trained_on}: a refit on train+val {short}"
    trials.progress(f"Keeping {note}")
    test = {**job.splits, "test": trials.dataset.splits["test"]}
    job = trials.job(trials.candidate(chosen.candidate), job.params, test)
    trained.probabilities["test"] = trials.test_probabilities(trained, job.params.batch_size)
    return trained, job, note


def refit(trials: Trials, chosen: Row) -> tuple[TrainedModel, TrainingJob]:
    """The chosen trial again on train+val, for its best epoch count; test seen once, here."""
    candidate, params = trials.candidate(chosen.candidate), refit_params(chosen)
    splits = trials.dataset.splits
    everything = {"train": splits["train"] + splits["val"], "val": splits["val"], "test": splits["test"]}
    job = trials.job(candidate, params, everything)
    epochs = f" for {params.epochs} epochs" if candidate.strategy.schedule else ""
    trials.progress(f"Refitting {candidate.label} on train+val{epochs}")
    return candidate.strategy.train(job), job
