"""The zero-training stage: each source featurizes the data once (cached), and every applicable
transferability scorer scores its frozen training features; the sources are ranked by the
standardised mean of the scores, and all but the best few are dropped."""

from typing import Callable, Iterable

import numpy as np

from autotl.contracts.capabilities import Capability, unmet
from autotl.contracts.scorers import Scorer, ScoringInputs
from autotl.progress import bar
from autotl.registry import Candidate
from autotl.selection import costs
from autotl.selection.budget import Budget
from autotl.selection.leaderboard import Row, RowState, format_scores, row_for

SCORING_SHARE = 0.35
"""At most this share of the budget goes to featurizing and scoring sources, except for the
cheapest source, which may take whatever featurizing it needs within the budget: without one
there is no transfer to try."""
TOP_SOURCES = 3
TIMING_SHARE = 0.1
"""At most about this share of the time left goes to timing a source's featurizing (one batch at
least), before the stage decides whether to featurize the rest."""


def score_sources(
    candidates: list[Candidate],
    job: Callable,
    cost_model: "costs.CostModel",
    scorers: list[Scorer],
    budget: Budget,
    progress: Callable[[str], None],
    report: Callable[[str], None],
) -> tuple[list[str], dict[str, dict[str, float]], dict[str, float], list[Row]]:
    """Scores each source, cheapest first, on its frozen training features (featurizing val too:
    every probe needs it). Returns the sources kept (best combined score first), every source's
    scores, the combined scores, and the rows of the candidates dropped, with why."""
    sources = {c.source.name: c for c in candidates}
    scores: dict[str, dict[str, float]] = {}
    reasons: dict[str, str] = {}
    first: Candidate | None = None  # the source loaded first, what the others' costs are guessed from
    examples = 0
    for name, candidate in sorted(sources.items(), key=lambda item: item[1].source.spec.flops_per_sample):
        if not budget.fits(0.0):  # nothing is known of its cost, but no time at all is too little
            reasons[name] = "no time was left for it after starting up and the classical baseline"
            continue
        if first is not None:
            guessed = _guessed(cost_model, first, candidate, examples)
            reason = _cannot_featurize(guessed, budget, first=False, work="loading and featurizing it")
            if reason:
                reasons[name] = reason
                continue
        trial_job = job(candidate)
        loading = budget.clock()
        backbone = trial_job.load_backbone(pretrained=True)
        cost_model.load_s[name] = budget.clock() - loading
        first = first or candidate
        examples = sum(len(split) for split in trial_job.splits.values())
        cost_model.num_blocks[name] = len(backbone.blocks)
        per_input, timed = costs.seconds_per_input(trial_job, backbone, budget.clock, TIMING_SHARE * budget.left())
        cost_model.inference_s[name] = per_input
        missing = trial_job.cache.missing(
            backbone, trial_job.source, [e for split in trial_job.splits.values() for e in split]
        )
        predicted = per_input * len(missing)
        if missing:
            progress(f"  {name}: featurizing {len(missing)} inputs should take ~{predicted:.0f}s")
        reason = (  # the first source is worth featurizing only if a model on it can be tested too
            _cannot_featurize(predicted + cost_model.test_seconds(name), budget, True, "featurizing and testing it")
            if not scores
            else _cannot_featurize(predicted, budget, first=False)
        )
        if reason:
            reasons[name] = reason
            continue
        started = budget.clock()
        with bar(report, f"featurizing {name}", len(missing), "inputs") as advance:
            trial_job.cache.features(
                backbone, trial_job.source, trial_job.splits["val"], trial_job.device, on_batch=advance
            )
            features = trial_job.cache.features(
                backbone, trial_job.source, trial_job.splits["train"], trial_job.device, on_batch=advance
            )
        if timed and missing:
            # Every input featurized so far, not the first sample alone: inputs differ in cost (texts in length),
            # and the test pass that every final model pays is predicted from this.
            cost_model.inference_s[name] = (per_input * timed + budget.clock() - started) / (timed + len(missing))
        scores[name] = transferability(
            scorers, candidate.source, backbone, features, trial_job.labels("train"), progress
        )
        progress(f"  {name}: {format_scores(scores[name])}")
    combined = combine(scores, scorers)
    ranked = sorted(combined, key=combined.get, reverse=True)
    for name in ranked[TOP_SOURCES:]:
        reasons[name] = f"combined score {combined[name]:.2f}, below the top {TOP_SOURCES}"
    rows = [
        row_for(c, scores, state=RowState.DROPPED, reason=reasons[c.source.name])
        for c in candidates
        if c.source.name in reasons
    ]
    return ranked[:TOP_SOURCES], scores, combined, rows


