"""Successive halving among like trials only.

A linear probe's first epoch and a fine-tuning run's first epoch say different things: one
optimisation pass of a fresh head against one of the whole network. Comparing them would prune
whichever learns more slowly per epoch, not whichever ends worse. So each group of like trials
(``select``'s: trials of one source and strategy) gets its own successive-halving pruner, and sees only its group,
the way Optuna's Hyperband gives each bracket a study of its own trials.
"""

from typing import Callable, Container

import optuna
from optuna.pruners import BasePruner, SuccessiveHalvingPruner
from optuna.trial import FrozenTrial, TrialState


class AmongLikeTrials(BasePruner):
    def __init__(self, group: Callable[[FrozenTrial], str], make: Callable[[], BasePruner] = SuccessiveHalvingPruner):
        self.group, self.make = group, make
        self.pruners: dict[str, BasePruner] = {}

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        name = self.group(trial)
        pruner = self.pruners.setdefault(name, self.make())
        return pruner.prune(_GroupStudy(study, self, name), trial)


class _GroupStudy(optuna.Study):
    """The study as one group sees it: its own trials only."""

    def __init__(self, study: optuna.Study, pruner: AmongLikeTrials, name: str) -> None:
        super().__init__(study_name=study.study_name, storage=study._storage, sampler=study.sampler, pruner=pruner)
        self._pruner_of_groups, self._group = pruner, name

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        trials = super()._get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if self._pruner_of_groups.group(t) == self._group]
