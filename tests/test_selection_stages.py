"""How ``select`` spends its budget and decides: probes on every source first, a portfolio next,
the one-standard-error rule, and no-transfer baselines that always tell the uplift."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from fakes import FakeClock

import autotl
from autotl.builtins.strategies.finetune import Finetune
from autotl.builtins.strategies.mlp_probe import GradientProbe
from autotl.selection.leaderboard import Row
from autotl.selection.noise import binomial_se, fold_se

CLOCK = FakeClock()


def ticking(job, seconds: float):
    """``job`` with every epoch costing ``seconds`` of fake time."""
    report = job.on_epoch

    def tick(epoch):
        CLOCK.now += seconds
        report(epoch)

    job.on_epoch = tick
    return job


@dataclass(frozen=True)
class TickingFinetune(Finetune):
    def train(self, job):
        return super().train(ticking(job, 10))


@dataclass(frozen=True)
class TickingProbe(GradientProbe):
    def train(self, job):
        return super().train(ticking(job, 1))


class StagesPlugin:
    @autotl.hookimpl
    def register_strategies(self, register):
        register(
            TickingFinetune(
                "ticking_finetune", "10 fake seconds an epoch", defaults={"lr": 1e-3, "epochs": 1}, depth=1.0
            )
        )
        register(
            TickingProbe(
                "ticking_probe",
                "a linear head by gradient steps, 1 fake second an epoch",
                defaults={"lr": 0.05, "epochs": 2},
                cached_features=True,
                depth=0.1,
            )
        )

    @autotl.hookimpl
    def register_sources(self, register):
        import tiny_plugin
        from fakes import FakeSource

        register(FakeSource("twin", checkpoint=tiny_plugin.SOURCE.checkpoint))


@pytest.fixture
def stages(tiny, register_plugin, monkeypatch):
    from autotl.selection import costs

    monkeypatch.setattr(costs, "step_times", lambda *args, **kwargs: costs.StepTimes(0.01, 0.01))
    register_plugin(StagesPlugin(), "stages-plugin")
    CLOCK.now = 0.0


def test_every_sources_probes_run_cross_validated_before_any_end_to_end_trial(stages, colour_images):
    result = autotl.select(
        colour_images,
        100,
        models=["tiny", "twin"],
        strategies=["linear_probe", "ticking_probe", "ticking_finetune"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    trials = sorted(
        (row for row in result.result["leaderboard"] if row["trial"] is not None and row["state"] != "baseline"),
        key=lambda row: row["trial"],
    )
    first = trials[:4]
    assert [row["strategy"] for row in first] == ["linear_probe"] * 2 + ["ticking_probe"] * 2  # every source once first
    assert {(row["source"], row["strategy"]) for row in first} == {
        (s, p) for s in ("tiny", "twin") for p in ("linear_probe", "ticking_probe")
    }
    assert all(row["folds"] == 5 and row["val_se"] > 0 and row["reason"].startswith("stage 1") for row in first)
    assert any(row["strategy"] == "ticking_finetune" for row in trials[4:])  # end to end, after all of them
    assert result.decision


def test_standard_errors_never_claim_certainty_on_a_few_examples():
    assert binomial_se(1.0, 15) > 0.05  # 15 out of 15 is not proof
    assert binomial_se(0.5, 10_000) == pytest.approx(0.005, rel=0.01)
    assert fold_se([1.0, 1.0, 1.0], examples=30) == pytest.approx(binomial_se(1.0, 30))  # folds agreeing by chance
    assert fold_se([0.6, 0.9, 0.3], examples=3000) == pytest.approx(np.std([0.6, 0.9, 0.3], ddof=1) / np.sqrt(3))


class BlindPlugin:
    """A source whose features are all zero: its probe is at chance, whatever the data."""

    @autotl.hookimpl
    def register_sources(self, register):
        import tiny_plugin
        from fakes import FakeSource

        class Blind(FakeSource):
            def load(self, pretrained=True, folder=None):
                backbone = super().load(pretrained, folder)
                backbone.body.register_forward_hook(lambda module, inputs, output: output * 0)
                return backbone

        register(Blind("blind", checkpoint=tiny_plugin.SOURCE.checkpoint))


def test_the_classical_baseline_is_in_the_json_and_can_be_the_final_model(cli, tiny, register_plugin, colour_images):
    from autotl.training.classical import ARRAYS

    register_plugin(BlindPlugin(), "blind-plugin")
    result = cli(
        "select",
        "--data",
        colour_images,
        "--budget",
        "1h",
        "--models",
        "blind",
        "--strategies",
        "linear_probe",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    classical = report["baselines"][0]
    assert (
        classical["name"].startswith("no transfer: logistic regression on 8x8 raw pixels")
        and classical["test_accuracy"] is not None
    )
    assert report["baseline_test_accuracy"] == max(
        b["test_accuracy"] for b in report["baselines"] if b["test_accuracy"] is not None
    )
    assert report["strategy"] == "classical"
    assert (
        report["source"] is None
        and "leads every transfer candidate by more than one standard error" in report["decision"]
    )
    model = autotl.load(report["model_uri"])
    images = sorted(str(p) for p in colour_images.rglob("*.png"))
    assert list(model.predict(images)["prediction"]) == [p.split("/")[-2] for p in images]
    bundle = next(p for p in (colour_images.parent / "mlruns").rglob(ARRAYS))
    assert set(np.load(bundle, allow_pickle=False).files) == {"weight", "bias"}  # arrays, no pickle


def test_the_classical_baseline_is_in_the_json_for_text_too(cli, tmp_path, monkeypatch, text_file):
    monkeypatch.setenv("AUTOTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    rows = [["text", "label"]] + [
        [f"{word} {topic} story number {i}", topic]
        for topic, word in (("sport", "match"), ("money", "bank"))
        for i in range(12)
    ]
    data = text_file(rows)
    result = cli(
        "select",
        "--data",
        data,
        "--budget",
        "1h",
        "--models",
        "all-minilm-l6-v2",
        "--strategies",
        "linear_probe",
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["baselines"][0]["name"].startswith("no transfer: logistic regression on TF-IDF of ")
    assert report["baselines"][0]["test_accuracy"] is not None and report["baseline_test_accuracy"] is not None


def test_the_portfolio_runs_on_the_best_sources_by_stage_one_in_its_documented_order():
    from fakes import DeclaredRegularizer, DeclaredStrategy, FakeSource

    from autotl.registry import Candidate
    from autotl.selection import portfolio

    sources = {name: FakeSource(name) for name in ("a", "b", "c")}
    strategies = {
        name: DeclaredStrategy(name, "") for name in ("linear_probe", "lora", "partial_freeze", "lp_ft", "finetune")
    }
    penalties = {"none": DeclaredRegularizer("none", "", penalises=False), "l2sp": DeclaredRegularizer("l2sp", "")}
    pool = [Candidate(s, t, r) for s in sources.values() for t in strategies.values() for r in penalties.values()]
    stage_one = [
        Row("a + linear_probe + none", "a", "linear_probe", "none", val_metric=0.6, state="complete"),
        Row("b + linear_probe + none", "b", "linear_probe", "none", val_metric=0.8, state="complete"),
        Row("c + linear_probe + none", "c", "linear_probe", "none", val_metric=0.7, state="complete"),
    ]
    ranked = portfolio.ranked_sources(stage_one, ["a", "b", "c"], {"linear_probe"})
    assert ranked == ["b", "c", "a"]
    plan = [key.candidate for key in portfolio.portfolio_stage(pool, ranked, blocks={})]
    assert plan == [
        "b + finetune + none",
        "b + lp_ft + none",
        "b + partial_freeze + none",
        "c + finetune + none",
        "c + lp_ft + none",
        "c + partial_freeze + none",
    ]
