"""``select`` on the tiny model: the budget, failing trials, and runs never left RUNNING."""

import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import mlflow
import numpy as np
import pytest
from fakes import FakeClock

import autotl
from autotl.builtins.regularizers.none import NoRegularizer
from autotl.builtins.strategies.mlp_probe import GradientProbe
from autotl.contracts.data import IntakeOptions
from autotl.contracts.regularizers import Regularizer, Term
from autotl.contracts.scorers import FunctionScorer
from autotl.contracts.settings import Setting
from autotl.data.intake import read_dataset
from autotl.plugins import build_registry

CLOCK = FakeClock()


@dataclass(frozen=True)
class TickingProbe(GradientProbe):
    """A linear probe whose every epoch costs ``epoch_seconds`` fake seconds."""

    epoch_seconds: float = 5

    def train(self, job):
        report = job.on_epoch

        def tick(epoch):
            CLOCK.now += self.epoch_seconds
            report(epoch)

        job.on_epoch = tick
        return super().train(job)


class SlowingProbe(GradientProbe):
    """A linear probe whose second trial's epochs cost 30 fake seconds each, and every other one's 1."""

    trials = 0

    def train(self, job):
        SlowingProbe.trials += 1
        cost, report = (30 if SlowingProbe.trials == 2 else 1), job.on_epoch

        def tick(epoch):
            CLOCK.now += cost
            report(epoch)

        job.on_epoch = tick
        return super().train(job)


class RecordingProbe(GradientProbe):
    """A linear probe that notes how many test examples each training job holds."""

    test_sizes: ClassVar[list[int]] = []

    def train(self, job):
        RecordingProbe.test_sizes.append(len(job.splits["test"]))
        return super().train(job)


class SlowOnLaterSourcesProbe(GradientProbe):
    """A linear probe whose first epoch scores nothing on every source but the first it trains on:
    their features train the head more slowly."""

    first_source: ClassVar[str | None] = None

    def train(self, job):
        first = SlowOnLaterSourcesProbe.first_source = SlowOnLaterSourcesProbe.first_source or job.source.name
        report = job.on_epoch
        job.on_epoch = lambda epoch: report(
            replace(epoch, val_metric=0.0) if job.source.name != first and epoch.epoch == 1 else epoch
        )
        return super().train(job)


class FlakyProbe(GradientProbe):
    calls = 0

    def train(self, job):
        FlakyProbe.calls += 1
        if FlakyProbe.calls == 1:
            raise RuntimeError("out of luck")
        return super().train(job)


class InterruptedProbe(GradientProbe):
    def train(self, job):
        raise KeyboardInterrupt


class GreedyProbe(GradientProbe):
    """A probe that runs out of device memory above a batch of 16."""

    def train(self, job):
        import torch

        if job.params.batch_size > 16:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().train(job)


class NanTerm(Term):
    def __call__(self, inputs):
        import torch

        return torch.tensor(float("nan"))


class NanPenalty(Regularizer):
    def bind(self, model, params, train):
        return NanTerm()


class SelectPlugin:
    @autotl.hookimpl
    def register_strategies(self, register):
        register(TickingProbe("ticking", "costs fake time", defaults={"epochs": 4, "lr": 0.05}, cached_features=True))
        for seconds in (
            30,
            45,
        ):  # one epoch (two at twice the default), so a refit takes 4/3 of a trial (train+val over train)
            register(
                TickingProbe(
                    f"ticking{seconds}",
                    f"{seconds} fake seconds an epoch",
                    defaults={"epochs": 1, "lr": 0.05},
                    cached_features=True,
                    epoch_seconds=seconds,
                    depth=0,
                )
            )
        register(
            SlowingProbe(
                "slowing", "slower after its first trial", defaults={"epochs": 4, "lr": 0.05}, cached_features=True
            )
        )
        register(
            RecordingProbe(
                "recording",
                "notes the test split it is given",
                defaults={"epochs": 2, "lr": 0.05},
                cached_features=True,
            )
        )
        register(
            SlowOnLaterSourcesProbe(
                "slow_later",
                "a slow first epoch on later sources",
                defaults={"epochs": 4, "lr": 0.05},
                cached_features=True,
                depth=0,
                schedule=False,
            )
        )  # one trial per candidate: four in all
        register(FlakyProbe("flaky", "fails once", defaults={"epochs": 2, "lr": 0.05}, cached_features=True))
        register(InterruptedProbe("interrupted", "Ctrl-C", defaults={"epochs": 2}, cached_features=True))
        register(
            GreedyProbe(
                "greedy",
                "needs a small batch",
                defaults={"epochs": 2, "lr": 0.05, "batch_size": 32},
                cached_features=True,
            )
        )
        register(
            GradientProbe(
                "widths",
                "declares a setting",
                defaults={"epochs": 2, "lr": 0.05},
                cached_features=True,
                settings=(Setting("hidden", 4, (4, 8), "hidden width", integer=True),),
            )
        )

    @autotl.hookimpl
    def register_regularizers(self, register):
        register(NanPenalty("nan_penalty", "a loss term that is not a number"))
        register(NoRegularizer("none_either", "no penalty either: a second candidate per source and strategy"))


