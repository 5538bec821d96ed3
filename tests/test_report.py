"""What ``select``, ``inspect`` and ``predict`` print fits an 80-column screen and puts the answer first."""

import json
import re
from dataclasses import asdict

import pytest

from autotl.registry import LeftOut, Names, summarise_left_out
from autotl.runs.result import Result
from autotl.selection.leaderboard import Row, RowState

LONG_SOURCE = "a-source-model-with-a-very-long-name-from-some-hub-org"


@pytest.fixture(autouse=True)
def screen(monkeypatch):
    """An 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")


def over_80(text: str) -> list[str]:
    return [line for line in text.splitlines() if len(line) > 80]


def test_select_fits_80_columns_and_says_the_choice_before_the_leaderboard(cli, tiny, colour_images, tmp_path):
    result = cli(
        *["select", "--data", colour_images, "--budget", "1h", "--models", "tiny", "--strategies", "linear_probe"],
    )
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert not over_80(result.stdout)
    chosen = next(i for i, line in enumerate(out) if line.startswith("Chosen: "))
    board = next(i for i, line in enumerate(out) if line.startswith("Leaderboard"))
    assert chosen < board
    assert any(line.startswith("Test accuracy: ") for line in out[chosen:board])
    assert any(line.startswith("Uplift over no transfer: ") for line in out[chosen:board])
    next_command = " ".join(out[chosen:board]).replace("\\", " ")
    assert re.search(r"autotl predict +--model runs:/\w+/model +--data NEW_DATA", next_command)
    assert re.search(r"^\d+ left out, for \d+ reason\(s\): see --all or `autotl inspect`$", result.stdout, re.M)
    assert "Warning" not in result.output


def row(candidate: str, state: RowState, trial: int | None = None, reason: str = "") -> dict:
    """A leaderboard row as ``Result.leaderboard`` holds it."""
    source, _, rest = candidate.partition(" + ")
    strategy, _, regularizer = rest.partition(" + ")
    done = state in (RowState.COMPLETE, RowState.NOT_CHOSEN)
    return asdict(
        Row(
            candidate,
            source,
            strategy,
            regularizer,
            trial=trial,
            seconds=12.0 if done else None,
            val_metric=0.9 - 0.01 * (trial or 0) if done else None,
            val_se=0.05 if done else None,
            state=state,
            reason=reason,
        )
    )


@pytest.fixture
def many_rows(monkeypatch, colour_images):
    """``select`` answers at once with a result of 14 trials, 7 candidates not tried and 6 left out,
    every name long."""
    from autotl.runs import select

    tried = [
        row(f"{LONG_SOURCE} + partial_freeze + delta", RowState.COMPLETE if t else RowState.NOT_CHOSEN, t)
        for t in range(14)
    ]
    not_tried = [
        row(
            f"{LONG_SOURCE}-{i} + lp_ft + l2sp",
            RowState.UNTRIED,
            reason="the budget ran out before the search reached it",
        )
        for i in range(5)
    ] + [
        row(f"{LONG_SOURCE}-{i} + lora + kl", RowState.DROPPED, reason="combined score 0.10, below the top 3")
        for i in range(2)
    ]
    left_out = [
        row(
            f"{source} + linear_probe + {reg}",
            RowState.LEFT_OUT,
            reason=f"{reg} needs X, which {source} with linear_probe does not give",
        )
        for source in ("src1", "src2")
        for reg in ("kl", "bss")
    ] + [row(name, RowState.LEFT_OUT, reason="text model; the data is image") for name in ("t1", "t2")]
    result = Result(
        source=LONG_SOURCE,
        strategy="partial_freeze",
        regularizer="delta",
        params={"lr": 0.001, "epochs": 3},
        metric="accuracy",
        val_metric=0.9,
        test_metric=0.85,
        test_accuracy=0.85,
        run_id="0123456789abcdef0123456789abcdef",
        model_uri="runs:/0123456789abcdef0123456789abcdef/model",
        elapsed_s=50,
        train_command=f"autotl train --data {colour_images} --model {LONG_SOURCE} --strategy partial_freeze "
        "--regularizer delta --set lr=0.001 --set epochs=3 --metric accuracy --seed 0",
        best_epoch=3,
        baseline_test_accuracy=0.6,
        decision="the best mean validation accuracy of 14 trials, " * 4,
        budget_s=45,
        leaderboard=tried + not_tried + left_out,
        expected_accuracy={"accuracy": 0.83, "low": 0.7, "high": 0.92, "examples": 30, "compared": 14, "method": "x"},
    )
    result.class_recall = {"blue": 1.0, "green": 0.5, "red": 1.0}  # the field the lead adds to Result
    monkeypatch.setattr(select, "select_with", lambda data, options, progress, **_: result)
    return colour_images


def table_rows(out: str) -> list[str]:
    """The leaderboard's rows: the lines under its header's dashes, up to the first counted line."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"-+  -+", line)) + 1
    end = next(i for i in range(start, len(lines)) if re.match(r"\d+ (not tried|left out)", lines[i]))
    return lines[start:end]


