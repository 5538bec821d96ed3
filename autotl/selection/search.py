"""The selection itself: transferability scores on frozen features, then an Optuna study within the budget,
then the best trial refit on train+val (or, when that no longer fits, its own model) and a ``scratch``
baseline beside it."""

import math
import random
import time
from datetime import datetime
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from typing import Any, Callable, Iterable, Iterator

import mlflow
import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from autotl import tracking
from autotl.data import Dataset, Example
from autotl.errors import AutotlError
from autotl.needs import Capability, unmet
from autotl.processes import is_gone, this_process
from autotl.progress import Advance, bar
from autotl.registry import Candidate
from autotl.scorers import Scorer, ScoringInputs
from autotl.selection import costs, priors
from autotl.selection.budget import Budget
from autotl.selection.pruning import AmongLikeTrials
from autotl.strategies import Strategy
from autotl.training.device import release_memory, retry_at_half_batch
from autotl.training.classifier import predict_proba
from autotl.training.features import FeatureCache
from autotl.training.job import TrainedModel, TrainingJob
from autotl.training.metrics import score
from autotl.training.params import TrainParams

LR_SCALES = (0.3, 1.0, 3.0)
EPOCH_SCALES = (0.5, 1.0, 2.0)
SCORING_SHARE = 0.35
"""At most this share of the budget goes to featurizing and scoring sources..."""
FIRST_SOURCE_SHARE = 0.6
"""...except for the cheapest source, which may take this much: without one there is nothing to search."""
TOP_SOURCES = 3
BASELINE_SHARE = 0.2
"""The scratch baseline gets at most this share of the budget (or what its full run needs, if less);
when that is short, it trains fewer epochs or learning rates, and says so. When the share cannot
pay for one epoch, nothing is kept: the search gets the time, and the baseline what is left."""
RESCUE_OVERRUN = 0.05
"""When no trial has a result and not even the cheapest fits beside the baseline's share, the search
may run this share of the budget past it (half the 10 % the command is allowed; logging needs the
rest): after a slow start, one cheap result beats none."""
FROZEN_GUESS_S = 1.0
"""What a trial on cached features is taken to cost until one has been timed."""


@dataclass
class Row:
    """One leaderboard line: a candidate with its score, or a trial with its result."""

    candidate: str
    source: str
    strategy: str
    regularizer: str
    scores: dict[str, float] = field(default_factory=dict)
    trial: int | None = None
    params: dict[str, Any] | None = None
    predicted_s: float | None = None
    seconds: float | None = None
    val_metric: float | None = None
    state: str = "candidate"
    reason: str = ""
    run_id: str | None = None


@dataclass
class Selection:
    rows: list[Row]
    best: Row | None
    final: TrainedModel | None
    final_job: TrainingJob | None
    test_metric: float | None
    test_accuracy: float | None
    baseline_test_accuracy: float | None
    baseline_note: str
    exhausted: bool
    final_note: str = ""
    """Empty when the final model was refit on train+val; else which trial's model it is, and why."""


