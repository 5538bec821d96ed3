"""The leaderboard's rows for what a search did not run."""

from autotl.registry import Candidate
from autotl.selection.leaderboard import Row, RowState, row_for
from autotl.selection.trials import Trials


def left_over(trials: Trials, pool: list[Candidate], too_long: dict[tuple[str, float], tuple[float, str]]) -> list[Row]:
    """Rows for the candidates skipped for time (once each, at their cheapest epoch count, from
    ``too_long``: the prediction and why, by candidate and epochs scale) and those of ``pool``
    never reached."""
    skipped = []
    for label in dict.fromkeys(label for label, _ in too_long):
        predicted, reason = min(v for (other, _), v in too_long.items() if other == label)
        skipped.append(
            row_for(
                trials.candidate(label), trials.scores, predicted_s=predicted, state=RowState.SKIPPED, reason=reason
            )
        )
    listed = {r.candidate for r in trials.rows + skipped}
    return skipped + [
        row_for(
            c,
            trials.scores,
            predicted_s=_predicted(trials, c),
            state=RowState.UNTRIED,
            reason="the budget ran out before the search reached it",
        )
        for c in pool
        if c.label not in listed
    ]


def _predicted(trials: Trials, candidate: Candidate) -> float | None:
    """At its defaults, when that can be priced without timing a step now."""
    params = trials.params(candidate)
    return trials.predicted(candidate, params) if trials.costs.can_predict(candidate, params) else None