class SlowStart:
    """A scorer that spends the whole budget (of fake time), and a little more."""

    @autotl.hookimpl
    def register_scorers(self, register):
        def stall(inputs):
            CLOCK.now += 100.5
            return 0.0

        register(FunctionScorer("stall", "takes the whole budget", function=stall))


@pytest.fixture
def select_setup(tiny, register_plugin, tmp_path, monkeypatch):
    """The test strategies, on the validation split alone: these tests count fake seconds of
    single trials, which the probes' automatic cross-validation would multiply by its folds. The
    classical baseline runs and is reported, but is not chosen (raw pixels tell reddish from
    bluish perfectly): these tests follow the trials."""
    from autotl.selection import baselines, trials

    classical_baseline = baselines.classical_baseline

    def not_compared(trials):
        result = classical_baseline(trials)
        result.row.predictions = None  # reported, never a contender
        return result

    monkeypatch.setattr(trials, "auto_folds", lambda dataset: 0)
    monkeypatch.setattr(baselines, "classical_baseline", not_compared)
    register_plugin(SelectPlugin(), "select-plugin")
    CLOCK.now = 0.0
    FlakyProbe.calls = 0
    RecordingProbe.test_sizes = []
    SlowingProbe.trials = 0
    SlowOnLaterSourcesProbe.first_source = None
    return tmp_path


@pytest.fixture
def twin(tiny, register_plugin):
    """A second source, ``twin``: the tiny model again under another name."""
    from fakes import FakeSource

    class TwinPlugin:
        @autotl.hookimpl
        def register_sources(self, register):
            register(FakeSource("twin", checkpoint=tiny.checkpoint))

    register_plugin(TwinPlugin(), "twin-plugin")


def runs() -> list:
    mlflow.set_tracking_uri(f"sqlite:///{Path('mlruns/mlflow.db').resolve()}")
    return mlflow.search_runs(experiment_names=["autotl"], output_format="list")


