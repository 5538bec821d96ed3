"""The plan of the search's first stages, which run before the study chooses: every kept source's
probes on cached features (stage 1), then the portfolio on the best sources by stage 1 and the
priors' guess on each kept source. What these favour is also what the budget is advised on when
it did not run.
"""

from typing import Callable

from autotl.registry import Candidate
from autotl.selection import portfolio, priors
from autotl.selection.budget import suggested_budget
from autotl.selection.leaderboard import TrialKey
from autotl.selection.trials import Trials

Planned = tuple[TrialKey, str]
"""A setting to run, and why (the trial's reason on the leaderboard)."""


class StagePlan:
    def __init__(self, trials: Trials, pool: list[Candidate], kept_sources: list[str]):
        """``pool``: the candidates of the ``kept_sources`` (best first)."""
        self.trials, self.pool, self.kept_sources = trials, pool, kept_sources
        self.frozen = portfolio.frozen_stage(pool, kept_sources, trials.costs.num_blocks)
        self.queue: list[Planned] = [(key, "stage 1: frozen features, every source") for key in self.frozen]
        self.planned_portfolio = False
        self.favoured: list[TrialKey] = []
        """The portfolio and the priors' guesses: what the budget is advised on when they did not run."""
        self.portfolio_from = 0.0
        """When the portfolio could start (seconds into the budget)."""

    def next(
        self, seen: set[TrialKey], too_long: Callable[[TrialKey], bool], take_up_stage_one: Callable[[], None]
    ) -> Planned | None:
        """The next planned setting not yet ``seen`` nor too long now (None when the plan is done).
        When stage 1 runs out, the portfolio is planned on its results, those that other processes
        ran too (``take_up_stage_one`` brings them to the leaderboard first)."""
        self.queue = [(key, why) for key, why in self.queue if key not in seen and not too_long(key)]
        if not self.queue and not self.planned_portfolio:
            self.planned_portfolio = True
            take_up_stage_one()
            self.queue = self.after_stage_one(seen)
            self.favoured, self.portfolio_from = [key for key, _ in self.queue], self.trials.budget.elapsed()
        return self.queue.pop(0) if self.queue else None

    def after_stage_one(self, seen: set[TrialKey]) -> list[Planned]:
        """The portfolio on the best sources by stage 1, then the priors' guess on each kept source."""
        trials, blocks = self.trials, self.trials.costs.num_blocks
        frozen_strategies = {trials.candidate(key.candidate).strategy.name for key in self.frozen}
        ranked = portfolio.ranked_sources(trials.rows, self.kept_sources, frozen_strategies)
        plan = [
            (
                key,
                f"portfolio: {trials.candidate(key.candidate).strategy.name} at its defaults on the "
                f"{'best' if key.candidate.startswith(ranked[0] + ' ') else 'second'} source by stage 1",
            )
            for key in portfolio.portfolio_stage(self.pool, ranked, blocks)
        ]
        dataset = trials.dataset
        per_class = len(dataset.splits["train"]) / len(dataset.classes)
        for source in ranked:
            similarity = priors.knn_similarity(trials.scores.get(source, {}).get("knn"), len(dataset.classes))
            guide = priors.prior(per_class, similarity)
            guesses = [
                c
                for c in priors.rank([c for c in self.pool if c.source.name == source], guide)
                if c.strategy.depth is not None
            ]
            if guesses:
                plan.append((portfolio.default_key(guesses[0], blocks.get(source, 0)), f"prior: {guide.reason}"))
        return [(key, why) for key, why in plan if key not in seen]

    def budget_advice(self, tried: set[TrialKey], reserved: float) -> str:
        """What budget the first setting of the portfolio or the priors that did not run would need:
        the time before the portfolio could start, its trial on every fold, its refit and the
        baselines' ``reserved`` seconds, rounded up to a budget a person would type ("" when all of
        them ran, or none can be priced without timing a step now)."""
        trials = self.trials
        for key in self.favoured:
            candidate = trials.candidate(key.candidate)
            params = trials.params(candidate, key.lr_scale, key.epochs_scale, dict(key.settings))
            if key in tried or not trials.costs.can_predict(candidate, params):
                continue
            trial = trials.predicted(candidate, params)
            needed = self.portfolio_from + trial + trials.refit_estimate(candidate, params) + reserved
            folds = len(trials.folds_for(candidate))
            return (
                f"Budget: {candidate.strategy.name} on {candidate.source.name}, which the portfolio or the priors "
                f"favour, did not run: it needs ~{trial:.0f}s"
                + (f" on {folds} folds" if folds > 1 else "")
                + f" and ~{needed:.0f}s in all; rerun with --budget {suggested_budget(needed)} to try it"
            )
        return ""
