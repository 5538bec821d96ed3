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
        return pruner.prune(_GroupView(study, self.group, name), trial)  # type: ignore[arg-type]


class _GroupView:
    """The study as one group sees it: its own trials only, everything else the study's own. Only
    the study's public ``get_trials`` is called here; the pruner asks the rest of the study itself."""

    def __init__(self, study: optuna.Study, group: Callable[[FrozenTrial], str], name: str) -> None:
        self._study, self._group, self._name = study, group, name

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return [t for t in self._study.get_trials(deepcopy=deepcopy, states=states) if self._group(t) == self._name]

    def __getattr__(self, attribute: str):
        return getattr(self._study, attribute)