def test_the_budget_is_honoured(select_setup, colour_images):
    result = autotl.select(
        colour_images,
        120,
        models=["tiny"],
        strategies=["ticking"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    assert result.elapsed_s <= 132
    trials = [row for row in result.result["leaderboard"] if row["trial"] is not None]
    assert sum(row["state"] == "complete" for row in trials) >= 2
    assert not result.exhausted  # nine settings at 10-40 fake seconds each cannot all fit in 120
    skipped = next(
        row for row in result.result["leaderboard"] if row["state"] == "skipped"
    )  # at its cheapest: 2 epochs of 5 s
    assert skipped["predicted_s"] == pytest.approx(10) and "at 2 epochs would not leave time" in skipped["reason"]
    assert result.strategy == "ticking" and result.baseline_test_accuracy is not None
    assert {run.info.status for run in runs()} == {"FINISHED"}


def test_a_select_keeps_time_for_the_logging_that_the_last_one_on_its_store_took(
    select_setup, colour_images, monkeypatch
):
    """Logging the model and the figures is priced by how long it took last time for each second
    of opening the run (which carries the machine's load now), so that a short budget still holds
    with it: the first select here overruns by its 30 (fake) seconds of logging, the next keeps
    them back from its trials. What is kept goes to the run, not the terminal."""
    from autotl import tracking

    log_model, log_environment = tracking.log_model, tracking.log_environment

    def slow_log_model(*args, **kwargs):
        CLOCK.now += 30
        return log_model(*args, **kwargs)

    def slow_log_environment(*args, **kwargs):
        CLOCK.now += 5
        return log_environment(*args, **kwargs)

    monkeypatch.setattr(tracking, "log_model", slow_log_model)
    monkeypatch.setattr(tracking, "log_environment", slow_log_environment)
    elapsed, messages = [], []
    for _ in range(2):
        started = CLOCK.now
        autotl.select(
            colour_images,
            120,
            models=["tiny"],
            strategies=["ticking"],
            regularizers=["none"],
            clock=CLOCK,
            progress=messages.append,
        )
        elapsed.append(CLOCK.now - started)
    assert elapsed[0] > 120 and elapsed[1] <= 132
    assert not [message for message in messages if "for logging" in message]
    logged = [run.data.metrics for run in runs() if "closing_s" in run.data.metrics]
    assert [metrics["closing_s"] for metrics in logged] == [30.0, 30.0]
    assert sorted(metrics["closing_kept_s"] for metrics in logged) == [0.0, 30.0 / 5.0 * 5.0 - 0.05 * 120]


def test_a_trial_that_runs_longer_than_predicted_is_stopped_when_the_budget_runs_out(select_setup, colour_images):
    result = autotl.select(
        colour_images,
        100,
        models=["tiny"],
        strategies=["slowing"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    assert result.elapsed_s <= 100  # the second trial, predicted at about 4 s, would have taken 120
    stopped = [
        row for row in result.result["leaderboard"] if row["reason"].endswith("another would overrun the budget")
    ]
    assert len(stopped) == 1 and stopped[0]["state"] == "pruned"
    assert result.strategy == "slowing"  # the first trial's result stands


def test_a_trial_may_start_without_time_to_refit_itself_while_the_best_results_refit_still_fits(
    select_setup, colour_images
):
    result = autotl.select(
        colour_images,
        102,
        models=["tiny"],
        strategies=["ticking30"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    complete = [row for row in result.result["leaderboard"] if row["state"] == "complete"]
    assert len(complete) == 2  # the second started at 30 s: with 42 s left after it, either could be refit (40 s)
    assert result.final_note == "" and result.elapsed_s <= 102  # and the winner was


def test_a_winning_trial_that_leaves_no_time_to_refit_it_is_the_final_model(select_setup, colour_images):
    messages = []
    result = autotl.select(
        colour_images,
        100,
        models=["tiny"],
        strategies=["ticking45"],
        regularizers=["none"],
        clock=CLOCK,
        progress=messages.append,
    )
    # After the first trial (45 s) its refit (60 s) no longer fit: that time went to a second trial, not to waiting.
    assert len([row for row in result.result["leaderboard"] if row["state"] == "complete"]) == 2
    assert re.fullmatch(
        r"trial \d+'s own model, trained on train: a refit on train\+val would take ~60\.0s, 10\.0s were left",
        result.final_note,
    )
    assert not any(message.startswith("Refitting") for message in messages)
    assert result.elapsed_s <= 100
    assert mlflow.get_run(result.run_id).data.tags["autotl.final_model"] == "trial"
    test = read_dataset(colour_images, IntakeOptions(), build_registry().items("data_formats")).splits["test"]
    predicted = autotl.load(result.model_uri).predict([e.input for e in test])[
        "prediction"
    ]  # the logged model is the one tested
    assert result.test_accuracy == pytest.approx(np.mean([p == e.label for p, e in zip(predicted, test)]))


def test_after_a_start_that_spent_the_whole_budget_the_classical_baseline_is_the_answer_on_time(
    select_setup, colour_images, register_plugin
):
    register_plugin(SlowStart(), "slow-start")
    result = autotl.select(
        colour_images,
        100,
        models=["tiny"],
        strategies=["recording"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    assert [
        row for row in result.result["leaderboard"] if row["trial"] is not None
    ] == []  # no trial could have been tested in time
    assert result.strategy == "classical" and "no transfer trial finished" in result.decision
    assert result.test_accuracy == result.baseline_test_accuracy and result.elapsed_s <= 101


def test_a_source_whose_loading_would_spend_the_scoring_share_is_not_loaded(
    select_setup, colour_images, tiny, register_plugin
):
    """Loading a model can take longer than featurizing a small data set (tens of seconds on a
    busy machine): the first source's loading, scaled by parameters, decides whether the next
    one is loaded at all. Its test pass is priced with the loading too."""
    from fakes import FakeSource

    loaded = []

    class SlowLoading(FakeSource):
        def load(self, pretrained: bool = True, folder=None):
            if pretrained:
                CLOCK.now += 40
                loaded.append(self.spec.name)
            return super().load(pretrained, folder)

    class SlowPlugin:
        @autotl.hookimpl
        def register_sources(self, register):
            register(SlowLoading("slow-a", checkpoint=tiny.checkpoint))
            register(SlowLoading("slow-b", checkpoint=tiny.checkpoint))

    register_plugin(SlowPlugin(), "slow-plugin")
    result = autotl.select(
        colour_images,
        200,
        models=["slow-a", "slow-b"],
        strategies=["ticking"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    dropped = {row["source"]: row["reason"] for row in result.result["leaderboard"] if row["state"] == "dropped"}
    assert loaded[0] == "slow-a" and "slow-b" not in loaded
    assert dropped["slow-b"].startswith("loading and featurizing it would take ~40s, with 40s of the scoring share")


@pytest.mark.parametrize("budget, early", [(200, True), (3600, False)])
def test_a_test_pass_that_is_a_large_part_of_the_budget_is_featurized_early(
    select_setup, colour_images, monkeypatch, budget, early
):
    """On a busy machine the final test pass took up to four times its prediction: when it is a
    large part of the budget, the best source's test features are computed right after scoring,
    while the budget can still adapt (a probe's test pass then reads them from the cache)."""
    from autotl.selection import costs

    seconds_per_input = costs.seconds_per_input
    monkeypatch.setattr(costs, "seconds_per_input", lambda *a, **k: (2.0, seconds_per_input(*a, **k)[1]))
    messages = []
    result = autotl.select(
        colour_images,
        budget,
        models=["tiny"],
        strategies=["ticking"],
        regularizers=["none"],
        clock=CLOCK,
        progress=messages.append,
    )
    featurized = [m for m in messages if "Featurizing the test split with tiny" in m]
    assert bool(featurized) is early and result.elapsed_s <= budget
    if early:
        assert messages.index(featurized[0]) < min(i for i, m in enumerate(messages) if "] Trial " in m)


def test_scratch_trains_its_whole_schedule_or_is_reported_as_not_trained(select_setup, colour_images, monkeypatch):
    from autotl.builtins.strategies.finetune import Finetune
    from autotl.selection import costs

    epochs = []
    train = Finetune.train

    def noting_epochs(self, job):
        epochs.append(job.params.epochs)
        return train(self, job)

    monkeypatch.setattr(Finetune, "train", noting_epochs)
    roomy = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["ticking"],
        regularizers=["none"],
        progress=lambda message: None,
    )
    scratch = next(b for b in roomy.baselines if b["name"] == "scratch tiny")
    assert (
        epochs == [5] and scratch["test_accuracy"] is not None and scratch["note"] == ""
    )  # its whole default schedule

    epochs.clear()
    monkeypatch.setattr(
        costs, "step_times", lambda *args, **kwargs: costs.StepTimes(50, 50)
    )  # scratch: minutes an epoch
    tight = autotl.select(
        colour_images,
        100,
        models=["tiny"],
        strategies=["ticking30"],
        regularizers=["none"],
        clock=CLOCK,
        progress=lambda message: None,
    )
    scratch = next(b for b in tight.baselines if b["name"] == "scratch tiny")
    assert epochs == [] and scratch["test_accuracy"] is None
    assert scratch["note"].startswith("not trained: ")  # nothing end to end was timed, and 10 s could not pay for it


def test_no_time_is_held_back_for_a_scratch_baseline_whose_schedule_exceeds_its_share(
    select_setup, colour_images, monkeypatch
):
    from autotl.selection import costs

    monkeypatch.setattr(
        costs, "step_times", lambda *args, **kwargs: costs.StepTimes(50, 50)
    )  # scratch: minutes an epoch
    messages = []
    result = autotl.select(
        colour_images,
        100,
        models=["tiny"],
        strategies=["ticking30"],
        regularizers=["none"],
        clock=CLOCK,
        progress=messages.append,
    )
    assert not any("kept for the scratch baseline" in message for message in messages)  # the run has it
    assert (
        mlflow.get_run(result.run_id)
        .data.tags["autotl.baselines_reserve"]
        .startswith("none kept for the scratch baseline")
    )
    # Two 30 s trials and a 40 s refit: with 20 s held back for the baseline, only one trial would have fit.
    assert len([row for row in result.result["leaderboard"] if row["state"] == "complete"]) == 2
    assert result.final_note == "" and result.elapsed_s <= 100
    classical, scratch = result.baselines
    assert result.baseline_test_accuracy == classical["test_accuracy"] and scratch["test_accuracy"] is None


class ThirdPartyRoles:
    """A baseline strategy and a regularizer without a penalty, known to selection by their roles alone."""

    @autotl.hookimpl
    def register_strategies(self, register):
        from autotl.builtins.strategies.finetune import Finetune

        register(
            Finetune(
                "from_random",
                "a third party's no-transfer baseline",
                defaults={"lr": 1e-3, "epochs": 2},
                pretrained=False,
                baseline=True,
            )
        )

    @autotl.hookimpl
    def register_regularizers(self, register):
        register(NoRegularizer("plain", "a third party's regularizer that adds nothing", penalises=False))


def test_a_third_party_baseline_and_no_penalty_regularizer_are_used_by_their_roles(
    select_setup, colour_images, register_plugin, monkeypatch
):
    from autotl.builtins.strategies.finetune import Finetune

    trained = []
    train = Finetune.train

    def noting(self, job):
        trained.append((self.name, job.regularizer.name, job.params.epochs))
        return train(self, job)

    monkeypatch.setattr(Finetune, "train", noting)
    register_plugin(ThirdPartyRoles(), "roles-plugin")
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["ticking", "scratch"],
        regularizers=["plain", "nan_penalty", "l2sp"],
        progress=lambda message: None,
    )
    assert [b["name"] for b in result.baselines][1:] == ["scratch tiny", "from_random tiny"]  # beside the classical one
    assert all(b["test_accuracy"] is not None for b in result.baselines)
    # each with its whole schedule, and with the regularizer that adds nothing, never the NaN penalty
    assert sorted(trained) == [("from_random", "plain", 2), ("scratch", "plain", 5)]
    assert {row["strategy"] for row in result.result["leaderboard"] if row["trial"] is not None} == {
        "ticking"
    }  # never searched
    left_out = [row["candidate"] for row in result.result["leaderboard"] if row["state"] == "left out"]
    assert "tiny + ticking + l2sp" in left_out and not any(
        "scratch" in what for what in left_out
    )  # nor listed as left out


def test_only_the_final_model_sees_the_test_split(select_setup, colour_images):
    autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["recording"],
        regularizers=["none"],
        progress=lambda message: None,
    )
    *trials, refit = RecordingProbe.test_sizes
    assert len(trials) == 9 and set(trials) == {0} and refit == 6  # 9 settings (3 learning rates x 3 epoch counts)


def test_a_failing_trial_leaves_the_study_going(select_setup, colour_images):
    result = autotl.select(
        colour_images, 3600, models=["tiny"], strategies=["flaky"], regularizers=["none"], progress=lambda message: None
    )
    states = [row["state"] for row in result.result["leaderboard"] if row["trial"] is not None]
    assert "failed" in states and states.count("complete") >= 2
    failed = next(row for row in result.result["leaderboard"] if row["state"] == "failed")
    assert failed["reason"] == "RuntimeError: out of luck"
    assert result.exhausted
    assert "FAILED" in {run.info.status for run in runs()}
    assert "RUNNING" not in {run.info.status for run in runs()}


def test_out_of_memory_is_retried_once_at_half_the_batch_which_later_trials_start_at(select_setup, colour_images):
    messages = []
    result = autotl.select(
        colour_images, 3600, models=["tiny"], strategies=["greedy"], regularizers=["none"], progress=messages.append
    )
    trials = [row for row in result.result["leaderboard"] if row["trial"] is not None]
    assert trials and all(row["state"] in ("complete", "pruned") for row in trials)
    assert all(row["params"]["batch_size"] == 16 for row in trials)
    first, *later = sorted(trials, key=lambda row: row["trial"])
    assert "out of memory at batch size 32, retried at 16" in first["reason"]
    assert later and not any("out of memory" in row["reason"] for row in later), "they start at the batch that fit"
    assert result.params["batch_size"] == 16 and "--set batch_size=16" in result.train_command


def test_a_diverging_trial_fails_with_its_reason_and_the_classical_baseline_answers(select_setup, colour_images):
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["finetune"],
        regularizers=["nan_penalty"],
        progress=lambda m: None,
    )
    assert result.strategy == "classical" and result.decision.startswith("no transfer: no transfer trial finished")
    trials = [run for run in runs() if run.data.tags.get("mlflow.parentRunId")]
    assert trials and {run.info.status for run in trials} == {"FAILED"}
    leaderboard = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/leaderboard.json")["leaderboard"]
    assert all(
        "the training loss became nan at epoch 1" in row["reason"] for row in leaderboard if row["trial"] is not None
    )


def test_ctrl_c_leaves_no_run_running(select_setup, colour_images):
    with pytest.raises(KeyboardInterrupt):
        autotl.select(
            colour_images,
            3600,
            models=["tiny"],
            strategies=["interrupted"],
            regularizers=["none"],
            progress=lambda message: None,
        )
    statuses = [run.info.status for run in runs()]
    assert statuses and set(statuses) == {"KILLED"}


def test_the_study_searches_the_settings_a_strategy_declares(select_setup, colour_images):
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["widths"],
        regularizers=["none"],
        progress=lambda message: None,
    )
    trials = [row for row in result.result["leaderboard"] if row["state"] in ("complete", "pruned")]
    assert result.exhausted and len(trials) == 2 * 3 * 3  # hidden x learning rate x epochs
    assert {row["params"]["hidden"] for row in trials} == {4, 8}
    assert f"--set hidden={result.params['hidden']}" in result.train_command


def test_every_applicable_scorer_scores_each_source(select_setup, colour_images, register_plugin):
    from autotl.contracts.scorers import FunctionScorer

    class BrokenScorer:
        @autotl.hookimpl
        def register_scorers(self, register):
            register(FunctionScorer("broken", "raises", function=lambda inputs: 1 / 0))

    register_plugin(BrokenScorer(), "broken-scorer")
    messages = []
    result = autotl.select(
        colour_images, 3600, models=["tiny"], strategies=["flaky"], regularizers=["none"], progress=messages.append
    )
    scores = result.result["leaderboard"][0]["scores"]
    assert set(scores) == {"logme", "hscore", "knn", "leep", "nce", "source_confidence"}
    assert 0 <= scores["knn"] <= 1 and 0 <= scores["source_confidence"] <= 1
    assert any("scorer broken failed on tiny (ZeroDivisionError" in m for m in messages)
    assert "score_knn" in result.leaderboard().columns


def test_a_setting_too_long_now_is_followed_by_its_candidate_at_the_next_fewer_epochs():
    from autotl.selection.leaderboard import TrialKey as Key
    from autotl.selection.search import fallbacks

    untried = [Key("a", 1.0, 0.5), Key("a", 1.0, 1.0), Key("a", 3.0, 1.0), Key("b", 1.0, 1.0)]
    assert fallbacks(untried, Key("a", 1.0, 2.0)) == [Key("a", 1.0, 1.0)]
    assert fallbacks(untried, Key("a", 0.3, 2.0)) == [Key("a", 1.0, 1.0), Key("a", 3.0, 1.0)]  # any rate at that length
    assert fallbacks(untried, Key("b", 1.0, 2.0)) == [Key("b", 1.0, 1.0)]
    assert fallbacks(untried, Key("b", 1.0, 1.0)) == untried  # nothing shorter left: any untried setting
    assert fallbacks(untried, None) == untried


def test_scores_are_standardised_across_sources_and_averaged_over_the_ranking_scorers():
    from autotl.contracts.scorers import FunctionScorer
    from autotl.selection.scoring import combine

    scorers = [
        FunctionScorer("logme", ""),
        FunctionScorer("knn", ""),
        FunctionScorer("hscore", "", ranks_sources=False),
    ]
    combined = combine(
        {
            "a": {"logme": 1.0, "knn": 0.9, "hscore": 9.0},
            "b": {"logme": 3.0, "knn": 0.5, "hscore": 1.0},
            "c": {"logme": 2.0, "hscore": 5.0},
        },
        scorers,
    )
    assert combined["a"] == pytest.approx((-1.2247 + 1.0) / 2, abs=1e-3)
    assert combined["c"] == pytest.approx(0.0)
    assert combined["b"] == pytest.approx(-combined["a"])


def test_a_study_resumed_by_name_keeps_its_finished_trials_and_kills_what_was_left_running(
    select_setup, colour_images, monkeypatch
):
    import optuna

    from autotl.selection.study import GRACE_BEATS, open_storage

    monkeypatch.setenv("AUTOTL_HEARTBEAT_S", "1")

    first = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["widths"],
        regularizers=["none"],
        study="resumable",
        progress=lambda message: None,
    )
    finished = [row for row in first.result["leaderboard"] if row["state"] in ("complete", "pruned")]
    # What a hard kill leaves behind: a select run still RUNNING, and a trial the study still thinks runs.
    client = mlflow.MlflowClient()
    stale = client.create_run(client.get_experiment_by_name("autotl").experiment_id)
    client.log_param(stale.info.run_id, "study", "resumable")
    storage = f"sqlite:///{Path('mlruns/optuna.db').resolve()}"
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    client.set_tag(
        stale.info.run_id, "autotl.process", f"{socket.gethostname()}:{exited.stdout.strip()}"
    )  # a process that is gone
    heartbeats = open_storage(storage)
    left = optuna.load_study(study_name="resumable", storage=heartbeats).ask()
    heartbeats.record_heartbeat(
        heartbeats.get_trial_id_from_study_id_trial_number(heartbeats.get_study_id_from_name("resumable"), left.number)
    )
    time.sleep(GRACE_BEATS + 1.5)  # its last heartbeat more than a grace period ago, by SQLite's clock of whole seconds
    messages = []
    again = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["widths"],
        regularizers=["none"],
        study="resumable",
        progress=messages.append,
    )
    assert "Study resumable: 1 run(s) left RUNNING by an earlier process marked KILLED" in messages
    assert f"Study resumable: {len(finished)} finished trial(s) taken up, from an earlier run" in " ".join(messages)
    assert not any(
        m.startswith("Trial") for m in (message.split("] ", 1)[-1] for message in messages)
    )  # nothing ran again
    assert again.exhausted and again.val_metric == max(
        row["val_metric"] for row in finished if row["state"] == "complete"
    )
    assert client.get_run(stale.info.run_id).info.status == "KILLED"
    assert (
        optuna.load_study(study_name="resumable", storage=storage).trials[left.number].state
        == optuna.trial.TrialState.FAIL
    )
    assert "RUNNING" not in {run.info.status for run in runs()}


def test_select_cli_json(cli, select_setup, colour_images):
    result = cli(
        "select",
        "--data",
        colour_images,
        "--budget",
        "1h",
        "--models",
        "tiny",
        "--strategies",
        "linear_probe",
        "--json",
    )
    assert result.exit_code == 0, result.output
    import json

    report = json.loads(result.stdout)
    for key in (
        "source",
        "strategy",
        "regularizer",
        "params",
        "val_metric",
        "test_metric",
        "test_accuracy",
        "baseline_test_accuracy",
        "run_id",
        "model_uri",
        "budget_s",
        "elapsed_s",
        "train_command",
        "leaderboard",
    ):
        assert key in report
    assert report["budget_s"] == 3600
    assert report["train_command"].startswith("autotl train")


def test_budget_must_be_a_duration(cli, colour_images):
    result = cli("select", "--data", colour_images, "--budget", "soon")
    assert result.exit_code == 2 and "--budget 'soon'" in result.stderr


def test_a_storage_that_cannot_be_used_is_a_usage_error(cli, tiny, colour_images):
    result = cli("select", "--data", colour_images, "--models", "tiny", "--storage", "nosuchdb://nowhere")
    assert result.exit_code == 2 and "--storage 'nosuchdb://nowhere': SQLAlchemy cannot use it" in result.stderr


def test_an_unreachable_storage_is_a_usage_error_before_any_scoring(cli, tiny, colour_images):
    import tiny_plugin

    result = cli(
        "select", "--data", colour_images, "--models", "tiny", "--storage", "postgresql://me:s3cret@127.0.0.1:1/db"
    )
    assert result.exit_code == 2 and "--storage 'postgresql://me:***@127.0.0.1:1/db': cannot reach it" in result.stderr
    assert "s3cret" not in result.stderr and tiny_plugin.SOURCE.forward_calls == 0  # nothing was featurized


def test_a_storage_password_is_never_shown(cli, tiny, colour_images):
    from autotl.tracking import masked

    result = cli(
        "select", "--data", colour_images, "--models", "tiny", "--storage", "nosuchdb://me:s3cret@db.example/x"
    )
    assert result.exit_code == 2 and "nosuchdb://me:***@db.example/x" in result.stderr and "s3cret" not in result.stderr
    assert masked("http://me:s3cret@mlflow.example:5000/") == "http://me:***@mlflow.example:5000/"
    assert masked("sqlite:///mlruns/optuna.db") == "sqlite:///mlruns/optuna.db"


@pytest.mark.parametrize("side, native, expected", [(8, 224, 64), (40, 224, 160), (500, 224, 224), (8, 32, 32)])
def test_small_images_are_not_blown_up_to_the_full_input_size(side, native, expected):
    from types import SimpleNamespace

    from autotl.selection.trials import image_size

    dataset = SimpleNamespace(modality="image", summary={"width": {"median": side}, "height": {"median": side * 2}})
    source = SimpleNamespace(spec=SimpleNamespace(input_size=(3, native, native)))
    assert image_size(dataset, source) == expected


def test_one_training_step_is_timed_and_other_sources_are_scaled_by_their_featurizing_time(
    select_setup, colour_images, twin
):
    messages = []
    result = autotl.select(
        colour_images,
        20,
        models=["tiny", "twin"],
        strategies=["finetune"],
        regularizers=["none"],
        progress=messages.append,
    )
    assert sum("timing a training step" in m for m in messages) == 1
    trials = [row for row in result.result["leaderboard"] if row["trial"] is not None]
    assert {row["source"] for row in trials} == {"tiny", "twin"} and all(row["predicted_s"] > 0 for row in trials)


def test_a_sources_first_trial_is_not_pruned_for_a_slower_first_epoch_than_another_sources(
    select_setup, colour_images, twin
):
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny", "twin"],
        strategies=["slow_later"],
        regularizers=["none", "none_either"],
        progress=lambda message: None,
    )
    trials = sorted(
        (row for row in result.result["leaderboard"] if row["trial"] is not None), key=lambda row: row["trial"]
    )
    later = next(row for row in trials if row["source"] != trials[0]["source"])
    assert later["trial"] == 2 and later["state"] == "complete"  # after the two first guesses on the first source,
    # whose second one's first epoch, ranked against it by plain successive halving, would prune it there


def test_cross_validation_judges_each_trial_by_the_mean_over_its_folds(select_setup, colour_images):
    messages = []
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["flaky"],
        regularizers=["none"],
        cv=3,
        progress=messages.append,
    )
    complete = [row for row in result.result["leaderboard"] if row["state"] == "complete"]
    assert complete and any("mean of 3 folds" in m for m in messages)
    client = mlflow.MlflowClient()
    for row in complete:
        folds = client.get_metric_history(row["run_id"], "fold_val_accuracy")
        assert len(folds) == 3 and row["val_metric"] == pytest.approx(sum(m.value for m in folds) / 3)


def test_folds_cover_train_and_val_once_and_leave_test_alone(colour_images):
    from autotl.selection.folds import folds

    dataset = read_dataset(colour_images, IntakeOptions(), build_registry().items("data_formats"))
    pool = dataset.splits["train"] + dataset.splits["val"]
    split = folds(dataset, 3, seed=0)
    assert sorted(e.input for fold in split for e in fold["val"]) == sorted(e.input for e in pool)
    assert all(set(fold["train"]).isdisjoint(fold["val"]) and fold["test"] == dataset.splits["test"] for fold in split)
    assert folds(dataset, 0, seed=0) is None


def test_more_folds_than_the_rarest_class_has_examples_is_a_usage_error(cli, tiny, colour_images):
    result = cli("select", "--data", colour_images, "--models", "tiny", "--cv", "50")
    assert result.exit_code == 2 and "--cv 50: give 0 (no cross-validation) or 2 to" in result.stderr


def test_a_selection_leaves_figures_to_look_at_and_a_registered_model(select_setup, colour_images):
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["widths"],
        regularizers=["none"],
        register="colours",
        progress=lambda message: None,
    )
    client = mlflow.MlflowClient()
    plots = {artifact.path for artifact in client.list_artifacts(result.run_id, "plots")}
    assert {
        "plots/optimization_history.png",
        "plots/param_importances.png",
        "plots/trial_learning_curves.png",
        "plots/learning_curve.png",
        "plots/confusion_matrix.png",
    } <= plots
    assert result.model_uri == "models:/colours/1"
    model = mlflow.models.get_model_info(result.model_uri)
    assert model.signature is not None and model.saved_input_example_info is not None
    with autotl.load(result.model_uri) as model:
        assert len(model.predict([next(colour_images.rglob("*.png"))])) == 1