def _guessed(cost_model: "costs.CostModel", first: Candidate, other: Candidate, examples: int) -> float:
    """What loading and featurizing ``other`` should take, before it is loaded: the ``first``
    source's measured times scaled by parameters (loading) and FLOPs (featurizing ``examples``),
    so that a source whose loading alone would spend the scoring's share is not loaded at all."""
    measured, spec = first.source.name, first.source.spec
    loading = cost_model.load_s[measured] * other.source.spec.num_params / max(spec.num_params, 1)
    per_input = cost_model.inference_s.get(measured, 0.0) * other.source.spec.flops_per_sample
    return loading + per_input / max(spec.flops_per_sample, 1) * examples


def _cannot_featurize(predicted: float, budget: Budget, first: bool, work: str = "featurizing it") -> str:
    """Why ``work`` on a source is past its share of the budget ("" when it is not)."""
    if first:
        return (
            ""
            if budget.fits(predicted)
            else f"{work} would take ~{predicted:.0f}s, more than the {budget.left():.0f}s left"
        )
    share = budget.seconds * SCORING_SHARE
    if budget.elapsed() + predicted <= share:
        return ""
    spent = budget.elapsed()
    return f"{work} would take ~{predicted:.0f}s, with {spent:.0f}s of the scoring share ({share:.0f}s) spent"


def transferability(
    scorers: list[Scorer], source, backbone, features: np.ndarray, labels: list[int], warn: Callable[[str], None]
) -> dict[str, float]:
    """Each scorer whose needs the source meets, on its frozen features of the training inputs;
    a scorer that raises is left out, with a warning."""
    probabilities = None
    if Capability.SOURCE_HEAD in source.spec.offers:
        import torch

        with torch.no_grad():
            probabilities = torch.softmax(backbone.source_head(torch.from_numpy(features)).float(), dim=-1).numpy()
    inputs = ScoringInputs(features, np.asarray(labels), probabilities)
    scores = {}
    for scorer in scorers:
        if unmet(scorer.needs, source.spec.offers):
            continue
        try:
            scores[scorer.name] = scorer.score(inputs)
        except Exception as error:  # a plugin's scorer must not end the selection
            warn(f"  Warning: scorer {scorer.name} failed on {source.name} ({type(error).__name__}: {error})")
    return scores


def combine(scores: dict[str, dict[str, float]], scorers: Iterable[Scorer]) -> dict[str, float]:
    """One number per source: the mean, over the ranking scorers it has, of each score standardised
    across the sources (scores live on different scales; a score every source ties on counts zero)."""
    standardised: dict[str, list[float]] = {source: [] for source in scores}
    for scorer in {s.name for s in scorers if s.ranks_sources} & {
        name for values in scores.values() for name in values
    }:
        values = {source: v[scorer] for source, v in scores.items() if scorer in v and np.isfinite(v[scorer])}
        spread = float(np.std(list(values.values()))) if values else 0.0
        centre = float(np.mean(list(values.values()))) if values else 0.0
        for source, value in values.items():
            standardised[source].append((value - centre) / spread if spread > 0 else 0.0)
    return {source: float(np.mean(z)) if z else 0.0 for source, z in standardised.items()}
