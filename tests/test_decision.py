"""The final choice under noise (autotl.selection.decision), on simulated out-of-fold predictions:
contenders that err partly on the same hard examples, as models of one dataset do."""

import numpy as np
import pytest

from autotl.selection.decision import ENSEMBLE, Contender, Footing, Resamples, bbc_cv, decide, select_ensemble

CLASSES = 4
SHALLOW, DEEP = 0.0, 1.0


def footing(rng: np.random.Generator, examples: int) -> Footing:
    labels = rng.integers(0, CLASSES, examples)
    return Footing(labels, rng.permutation(np.arange(examples) % 5), f"{examples} simulated examples", CLASSES)


def contender(rng, on: Footing, hardness: np.ndarray, accuracy: float, name: str, depth: float) -> Contender:
    """Right on a share ``accuracy`` of the examples, in expectation, wrong mostly on the hard ones."""
    draw = 0.5 * hardness + 0.5 * rng.random(len(on))
    reference = 0.5 * rng.random(100_000) + 0.5 * rng.random(100_000)
    right = draw < np.quantile(reference, accuracy)
    wrong = (on.labels + rng.integers(1, CLASSES, len(on))) % CLASSES
    logits = rng.normal(0, 1, (len(on), CLASSES))
    logits[np.arange(len(on)), np.where(right, on.labels, wrong)] += 4 + rng.random(len(on))
    probabilities = np.exp(logits)
    return Contender(name, probabilities / probabilities.sum(1, keepdims=True), depth)


def draw(rng, examples: int, accuracies: list[float], depths: list[float]) -> tuple[Footing, list[Contender]]:
    on = footing(rng, examples)
    hardness = rng.random(examples)
    return on, [contender(rng, on, hardness, a, f"c{i}", d) for i, (a, d) in enumerate(zip(accuracies, depths))]


def choices(examples: int, accuracies: list[float], depths: list[float], draws: int) -> list[str]:
    rng = np.random.default_rng(7)
    return [decide(*draw(rng, examples, accuracies, depths), "accuracy", prior_depth=0.1).single for _ in range(draws)]


DEPTHS = [SHALLOW] * 6 + [DEEP] * 6
DRAWS = 60


def test_among_twelve_equal_contenders_the_costlier_are_chosen_no_more_often_than_chance():
    # Five folds of 20 examples: each fold's score alone is a 20-example split.
    picked = choices(100, [0.7] * 12, DEPTHS, DRAWS)
    deep = sum(name in {f"c{i}" for i in range(6, 12)} for name in picked) / DRAWS
    assert deep <= 0.5  # chance: half of them are the costlier ones


@pytest.mark.parametrize("examples, found_at_least", [(100, 0.3), (300, 0.75)])
def test_a_contender_truly_ten_points_better_is_still_found_though_the_prior_prefers_the_others(
    examples, found_at_least
):
    """The hardest case: the better one is deep, where the prior points to the shallow ones; by
    chance it would be chosen once in twelve."""
    picked = choices(examples, [0.7] * 11 + [0.8], DEPTHS, DRAWS if examples == 100 else 30)
    assert sum(name == "c11" for name in picked) / len(picked) >= found_at_least


def test_the_expected_accuracy_corrects_the_winners_curse():
    """Twelve contenders of true accuracy 0.7 on 60 examples: the best observed score is biased
    upward, the BBC-CV estimate of picking the best is not (on average over draws)."""
    rng = np.random.default_rng(3)
    best, expected = [], []
    for _ in range(20):
        on, contenders = draw(rng, 60, [0.7] * 12, DEPTHS)
        estimate = bbc_cv(on, {c.name: c.probabilities for c in contenders}, "accuracy", Resamples(60, seed=len(best)))
        best.append(max(np.mean(c.probabilities.argmax(1) == on.labels) for c in contenders))
        expected.append(estimate.accuracy)
    assert np.mean(best) > 0.74
    assert abs(np.mean(expected) - 0.7) < 0.02
    assert estimate.low < estimate.accuracy < estimate.high


def test_the_choice_reports_what_to_expect_counting_every_configuration_compared():
    rng = np.random.default_rng(3)
    decision = decide(*draw(rng, 60, [0.7] * 12, DEPTHS), "accuracy", prior_depth=0.1)
    assert decision.expected.compared == 13  # the twelve and the ensemble
    assert decision.expected.examples == 60
    assert "BBC-CV" in decision.expected.method


def test_an_ensemble_wins_when_it_leads_the_best_single_by_more_than_the_noise():
    """Three probes, each right on a different two-thirds: their average is right far more often."""
    rng = np.random.default_rng(0)
    on = footing(rng, 90)
    thirds = np.arange(90) % 3
    contenders = []
    for i in range(3):
        logits = rng.normal(0, 0.3, (90, CLASSES))
        wrong = (on.labels + 1 + i) % CLASSES
        logits[np.arange(90), np.where(thirds == i, wrong, on.labels)] += 2.0
        contenders.append(Contender(f"probe {i}", np.exp(logits) / np.exp(logits).sum(1, keepdims=True), SHALLOW))
    decision = decide(on, contenders, "accuracy", prior_depth=0.0)
    assert decision.chosen == ENSEMBLE
    assert set(decision.ensemble.weights) == {"probe 0", "probe 1", "probe 2"}
    assert decision.ensemble.score > max(decision.scores.values()) + 0.1
    assert "ensemble of 3" in decision.why


def test_an_ensemble_of_copies_does_not_win():
    rng = np.random.default_rng(1)
    on, [one] = draw(rng, 80, [0.7], [SHALLOW])
    copies = [Contender(f"copy {i}", one.probabilities, SHALLOW) for i in range(3)]
    decision = decide(on, copies, "accuracy", prior_depth=0.0)
    assert decision.chosen != ENSEMBLE
    assert "not chosen" in decision.notes[ENSEMBLE]


def test_the_ensembles_score_is_out_of_fold():
    """Its weights for a fold are chosen on the other folds: on pure noise it scores like chance,
    though on the examples that chose them it would look better."""
    rng = np.random.default_rng(2)
    on = footing(rng, 60)
    noise = [Contender(f"noise {i}", rng.dirichlet(np.ones(CLASSES), 60), SHALLOW) for i in range(10)]
    assert select_ensemble(on, noise, "accuracy").score < 0.4


def test_the_classical_baseline_wins_only_by_more_than_one_standard_error():
    rng = np.random.default_rng(4)
    on = footing(rng, 200)
    hardness = rng.random(200)
    transfer = contender(rng, on, hardness, 0.6, "probe", SHALLOW)
    close = Contender("classical", contender(rng, on, hardness, 0.6, "", 0).probabilities, 0, transfers=False)
    assert decide(on, [transfer, close], "accuracy", 0.0).single == "probe"
    far = Contender("classical", contender(rng, on, hardness, 0.9, "", 0).probabilities, 0, transfers=False)
    decision = decide(on, [transfer, far], "accuracy", 0.0)
    assert decision.single == "classical"
    assert decision.why.startswith("no transfer")


def test_macro_f1_is_resampled_like_accuracy():
    rng = np.random.default_rng(5)
    on, contenders = draw(rng, 120, [0.6, 0.9], [SHALLOW, DEEP])
    decision = decide(on, contenders, "f1_macro", prior_depth=0.0)
    assert decision.single == "c1"
    assert 0 < decision.scores["c0"] < decision.scores["c1"] <= 1