class Selector:
    def __init__(self, dataset: Dataset, candidates: list[Candidate], budget: Budget, *, scratch: Strategy | None,
                 metric: str, seed: int, device, cache: FeatureCache, storage: str, study_name: str,
                 progress: Callable[[str], None], source_data: Dataset | None = None, scorers: list[Scorer] = (),
                 folds: list[dict[str, list[Example]]] | None = None):
        self.dataset, self.candidates, self.budget, self.scratch = dataset, candidates, budget, scratch
        self.metric, self.seed, self.device, self.cache = metric, seed, device, cache
        self.storage, self.study_name, self.report = storage, study_name, progress
        self.source_data = source_data
        self.unseen_test = {**dataset.splits, "test": []}
        """The splits with test left out: nothing before the final model looks at it (nor pays to)."""
        self.folds = [{**fold, "test": []} for fold in folds or [dataset.splits]]
        """The splits each trial trains and validates on: the dataset's own, or K folds of train+val."""
        self.num_blocks: dict[str, int] = {}
        """Each scored source's number of blocks, which some settings' choices depend on."""
        self.rows: list[Row] = []
        self.budget_bar: Advance = lambda amount=1, completed=None: None
        self.study: optuna.Study | None = None
        self.scorers = list(scorers)
        self.scores: dict[str, dict[str, float]] = {}
        """Each scored source's transferability scores, by scorer."""
        self.combined: dict[str, float] = {}
        self.step_times: dict[tuple[str, int, int], costs.StepTimes] = {}
        """Calibrated step times by (source, image size, batch size)."""
        self.inference_s: dict[str, float] = {}
        """Each source's seconds per input to featurize, timed before scoring (unknown when its features were cached)."""
        self.head_times: dict[tuple[str, str], list[tuple[int, float]]] = {}
        """(epochs, seconds) of trials on cached features, by (source, strategy)."""
        self.trial_times: dict[str, list[tuple[float, float]]] = {}
        """(modelled, real) seconds of each source's end-to-end trials so far."""
        self.kept: tuple[Row, TrainedModel, TrainingJob] | None = None
        """This process's best trial so far with its model (on the CPU), the final model when a refit will not fit."""

    def progress(self, message: str) -> None:
        self.report(f"[{self.budget.elapsed():5.0f}s] {message}")
        self.budget_bar(completed=self.budget.elapsed())

    # -- jobs -------------------------------------------------------------------------------
    def job(self, candidate: Candidate, params: TrainParams, splits: dict | None = None, on_epoch=lambda e: None) -> TrainingJob:
        return TrainingJob(
            source=candidate.source, regularizer=candidate.regularizer, classes=self.dataset.classes,
            splits=splits or self.unseen_test, params=params, device=self.device, metric=self.metric,
            cache=self.cache, seed=self.seed, on_epoch=on_epoch, source_data=self.source_data,
        )

    def params(self, candidate: Candidate, lr_scale: float = 1.0, epochs_scale: float = 1.0, settings: dict | None = None) -> TrainParams:
        base = TrainParams.from_strings({}, candidate.strategy.defaults, candidate.settings)
        return replace(base, lr=base.lr * lr_scale, epochs=max(1, round(base.epochs * epochs_scale)),
                       image_size=image_size(self.dataset, candidate.source), extra=base.extra | (settings or {}))

    def setting_grid(self, candidate: Candidate) -> list[dict[str, float]]:
        """Every combination of the candidate's declared settings' choices."""
        blocks = self.num_blocks.get(candidate.source.name, 0)
        names = [s.name for s in candidate.settings]
        return [dict(zip(names, values)) for values in product(*(s.values(blocks) for s in candidate.settings))]

    # -- zero-training stage ----------------------------------------------------------------
    def score_sources(self) -> list[str]:
        """Every applicable scorer on each source's frozen training features, cheapest source first;
        returns the sources kept, best combined score first."""
        sources = {c.source.name: c for c in self.candidates}
        for name, candidate in sorted(sources.items(), key=lambda item: item[1].source.spec.flops_per_sample):
            job = self.job(candidate, self.params(candidate))
            backbone = job.load_backbone(pretrained=True)
            self.num_blocks[name] = len(backbone.blocks)
            per_input = costs.seconds_per_input(job, backbone, self.budget.clock)
            missing = job.cache.missing(backbone, job.source, [e for split in job.splits.values() for e in split])
            predicted = (per_input or 0.0) * len(missing)
            if per_input:
                self.inference_s[name] = per_input
            self.progress(f"  {name}: featurizing the rest should take ~{predicted:.0f}s")
            allowance = self.budget.seconds * (SCORING_SHARE if self.scores else FIRST_SOURCE_SHARE)
            if self.budget.elapsed() + predicted > allowance:
                self.drop(name, f"featurizing it would take ~{predicted:.0f}s, past the scoring share of the budget")
                continue
            with bar(self.report, f"featurizing {name}", len(missing), "inputs") as advance:
                job.cache.features(backbone, job.source, job.splits["val"], job.device, on_batch=advance)  # every probe needs them
                features = job.cache.features(backbone, job.source, job.splits["train"], job.device, on_batch=advance)
            self.scores[name] = self.score(candidate.source, backbone, features, job.labels("train"))
            self.progress(f"  {name}: {format_scores(self.scores[name])}")
        self.combined = combine(self.scores, self.scorers)
        ranked = sorted(self.combined, key=self.combined.get, reverse=True)
        for name in ranked[TOP_SOURCES:]:
            self.drop(name, f"combined score {self.combined[name]:.2f}, below the top {TOP_SOURCES}")
        return ranked[:TOP_SOURCES]

    def score(self, source, backbone, features, labels: list[int]) -> dict[str, float]:
        return transferability(self.scorers, source, backbone, features, labels, self.progress)

    def drop(self, source: str, reason: str) -> None:
        for c in self.candidates:
            if c.source.name == source:
                self.rows.append(Row(c.label, source, c.strategy.name, c.regularizer.name, self.scores.get(source, {}), state="dropped", reason=reason))

    # -- costs ------------------------------------------------------------------------------
    def predicted(self, candidate: Candidate, params: TrainParams) -> float:
        """Seconds the trial should take. A head's: fitted to its earlier trials' epochs and seconds
        (a guess before any). End to end: the calibrated step times scaled by the strategy's and
        regularizer's work, then fitted to how long this source's trials really took against that
        model (loading, evaluation and the device's moods are not in it)."""
        if candidate.strategy.cached_features:
            seen = self.head_times.get((candidate.source.name, candidate.strategy.name))
            return fixed_plus_proportional(seen, params.epochs) if seen else FROZEN_GUESS_S
        modelled = self.modelled(candidate, params)
        seen = self.trial_times.get(candidate.source.name)
        return fixed_plus_proportional(seen, modelled) if seen else modelled

    def modelled(self, candidate: Candidate, params: TrainParams) -> float:
        times = self.step_times_of(candidate, params)
        cost = candidate.strategy.step_cost(params, self.num_blocks.get(candidate.source.name, 0), self.source_data is not None)
        splits = self.dataset.splits
        epoch = costs.epoch_seconds(times, cost, candidate.regularizer.extra_forwards, len(splits["train"]), len(splits["val"]), params.batch_size)
        return epoch * params.epochs

    def step_times_of(self, candidate: Candidate, params: TrainParams) -> costs.StepTimes:
        """A training step is timed once per input and batch size, on the first source that needs it
        (seconds of a large text model's budget); another source's step is that one's scaled by their
        featurizing times, which the zero-training stage measured for free. A trial's real time then
        corrects the scale (``predicted``). A source featurized from the cache is timed itself."""
        key = (candidate.source.name, params.image_size, params.batch_size)
        if key in self.step_times:
            return self.step_times[key]
        reference = self.timed_alike(key)
        if reference is not None:
            return costs.scaled(self.step_times[reference], self.inference_s[key[0]] / self.inference_s[reference[0]])
        self.progress(f"  timing a training step of {candidate.source.name} for the cost model")
        self.step_times[key] = costs.step_times(self.job(candidate, params), self.budget.clock, self.progress)
        return self.step_times[key]

    def timed_alike(self, key: tuple[str, int, int]) -> tuple[str, int, int] | None:
        """A source timed at the same input and batch size, when its featurizing time and ``key``'s are known."""
        if not self.inference_s.get(key[0]):
            return None
        return next((k for k in self.step_times if k[1:] == key[1:] and self.inference_s.get(k[0])), None)

    def can_predict(self, candidate: Candidate, params: TrainParams) -> bool:
        """Whether ``predicted`` can answer without timing a step (which costs time of its own)."""
        key = (candidate.source.name, params.image_size, params.batch_size)
        return candidate.strategy.cached_features or key in self.step_times or self.timed_alike(key) is not None

    def observed(self, candidate: Candidate, params: TrainParams, seconds: float, epochs_run: int) -> None:
        """Learns from a trial's real time, for ``predicted``."""
        if candidate.strategy.cached_features:
            self.head_times.setdefault((candidate.source.name, candidate.strategy.name), []).append((epochs_run, seconds))
        else:
            modelled = self.modelled(candidate, replace(params, epochs=epochs_run))
            self.trial_times.setdefault(candidate.source.name, []).append((modelled, seconds))

    def baseline_reserve(self, candidate: Candidate) -> tuple[float, str]:
        """Seconds the search keeps for the ``scratch`` baseline on ``candidate``'s architecture, and
        why: none when its share of the budget would not pay for one epoch and the test, since
        holding that time back would buy no baseline, only fewer trials."""
        scratch = self.scratch_of(candidate)
        if scratch is None:
            return 0.0, "no scratch strategy for a baseline"
        test = self.test_seconds(candidate.source.name)
        share = BASELINE_SHARE * self.budget.seconds
        first_epoch = self.epoch_seconds(scratch) + test
        if first_epoch > share:
            return 0.0, f"none kept for the baseline (one epoch and the test ~{first_epoch:.0f}s, over its {share:.0f}s share)"
        reserve = min(self.predicted(scratch, self.params(scratch)) * len(LR_SCALES) + test, share)
        return reserve, f"{reserve:.0f}s kept for the baseline"

    def epoch_seconds(self, candidate: Candidate) -> float:
        return self.predicted(candidate, replace(self.params(candidate), epochs=1))

    def refit_seconds(self, row: Row | None) -> float:
        """What refitting ``row`` on train+val and testing it should take: its trial's cost at its best
        epoch count, in proportion to the larger training split (0 when there is no result yet)."""
        if row is None:
            return 0.0
        grown = (len(self.dataset.splits["train"]) + len(self.dataset.splits["val"])) / len(self.folds[0]["train"])
        return self.predicted(self.candidate(row.candidate), refit_params(row)) * grown + self.test_seconds(row.source)

    def test_seconds(self, source: str) -> float:
        """The final model's one pass over the test split: about what featurizing it takes."""
        return len(self.dataset.splits["test"]) * self.inference_s.get(source, 0.0)

    def best_row(self) -> Row | None:
        complete = [r for r in self.rows if r.state == "complete"]
        return max(complete, key=lambda r: r.val_metric) if complete else None

    def candidate(self, label: str) -> Candidate:
        return next(c for c in self.candidates if c.label == label)

    def scratch_of(self, candidate: Candidate) -> Candidate | None:
        none = next((c.regularizer for c in self.candidates if c.regularizer.name == "none"), candidate.regularizer)
        return Candidate(candidate.source, self.scratch, none) if self.scratch else None

    # -- the study --------------------------------------------------------------------------
    def search(self, kept_sources: list[str]) -> tuple[Row | None, bool]:
        pool = [c for c in self.candidates if c.source.name in kept_sources]
        by_label = {c.label: c for c in pool}
        everyone = {c.label: c for c in self.candidates}
        space = {  # every candidate, not just the pool: processes sharing the study may keep different sources
            "candidate": CategoricalDistribution(list(everyone)),
            "lr_scale": CategoricalDistribution(list(LR_SCALES)),
            "epochs_scale": CategoricalDistribution(list(EPOCH_SCALES)),
        }
        study = self.study = optuna.create_study(
            study_name=self.study_name, storage=open_storage(self.storage), direction="maximize", load_if_exists=True,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=AmongLikeTrials(lambda trial: like_trials(everyone.get(trial.params.get("candidate")))),
        )
        seen = self.resume(study, by_label)
        if not study.trials:
            for guess, why in self.first_guesses(pool, kept_sources):
                study.enqueue_trial({"candidate": guess.label, "lr_scale": 1.0, "epochs_scale": 1.0}, user_attrs={"why": why})
        best_source = next(c for c in pool if c.source.name == kept_sources[0])
        reserve, reserved = self.baseline_reserve(best_source)
        probes = [c for c in pool if c.strategy.name == "linear_probe"]
        cheapest = min(self.predicted(c, self.params(c, 1.0, min(EPOCH_SCALES))) for c in (probes or pool)) * len(self.folds)
        self.progress(f"Searching {len(pool)} candidates; {reserved}, cheapest trial ~{cheapest:.0f}s")
        settings = [(c.label, lr, epochs, tuple(grid.items())) for c in pool for grid in self.setting_grid(c)
                    for lr in LR_SCALES for epochs in EPOCH_SCALES]
        size = len(settings)
        spare = random.Random(self.seed)
        too_long: dict[tuple[str, float], tuple[float, str]] = {}
        """(candidate, epochs scale) pairs whose predicted time no longer fits: the prediction, and why."""

        def untried() -> Iterator[tuple]:
            return (s for s in settings if s not in seen and (s[0], s[2]) not in too_long)

        def queue_untried(rng: random.Random, too_long_now: tuple | None = None) -> None:
            options = fallbacks(list(untried()), too_long_now)
            if options:
                label, lr_scale, epochs_scale, grid = rng.choice(options)
                study.enqueue_trial({"candidate": label, "lr_scale": lr_scale, "epochs_scale": epochs_scale,
                                     **{_param_name(by_label[label], name): value for name, value in grid}})

        def keep() -> float:
            """Seconds no trial may take: the baseline's, and the refit of the best result so far while
            that still fits. A trial may leave no time to refit itself: if it wins, its own model is
            kept (``final_model``), and the time left goes to more trials."""
            best = self.best_row()
            if best is None and not self.budget.fits(cheapest, keep=reserve):
                return -RESCUE_OVERRUN * self.budget.seconds
            refit = self.refit_seconds(best)
            return reserve + (refit if self.budget.fits(refit, keep=reserve) else 0.0)  # a refit already lost is not kept for

        while next(untried(), None) is not None and self.budget.fits(cheapest, keep=keep()):
            seen |= {_tuple_key(t.user_attrs["key"]) for t in self.claims(study)}  # what processes sharing the study took
            trial = study.ask(space)
            trial.set_user_attr("process", this_process())
            candidate = by_label.get(trial.params["candidate"])
            if candidate is None:  # a candidate of a source this process dropped
                study.tell(trial, state=TrialState.PRUNED)
                queue_untried(spare)
                continue
            blocks = self.num_blocks.get(candidate.source.name, 0)
            chosen = {s.name: trial.suggest_categorical(_param_name(candidate, s.name), list(s.values(blocks))) for s in candidate.settings}
            key = (candidate.label, trial.params["lr_scale"], trial.params["epochs_scale"], tuple(chosen.items()))
            params = self.params(candidate, key[1], key[2], chosen)
            predicted = self.predicted(candidate, params) * len(self.folds)
            if key not in seen and not self.budget.fits(predicted, keep=keep()):
                too_long[(key[0], key[2])] = (predicted, f"predicted {predicted:.0f}s at {params.epochs} epochs would not leave time for the best trial's refit and the baseline")
            if key in seen or (key[0], key[2]) in too_long:  # known, or too long now: queue an untried setting that may fit
                study.tell(trial, state=TrialState.PRUNED)
                queue_untried(spare, key if (key[0], key[2]) in too_long else None)
                continue
            trial.set_user_attr("key", _json_key(key))
            if any(t.number != trial.number and t.user_attrs["key"] == _json_key(key) for t in self.claims(study)):
                # Another process claimed the same setting at the same moment: both step aside, and each queues
                # a setting of its own choosing (a shared seed would choose the same one again).
                study.tell(trial, state=TrialState.PRUNED)
                queue_untried(random.Random(f"{self.seed}:{this_process()}:{trial.number}"))
                continue
            seen.add(key)
            row = Row(candidate.label, candidate.source.name, candidate.strategy.name, candidate.regularizer.name,
                      self.scores.get(candidate.source.name, {}), trial.number, params.as_dict(), predicted,
                      reason=trial.user_attrs.get("why", ""))
            self.rows.append(row)
            self.run_trial(study, trial, candidate, params, row, keep=keep())
        self.take_up(study, by_label, mine=False)
        for label in dict.fromkeys(label for label, _ in too_long):  # one row each, at its cheapest epoch count
            predicted, reason = min(v for (other, _), v in too_long.items() if other == label)
            candidate = by_label[label]
            self.rows.append(Row(label, candidate.source.name, candidate.strategy.name, candidate.regularizer.name,
                                 self.scores.get(candidate.source.name, {}), predicted_s=predicted, state="skipped", reason=reason))
        if too_long:
            self.progress(f"Skipped for time: {len({label for label, _ in too_long})} candidate(s) at some epoch counts (see the leaderboard)")
        listed = {r.candidate for r in self.rows}
        for c in pool:
            if c.label not in listed:
                params = self.params(c)
                predicted = self.predicted(c, params) * len(self.folds) if self.can_predict(c, params) else None
                self.rows.append(Row(c.label, c.source.name, c.strategy.name, c.regularizer.name, self.scores.get(c.source.name, {}),
                                     predicted_s=predicted, state="untried", reason="the budget ran out before the search reached it"))
        tried = len(seen & set(settings))
        exhausted = tried >= size
        if not exhausted:
            self.progress(f"Search stopped: {size - tried} of {size} settings untried, for lack of time")
        return self.best_row(), exhausted

    def resume(self, study: optuna.Study, by_label: dict[str, Candidate]) -> set[tuple]:
        """Takes up what an earlier process left in a study of the same name: its finished trials
        join the leaderboard and are not run again; trials a dead process left running are marked
        failed. Returns the settings finished or being run, which this process leaves alone."""
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if _abandoned(trial):
                study.tell(trial.number, state=TrialState.FAIL)
        taken = self.take_up(study, by_label, mine=True)
        if taken:
            self.progress(f"Study {self.study_name}: {taken} finished trial(s) taken up from an earlier run")
        return {_tuple_key(t.user_attrs["key"]) for t in self.claims(study)}

    def take_up(self, study: optuna.Study, by_label: dict[str, Candidate], mine: bool) -> int:
        """Adds to the leaderboard the finished trials of the study that it lacks; ``mine``: those
        are from an earlier run, not from another process sharing the study now."""
        listed = {r.trial for r in self.rows if r.trial is not None}
        added = 0
        for trial in study.get_trials(deepcopy=False):
            if trial.state.is_finished() and "row" in trial.user_attrs and trial.number not in listed:
                row = Row(**trial.user_attrs["row"])
                if row.candidate not in by_label:
                    continue
                origin = "from an earlier run of this study" if mine else "by another process sharing this study"
                row.reason = "; ".join(filter(None, (row.reason, origin)))
                self.rows.append(row)
                added += 1
        return added

    @staticmethod
    def claims(study: optuna.Study) -> list:
        """Trials that hold their setting: finished with a result, or running in a live process."""
        return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("key") and (
            (t.state.is_finished() and "row" in t.user_attrs) or (t.state == TrialState.RUNNING and not _abandoned(t)))]

    def first_guesses(self, pool: list[Candidate], kept: list[str]) -> list[tuple[Candidate, str]]:
        """The priors' best guesses, with why: the two best on the best-scored source, then the
        best on each other kept source; those on cached features first, since they take a second
        and leave a result to fall back on before any long trial starts."""
        per_class = len(self.dataset.splits["train"]) / len(self.dataset.classes)
        guesses = []
        for position, source in enumerate(kept):
            similarity = priors.knn_similarity(self.scores.get(source, {}).get("knn"), len(self.dataset.classes))
            guide = priors.prior(per_class, similarity)
            ranked = priors.rank([c for c in pool if c.source.name == source], guide)
            ranked = [c for c in ranked if c.strategy.depth is not None]
            guesses += [(c, f"first guess: {guide.reason}") for c in ranked[: 2 if position == 0 else 1]]
        return sorted(guesses, key=lambda guess: not guess[0].strategy.cached_features)

    def run_trial(self, study, trial, candidate: Candidate, params: TrainParams, row: Row, keep: float = 0.0) -> None:
        """Trains one trial. A trial predicted short may run long: once an earlier trial has a result,
        this one stops before an epoch that would not end with ``keep`` seconds of the budget left."""
        started = self.budget.clock()
        epochs_run, mark = 0, started
        epochs_due = params.epochs * len(self.folds)
        self.progress(f"Trial {trial.number}: {candidate.label}, lr {params.lr:.2g}, {params.epochs} epochs (~{row.predicted_s:.0f}s)")

        def reporter(fold: int) -> Callable:
            """Every fold's epochs count for the cost model; the first fold's are logged and judged by the pruner."""

            def on_epoch(epoch) -> None:
                nonlocal epochs_run, mark
                epochs_run += 1
                tick()
                self.budget_bar(completed=self.budget.elapsed())
                now, epoch_s = self.budget.clock(), self.budget.clock() - mark
                mark = now
                if (epochs_run < epochs_due and not self.budget.fits(epoch_s, keep=keep)
                        and any(r.state == "complete" for r in self.rows)):
                    raise optuna.TrialPruned(f"stopped after epoch {epoch.epoch}: another would overrun the budget")
                if fold > 0:
                    return
                mlflow.log_metrics({f"val_{self.metric}": epoch.val_metric, "train_loss": epoch.train_loss}, step=epoch.epoch)
                trial.report(epoch.val_metric, epoch.epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at epoch {epoch.epoch}")

            return on_epoch

        try:
            with (bar(self.report, f"trial {trial.number}", params.epochs * len(self.folds), "epochs") as tick,
                  tracking.nested_run(f"trial {trial.number}: {candidate.label}", finished_on=(optuna.TrialPruned,)) as run):
                row.run_id = run.info.run_id
                mlflow.log_params({"source": row.source, "strategy": row.strategy, "regularizer": row.regularizer, **params.as_dict()})
                fits = []
                for fold, splits in enumerate(self.folds):
                    trained, batch_size = retry_at_half_batch(
                        lambda size, splits=splits, fold=fold: candidate.strategy.train(
                            self.job(candidate, replace(params, batch_size=size), splits, reporter(fold))),
                        row.params["batch_size"], self.device, self.progress)
                    if batch_size != row.params["batch_size"]:
                        row.reason = f"out of memory at batch size {row.params['batch_size']}, retried at {batch_size}"
                        row.params["batch_size"] = batch_size
                        mlflow.set_tag("autotl.batch_size_after_oom", batch_size)
                    fits.append(trained.fit)
                    if len(self.folds) > 1:
                        mlflow.log_metric(f"fold_val_{self.metric}", trained.fit.val_metric, step=fold)
                    if fold == 0:
                        first = trained, self.job(candidate, replace(params, batch_size=batch_size), splits)
                    del trained
                val_metric = float(np.mean([fit.val_metric for fit in fits]))
                mlflow.log_metric(f"best_val_{self.metric}", val_metric)
                if self.kept is None or val_metric > self.kept[0].val_metric:
                    first[0].classifier.cpu()  # off the accelerator, which the next trial needs
                    self.kept = (row, *first)
                del first
        except optuna.TrialPruned as pruned:
            row.state, row.reason, row.seconds = "pruned", str(pruned), self.budget.clock() - started
            self.progress(f"  {row.reason}")
            trial.set_user_attr("row", asdict(row))
            study.tell(trial, state=TrialState.PRUNED)
            return
        except KeyboardInterrupt:
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as error:  # one trial's fault must not end the study
            row.state, row.reason = "failed", f"{type(error).__name__}: {error}"
            study.tell(trial, state=TrialState.FAIL)
            self.progress(f"  failed: {row.reason}")
            return
        finally:
            release_memory(self.device)
            row.seconds = self.budget.clock() - started
            if epochs_run:
                self.observed(candidate, params, row.seconds, epochs_run)  # every fold's epochs: each costs about one epoch
        row.state, row.val_metric = "complete", val_metric
        row.params["best_epoch"] = max(1, round(float(np.median([fit.best_epoch for fit in fits]))))
        trial.set_user_attr("row", asdict(row))
        study.tell(trial, val_metric)
        folds = f", mean of {len(fits)} folds" if len(fits) > 1 else ""
        self.progress(f"  val {self.metric} {val_metric:.4f}{folds} ({row.seconds:.0f}s)")

    # -- after the search -------------------------------------------------------------------
    def final_model(self, best: Row) -> tuple[TrainedModel, TrainingJob, str]:
        """The best trial refit on train+val when the time left allows, else (the search spent that
        time on a trial that won) that trial's own model, trained on train, with why. The refit goes
        before the baseline, which gets what is left: the user keeps the model, the baseline only
        reports. A best trial of another process or an earlier run is always refit."""
        needed = self.refit_seconds(best)
        if self.kept is None or self.kept[0] is not best or self.budget.fits(needed):
            return *self.refit(best), ""
        trained, job = self.kept[1:]
        note = f"trial {best.trial}'s own model, trained on train: a refit on train+val {self.short_of_time(needed)}"
        self.progress(f"Keeping {note}")
        job = self.job(self.candidate(best.candidate), job.params, {**job.splits, "test": self.dataset.splits["test"]})
        trained.probabilities["test"] = self.test_probabilities(trained, job.params.batch_size)
        return trained, job, note

    def short_of_time(self, needed: float) -> str:
        """Why something was not run, to a tenth of a second: whole seconds can print a need equal to what was left."""
        return f"would take ~{needed:.1f}s, {max(0.0, self.budget.left()):.1f}s were left"

    def refit(self, best: Row) -> tuple[TrainedModel, TrainingJob]:
        """The best trial again on train+val, for its best epoch count; test seen once, here."""
        candidate, params = self.candidate(best.candidate), refit_params(best)
        splits = {"train": self.dataset.splits["train"] + self.dataset.splits["val"], "val": self.dataset.splits["val"], "test": self.dataset.splits["test"]}
        job = self.job(candidate, params, splits)
        self.progress(f"Refitting {candidate.label} on train+val for {params.epochs} epochs")
        return candidate.strategy.train(job), job

    def baseline(self, best: Row, epochs: int) -> tuple[float | None, str]:
        """``scratch`` on the chosen architecture with the same learning-rate choices and, for a
        fine-tuned choice, the same epochs; cut to what the time left allows, and said so."""
        candidate = self.candidate(best.candidate)
        scratch = self.scratch_of(candidate)
        if scratch is None:
            return None, "no scratch strategy is registered"
        if candidate.strategy.cached_features:  # frozen features: no epochs to match
            epochs = self.params(scratch).epochs
        per_epoch = self.epoch_seconds(scratch)
        test_s = self.test_seconds(candidate.source.name)
        affordable = int((self.budget.left() - test_s) // per_epoch) if per_epoch > 0 else epochs * len(LR_SCALES)
        if affordable < 1:
            return None, f"not trained: one epoch and the test {self.short_of_time(per_epoch + test_s)}"
        rates = sorted(LR_SCALES, key=lambda scale: scale != 1.0)[: len(LR_SCALES) if affordable >= len(LR_SCALES) else 1]
        epochs_run = min(epochs, max(1, affordable // len(rates)))
        results, run_s = [], 0.0
        for lr_scale in rates:
            if results and not self.budget.fits(run_s, keep=test_s):  # the last run took longer than predicted
                break
            params = replace(self.params(scratch, lr_scale), epochs=epochs_run)
            self.progress(f"Baseline: scratch {candidate.source.name}, lr {params.lr:.2g}, {epochs_run} epochs (~{per_epoch * epochs_run:.0f}s)")
            started = self.budget.clock()
            results.append(scratch.strategy.train(self.job(scratch, params)))
            run_s = self.budget.clock() - started
        chosen = max(results, key=lambda t: t.fit.val_metric)  # tested alone, like the chosen model
        labels = self.job(scratch, self.params(scratch), self.dataset.splits).labels("test")
        accuracy = score("accuracy", labels, self.test_probabilities(chosen, params.batch_size).argmax(1), len(self.dataset.classes))
        note = "" if (epochs_run, len(results)) == (epochs, len(LR_SCALES)) else (
            f"cut to the budget: {epochs_run} of {epochs} epochs, {len(results)} of {len(LR_SCALES)} learning rates")
        return accuracy, note

    def test_probabilities(self, trained: TrainedModel, batch_size: int) -> np.ndarray:
        """A model's one pass over the test split, which its training job left out."""
        inputs = [e.input for e in self.dataset.splits["test"]]
        probabilities = predict_proba(trained.classifier, inputs, trained.classifier.backbone.preprocessor, self.device, batch_size)
        trained.classifier.cpu()
        return probabilities

    def run(self) -> Selection:
        with bar(self.report, "budget", round(self.budget.seconds), "s") as self.budget_bar:
            return self.select()

    def select(self) -> Selection:
        self.progress(f"Scoring {len({c.source.name for c in self.candidates})} source(s) on frozen features")
        kept = self.score_sources()
        if not kept:
            return Selection(self.rows, None, None, None, None, None, None, "", False)
        best, exhausted = self.search(kept)
        if best is None:
            return Selection(self.rows, None, None, None, None, None, None, "", exhausted)
        final, job, final_note = self.final_model(best)
        labels = job.labels("test")
        predictions = final.probabilities["test"].argmax(1)
        test_metric = score(self.metric, labels, predictions, len(self.dataset.classes))
        test_accuracy = score("accuracy", labels, predictions, len(self.dataset.classes))
        baseline, note = self.baseline(best, best.params["best_epoch"])
        return Selection(self.rows, best, final, job, test_metric, test_accuracy, baseline, note, exhausted, final_note)


def refit_params(row: Row) -> TrainParams:
    """A trial's settings, for its best epoch count."""
    params = TrainParams.from_dict({k: v for k, v in row.params.items() if k != "best_epoch"})
    return replace(params, epochs=row.params["best_epoch"])


def open_storage(url: str, attempts: int = 4) -> optuna.storages.RDBStorage:
    """Optuna's storage at ``url``. Processes that start together on a new database race to create
    its tables (PostgreSQL then refuses the second copy of a type): the loser waits and tries again."""
    import sqlalchemy

    for attempt in range(attempts - 1):
        try:
            return optuna.storages.RDBStorage(url)
        except sqlalchemy.exc.DBAPIError:
            time.sleep(1 + attempt + random.random())
    return optuna.storages.RDBStorage(url)

def _abandoned(trial) -> bool:
    """Left RUNNING by a process that is gone. A trial names its process right after it is asked
    for; one that does not yet is given a minute (after that, an older autotl's or a killed one's)."""
    process = trial.user_attrs.get("process")
    if process is None:
        started = trial.datetime_start
        return started is None or (datetime.now() - started).total_seconds() > 60
    return is_gone(process)

def _json_key(key: tuple) -> list:
    label, lr_scale, epochs_scale, settings = key
    return [label, lr_scale, epochs_scale, [list(item) for item in settings]]


def _tuple_key(key: list) -> tuple:
    label, lr_scale, epochs_scale, settings = key
    return (label, lr_scale, epochs_scale, tuple(tuple(item) for item in settings))


def folds(dataset: Dataset, k: int, seed: int) -> list[dict[str, list[Example]]] | None:
    """K stratified folds of train+val (scikit-learn), each with the dataset's test split; None for k = 0."""
    if k == 0:
        return None
    from collections import Counter

    from sklearn.model_selection import StratifiedKFold

    pool = dataset.splits["train"] + dataset.splits["val"]
    labels = [e.label for e in pool]
    label, fewest = min(Counter(labels).items(), key=lambda item: item[1])
    if k < 2 or fewest < k:
        raise AutotlError(f"--cv {k}: give 0 (no cross-validation) or 2 to {fewest}, the examples of the rarest class "
                          f"({label!r}) in train+val" if fewest >= 2 else f"--cv {k}: class {label!r} has a single example in train+val")
    splitter = StratifiedKFold(k, shuffle=True, random_state=seed)
    return [{"train": [pool[i] for i in train], "val": [pool[i] for i in val], "test": dataset.splits["test"]}
            for train, val in splitter.split(np.zeros((len(pool), 1)), labels)]

def transferability(scorers: list[Scorer], source, backbone, features: np.ndarray, labels: list[int],
                    warn: Callable[[str], None]) -> dict[str, float]:
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


def like_trials(candidate: Candidate | None) -> str:
    """The pruner's groups: trials of one source and strategy. Epochs of different strategies
    train different weights, and features of different scales train a head at different speeds:
    an early epoch ranks neither against the other, and a source's first trial runs to the end."""
    return f"{candidate.source.name} {candidate.strategy.name}" if candidate else ""


def fallbacks(untried: list[tuple], too_long_now: tuple | None) -> list[tuple]:
    """The untried settings to queue one from. After a setting too long now: its candidate at the
    next fewer epochs (the same learning rate and settings when untried), so a guess that does not
    fit is tried shorter before a random setting is."""
    if too_long_now is None:
        return untried
    label, lr_scale, epochs_scale, grid = too_long_now
    shorter = [s for s in untried if s[0] == label and s[2] < epochs_scale]
    nearest = [s for s in shorter if s[2] == max(o[2] for o in shorter)]
    return [s for s in nearest if s[1] == lr_scale and s[3] == grid] or nearest or untried


def fixed_plus_proportional(seen: list[tuple[float, float]], amount: float) -> float:
    """Seconds for ``amount`` of work (epochs, or modelled seconds) from the (amount, seconds) of
    earlier trials: a fixed cost plus a cost in proportion once two amounts were seen (a trial
    pruned after one epoch is mostly fixed cost), else in proportion alone, which overestimates."""
    amounts, seconds = zip(*seen)
    if len(set(amounts)) > 1:
        rate, fixed = np.polyfit(amounts, seconds, 1)
        if rate > 0:
            return max(0.0, float(fixed)) + float(rate) * amount
    return max(s / a for a, s in seen) * amount

def combine(scores: dict[str, dict[str, float]], scorers: Iterable[Scorer]) -> dict[str, float]:
    """One number per source: the mean, over the ranking scorers it has, of each score standardised
    across the sources (scores live on different scales; a score every source ties on counts zero)."""
    standardised: dict[str, list[float]] = {source: [] for source in scores}
    for scorer in {s.name for s in scorers if s.ranks_sources} & {name for values in scores.values() for name in values}:
        values = {source: v[scorer] for source, v in scores.items() if scorer in v and np.isfinite(v[scorer])}
        spread = float(np.std(list(values.values()))) if values else 0.0
        centre = float(np.mean(list(values.values()))) if values else 0.0
        for source, value in values.items():
            standardised[source].append((value - centre) / spread if spread > 0 else 0.0)
    return {source: float(np.mean(z)) if z else 0.0 for source, z in standardised.items()}


def format_scores(scores: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.3g}" for name, value in scores.items())


def _param_name(candidate: Candidate, setting: str) -> str:
    """Optuna's name for a declared setting: one per candidate, since its choices may depend on the source."""
    return f"{candidate.label}: {setting}"


def image_size(dataset: Dataset, source) -> int:
    """Small images are not blown up to the source's full input size: four times their shorter
    median side, in steps of 32, at least 64 pixels, at most the source's own size (0 for text)."""
    sizes = dataset.summary
    if dataset.modality != "image" or "width" not in sizes or "height" not in sizes:
        return 0  # text, or an image format that does not report sizes: the source's own
    native = source.spec.input_size[-1]
    side = min(sizes["width"]["median"], sizes["height"]["median"])
    return int(min(native, max(64, 32 * math.ceil(4 * side / 32))))


def leaderboard(rows: list[Row]) -> list[dict[str, Any]]:
    order = {"complete": 0, "pruned": 1, "failed": 2, "skipped": 3, "untried": 4, "dropped": 5}
    ranked = sorted(rows, key=lambda r: (order.get(r.state, 6), -(r.val_metric or -1), r.trial or 0))
    return [asdict(r) for r in ranked]


def format_leaderboard(rows: list[dict[str, Any]], metric: str) -> str:
    """A plain-text table: the terminal shows it and the MLflow run keeps it."""
    header = ("#", "candidate", "scores", "lr", "epochs", "predicted", "took", f"val {metric}", "state / why")
    lines = []
    for row in rows:
        params = row["params"] or {}
        lines.append((
            "" if row["trial"] is None else str(row["trial"]),
            row["candidate"],
            format_scores(row["scores"]),
            f"{params['lr']:.2g}" if "lr" in params else "",
            str(params.get("best_epoch", params.get("epochs", ""))),
            "" if row["predicted_s"] is None else f"{row['predicted_s']:.0f}s",
            "" if row["seconds"] is None else f"{row['seconds']:.0f}s",
            "" if row["val_metric"] is None else f"{row['val_metric']:.4f}",
            row["state"] + (f": {row['reason']}" if row["reason"] else ""),
        ))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    render = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([render(header), render(["-" * w for w in widths]), *map(render, lines)])
