"""The time a search keeps back from its trials, so that what follows them still fits: the
leading result's refit or test pass, and the no-transfer baselines."""

from autotl.contracts.strategies import Strategy
from autotl.registry import Candidate
from autotl.selection import baselines
from autotl.selection.trials import Trials


class Reserve:
    def __init__(self, trials: Trials, kept_sources: list[str], baselines_s: float = 0.0, why: str = ""):
        """``baselines_s``: the seconds kept for the no-transfer baselines, and ``why`` that much."""
        self.trials, self.kept_sources, self.baselines_s, self.why = trials, kept_sources, baselines_s, why

    @classmethod
    def for_baselines(cls, trials: Trials, no_transfer: list[Strategy], kept_sources: list[str]) -> "Reserve":
        """Keeps time for the ``no_transfer`` baselines too, on the best kept source's architecture."""
        if not no_transfer:
            return cls(trials, kept_sources)
        best_source = next(c for c in trials.candidates if c.source.name == kept_sources[0])
        return cls(trials, kept_sources, *baselines.reserve(trials, no_transfer, best_source))

    def keep(self, candidate: Candidate | None = None) -> float:
        """Seconds no trial may take: the baseline's, and the refit of the leading result while
        that still fits, else its test pass (before any result, the test pass of the trial's
        ``candidate``, or of a probe on the quickest source when there is no trial yet to ask
        about: the first results are probes). A trial may leave no time to refit itself: if it
        wins, its own model is kept (``final_model``), and the time left goes to more trials; but
        every final model is tested, and on a large test split that takes a while."""
        costs, leader = self.trials.costs, self.trials.leader()
        if leader is None:  # the first result will be tested, whatever else happens
            if candidate is not None:
                return self.baselines_s + costs.test_seconds(candidate.source.name, candidate.strategy.cached_features)
            return self.baselines_s + min(costs.test_seconds(source, True) for source in self.kept_sources)
        refit = self.trials.refit_seconds(leader)
        if self.trials.budget.fits(refit, keep=self.baselines_s):
            return self.baselines_s + refit
        led = self.trials.candidate(leader.candidate)  # a refit already lost is not kept for
        return self.baselines_s + costs.test_seconds(led.source.name, led.strategy.cached_features)


class NothingKept:
    """A worker's reserve: the coordinator's deadline already keeps its refit, baselines and closing."""

    baselines_s = 0.0
    why = ""

    def keep(self, candidate: Candidate | None = None) -> float:
        return 0.0