def test_select_shows_the_top_ten_rows_and_counts_the_rest_in_a_line_each(cli, many_rows):
    result = cli("select", "--data", many_rows, "--tracking-uri", "sqlite:////srv/mlflow.db")
    assert result.exit_code == 0, result.output
    assert not over_80(result.stdout)
    assert len(table_rows(result.stdout)) == 10
    assert "7 not tried (5 untried, 2 dropped): see --all" in result.stdout
    assert "6 left out, for 2 reason(s): see --all or `autotl inspect`" in result.stdout
    assert "Recall per class: blue 1.00, green 0.50, red 1.00" in result.stdout
    assert "--data NEW_DATA --tracking-uri sqlite:////srv/mlflow.db" in result.stdout
    assert "Uplift over no transfer: +25.0 points (best no-transfer baseline 0.6000)" in result.stdout


def test_select_all_shows_every_row_and_every_reason(cli, many_rows):
    result = cli("select", "--data", many_rows, "--all")
    assert result.exit_code == 0, result.output
    assert not over_80(result.stdout)
    assert len(table_rows(result.stdout)) == 14 + 7
    assert "not tried (" not in result.stdout
    assert re.search(
        r"^6 left out:\n  - 4 × kl or bss needs X, which src1 or src2 with linear_probe does not give\n",
        result.stdout,
        re.M,
    )
    assert "  - 2 × text model; the data is image (t1, t2)" in result.stdout


def test_each_left_out_reason_is_one_line_with_its_count():
    items = (
        [
            LeftOut(Names(source, strategy, reg), f"{reg} needs X, which {source} with {strategy} does not give", "")
            for source in ("src-a", "src-b", "src-c")
            for strategy in ("probe", "scratch")
            for reg in ("kl", "bss")
        ]
        + [
            LeftOut(Names(source, "setfit", "none"), "setfit needs a text encoder, which the source does not offer")
            for source in ("src-a", "src-b", "src-c")
        ]
        + [
            LeftOut(Names("d"), "weights not available: no d.pth (`autotl models pull d` fetches them)"),
            LeftOut(Names("e"), "weights not available: no e.pth (`autotl models pull e` fetches them)"),
        ]
    )
    assert summarise_left_out(items) == [
        "12 × kl or bss needs X, which src-a, src-b or src-c with probe or scratch does not give",
        "3 × setfit needs a text encoder, which the source does not offer",
        "2 × weights not available (d, e): see `autotl models`",
    ]


def test_inspect_counts_the_candidates_and_groups_the_left_out_by_reason(cli, tiny, colour_images):
    result = cli("inspect", "--data", colour_images, "--models", "tiny")
    assert result.exit_code == 0, result.output
    report = json.loads(cli("inspect", "--data", colour_images, "--models", "tiny", "--json").stdout)
    out = result.stdout.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("Left out:"))
    assert out[start] == f"Left out: {len(report['left_out'])}"
    counts = [int(m.group(1)) for line in out[start + 1 :] if (m := re.match(r"  - (\d+) × ", line))]
    assert sum(counts) == len(report["left_out"]) and len(counts) < len(report["left_out"])
    assert f"Candidates select would try: {len(report['candidates'])}" in result.stdout


def test_inspect_says_a_problem_once(cli, image_folder):
    root = image_folder({"cat": 4, "dog": 4})
    (root / "cat" / "broken.jpg").write_bytes(b"garbage")
    result = cli("inspect", "--data", root, "--skip-bad-files")
    assert result.exit_code == 0, result.output
    assert result.output.count("cannot be read as images") == 1
    assert re.search(r"^Problems:\s*\n  - skipped 1 file\(s\) cannot be read as images", result.stdout, re.M)


def test_predict_with_labels_gives_the_macro_f1_and_each_class_recall(cli, tiny, colour_images):
    trained = cli("train", "--data", colour_images, "--model", "tiny", "--strategy", "linear_probe", "--json")
    assert trained.exit_code == 0, trained.output
    uri = json.loads(trained.stdout)["model_uri"]
    result = cli("predict", "--model", uri, "--data", colour_images)
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    accuracy = next(i for i, line in enumerate(err) if line.startswith("Accuracy: "))
    assert re.fullmatch(r"Macro F1: \d\.\d{4}", err[accuracy + 1])
    assert re.fullmatch(r"Recall per class: (blue|red) \d\.\d\d, (blue|red) \d\.\d\d", err[accuracy + 2])
    assert not over_80(result.stderr)


def test_the_figure_of_scores_against_results_of_a_search_without_trials_warns_nothing():
    """A select whose budget ran no trial still draws each source's score; matplotlib warned of an empty legend."""
    import warnings

    from autotl import reports

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reports._scores_against_results([], {"tiny": 1.0, "twin": 2.0}, "accuracy")


def test_a_shortened_candidate_keeps_the_end_of_its_source_name_where_a_family_differs():
    from autotl.cli.report import shorten

    names = [f"efficientnet-lite{i} + linear_probe + none" for i in range(3)]
    shown = [shorten(name, 32, len("efficientnet-lite0")) for name in names]
    assert len(set(shown)) == 3 and all(len(text) == 32 and text.endswith(" + linear_probe + none") for text in shown)
