"""Successive halving compares a trial only with trials of its own kind."""

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.pruners import SuccessiveHalvingPruner

from autotl.selection.pruning import AmongLikeTrials

SPACE = {"kind": CategoricalDistribution(["probe", "finetune"])}


def halving() -> SuccessiveHalvingPruner:
    return SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)


def first_epoch(study: optuna.Study, kind: str, value: float) -> bool:
    """Starts a trial of ``kind`` that scores ``value`` after one epoch; whether it is pruned there."""
    study.enqueue_trial({"kind": kind})
    trial = study.ask(SPACE)
    trial.report(value, 1)
    pruned = trial.should_prune()
    study.tell(trial, state=optuna.trial.TrialState.PRUNED) if pruned else study.tell(trial, value)
    return pruned


def studies(pruner) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for value in (0.90, 0.92, 0.94, 0.96):  # probes learn fast: their first epoch is already good
        first_epoch(study, "probe", value)
    return study


def test_a_slow_starting_kind_is_not_pruned_against_a_fast_one():
    assert first_epoch(studies(halving()), "finetune", 0.3)  # what plain successive halving does
    like = studies(AmongLikeTrials(lambda trial: trial.params["kind"], halving))
    assert not first_epoch(like, "finetune", 0.3)


def test_within_its_kind_a_trial_is_still_pruned():
    like = studies(AmongLikeTrials(lambda trial: trial.params["kind"], halving))
    first_epoch(like, "finetune", 0.3)
    first_epoch(like, "finetune", 0.4)
    assert first_epoch(like, "finetune", 0.1)
