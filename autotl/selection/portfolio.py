"""The order in which a selection spends its budget before the search takes over: what a
practitioner does on any dataset.

1. **Frozen features, every source.** Every kept source's strategies on cached features (the
   linear probe: a convex fit in seconds; the MLP probe) at their defaults, each judged by
   cross-validation over train+val: the linear probe on every source first, then the MLP probe
   on every source. They cost seconds and leave a result to fall back on.
2. **A proven portfolio** on the best sources by stage 1, at the strategies' defaults and with a
   regularizer that adds no penalty, in this order: plain fine-tuning (Kornblith et al. 2019: fine-tuning at default
   settings is the strong general-purpose choice), LP-FT (Kumar et al. 2022: a probed head first
   keeps features from distorting, best away from the source's data), and the lower half frozen
   (Yosinski et al. 2014: lower layers transfer, upper ones specialise; fewer trained weights
   overfit less on small data). In the project's own benchmark of transfer methods
   (docs/benchmarks.md) these three, without a penalty, are at or near the top of the end-to-end
   strategies on digits and Reuters, and no penalty, adapter or multi-task run beats the best of
   them by more than half a point; so the exotic combinations stay in the search space, after the
   portfolio, for TPE and the priors.

A setting of the plan that does not fit the time left is skipped like any other.
"""

from autotl.registry import Candidate
from autotl.selection.leaderboard import Row, RowState, TrialKey

PORTFOLIO = ("finetune", "lp_ft", "partial_freeze")
PORTFOLIO_SOURCES = 2
"""The portfolio runs on the best one or two sources by stage 1: the second only when the first's
portfolio leaves time for it."""


def default_settings(candidate: Candidate, blocks: int) -> tuple[tuple[str, float], ...]:
    """Each declared setting at its default, or, where the default is a rule rather than one of the
    searched values (``frozen_blocks`` -1: half the blocks), at the middle of those values."""
    chosen = []
    for setting in candidate.settings:
        values = list(setting.values(blocks))
        chosen.append((setting.name, setting.default if setting.default in values else values[len(values) // 2]))
    return tuple(chosen)


def default_key(candidate: Candidate, blocks: int) -> TrialKey:
    return TrialKey(candidate.label, 1.0, 1.0, default_settings(candidate, blocks))


def frozen_stage(pool: list[Candidate], kept: list[str], blocks: dict[str, int]) -> list[TrialKey]:
    """Every cached-feature candidate of every kept source at its defaults: the shallowest first on
    every source (the linear probe, the usual measure of how well a source's features transfer:
    Kornblith et al. 2019), then the next, each time best-scored source first. On a short budget,
    every source is probed once before any is probed twice."""
    frozen = [c for c in pool if c.strategy.cached_features]
    frozen.sort(key=lambda c: (c.strategy.depth if c.strategy.depth is not None else 1.0, kept.index(c.source.name)))
    return [default_key(c, blocks.get(c.source.name, 0)) for c in frozen]


def ranked_sources(rows: list[Row], kept: list[str], frozen: set[str]) -> list[str]:
    """The kept sources by their best stage-1 result (those without one last, in scoring order)."""
    best = {}
    for row in rows:
        if row.state == RowState.COMPLETE and row.strategy in frozen and row.source in kept:
            best[row.source] = max(best.get(row.source, -1.0), row.val_metric)
    return sorted(kept, key=lambda source: (-best.get(source, -1.0), kept.index(source)))


def portfolio_stage(pool: list[Candidate], sources: list[str], blocks: dict[str, int]) -> list[TrialKey]:
    """The portfolio's strategies, in order, on each of the best ``PORTFOLIO_SOURCES`` sources."""
    plan = []
    for source in sources[:PORTFOLIO_SOURCES]:
        for strategy in PORTFOLIO:
            candidate = next(
                (
                    c
                    for c in pool
                    if c.source.name == source and c.strategy.name == strategy and not c.regularizer.penalises
                ),
                None,
            )
            if candidate is not None:
                plan.append(default_key(candidate, blocks.get(source, 0)))
    return plan
