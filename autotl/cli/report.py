"""What ``select``, ``train`` and ``predict`` print: the answer first, then the few leaderboard rows
that matter, every line fitted to the terminal's width; the whole table stays in the MLflow run."""

import shlex
import shutil
import textwrap
from collections import Counter
from typing import Any

from autotl.registry import LeftOut, Names, summarise_left_out
from autotl.runs.result import Result
from autotl.selection.leaderboard import RowState, format_result

MIN_WIDTH = 80
TOP_ROWS = 10
NOT_TRIED = (RowState.UNTRIED, RowState.SKIPPED, RowState.DROPPED, RowState.CANDIDATE)
ELLIPSIS = "…"


def screen_width() -> int:
    """The terminal's columns (``COLUMNS`` first), never fewer than 80: a pipe or a log file has no width."""
    return max(MIN_WIDTH, shutil.get_terminal_size((MIN_WIDTH, 24)).columns)


def wrapped(text: str, width: int, indent: str = "  ") -> list[str]:
    """``text`` in lines of at most ``width``, the later ones indented; a URI or path is never cut."""
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False) or [""]


def shell_lines(words: list[str], width: int) -> list[str]:
    """A command to copy, each option with its value on one line, continued with a backslash."""
    chunks: list[str] = []
    for word in map(shlex.quote, words):
        if chunks and chunks[-1].startswith("--") and " " not in chunks[-1] and not word.startswith("--"):
            chunks[-1] += f" {word}"
        else:
            chunks.append(word)
    lines = [chunks[0]]
    for chunk in chunks[1:]:
        for part in [chunk] if len(chunk) + len(" \\") + 4 <= width else chunk.split(" ", 1):
            if len(lines[-1]) + len(part) + len(" \\") + 1 <= width:
                lines[-1] += f" {part}"
            else:
                lines[-1] += " \\"
                lines.append(f"    {part}")
    return lines


def predict_command(model_uri: str, tracking_uri: str | None, width: int) -> list[str]:
    """The next command: the chosen model's predictions on new data, from the same tracking store."""
    store = ["--tracking-uri", tracking_uri] if tracking_uri else []
    return shell_lines(["autotl", "predict", "--model", model_uri, "--data", "NEW_DATA", *store], width)


def recall_lines(recall: dict[str, float], width: int) -> list[str]:
    return wrapped("Recall per class: " + ", ".join(f"{name} {value:.2f}" for name, value in recall.items()), width)


def select_report(result: Result, tracking_uri: str | None, show_all: bool, width: int) -> list[str]:
    """The answer, then the leaderboard's top rows (every row with ``show_all``)."""
    return [*answer(result, tracking_uri, width), "", *leaderboard_lines(result, show_all, width)]


def answer(result: Result, tracking_uri: str | None, width: int) -> list[str]:
    """What was chosen, how good it is and what it buys over no transfer, and how to use it."""
    lines = wrapped(f"Chosen: {_chosen(result)}", width)
    lines += [f"Test accuracy: {result.test_accuracy:.4f}"]
    expected = result.expected_accuracy
    if expected:
        lines += wrapped(
            f"Expected on new data: {expected['accuracy']:.4f} (95 % interval {expected['low']:.4f} to "
            f"{expected['high']:.4f}, {expected['examples']} examples)",
            width,
        )
    lines += wrapped(_uplift(result), width)
    recall = result.class_recall
    if recall and len(set(recall.values())) > 1:
        lines += recall_lines(recall, width)
    lines += wrapped(f"Why: {result.decision}", width)
    if result.advice:
        lines += wrapped(result.advice, width)
    lines += wrapped(f"Model: {result.model_uri}", width)
    lines += ["Next:", *("  " + line for line in predict_command(result.model_uri, tracking_uri, width - 2))]
    if result.train_command:
        lines += ["Reproduce:", *("  " + line for line in shell_lines(shlex.split(result.train_command), width - 2))]
    lines += wrapped(f"Took {result.elapsed_s:.0f}s of the {result.budget_s:.0f}s budget.", width)
    return lines


def _chosen(result: Result) -> str:
    if result.source is not None:
        return f"{result.source} + {result.strategy} + {result.regularizer}"
    if result.members:
        return result.params["model"]
    return f"no transfer: {result.params['model']}"


def _uplift(result: Result) -> str:
    if result.baseline_test_accuracy is None:
        return "Uplift over no transfer: not known (no no-transfer baseline finished)"
    uplift = 100 * (result.test_accuracy - result.baseline_test_accuracy)
    return (
        f"Uplift over no transfer: {uplift:+.1f} points (best no-transfer baseline {result.baseline_test_accuracy:.4f})"
    )


def leaderboard_lines(result: Result, show_all: bool, width: int) -> list[str]:
    """The tried rows (the first ten, unless ``show_all``), and one line each counting those not
    tried and those left out; ``show_all`` lists those too."""
    rows = result.leaderboard
    tried = [row for row in rows if row["state"] not in (*NOT_TRIED, RowState.LEFT_OUT)]
    not_tried = [row for row in rows if row["state"] in NOT_TRIED]
    left_out = [row for row in rows if row["state"] == RowState.LEFT_OUT]
    shown = tried + not_tried if show_all else tried[:TOP_ROWS]
    title = f"Leaderboard: {len(tried)} tried" + ("" if len(shown) >= len(tried) else f", the top {len(shown)} shown")
    lines = [*wrapped(title, width), *table(shown, result.metric, width)]
    if not_tried and not show_all:
        counts = ", ".join(f"{count} {state}" for state, count in Counter(r["state"] for r in not_tried).items())
        lines += wrapped(f"{len(not_tried)} not tried ({counts}): see --all", width)
    if left_out:
        items = [LeftOut(Names(row["source"], row["strategy"], row["regularizer"]), row["reason"]) for row in left_out]
        reasons = summarise_left_out(items)
        if show_all:
            lines += wrapped(f"{len(left_out)} left out:", width)
            lines += [line for reason in reasons for line in wrapped(f"  - {reason}", width, "    ")]
        else:
            lines += wrapped(
                f"{len(left_out)} left out, for {len(reasons)} reason(s): see --all or `autotl inspect`", width
            )
    return lines


def table(rows: list[dict[str, Any]], metric: str, width: int) -> list[str]:
    """Few columns: the trial, the candidate (shortened to fit), its validation score, its time, and
    its state with why, cut at the screen's edge."""
    header = ("#", "candidate", f"val {metric} ± se", "took", "state / why")
    cells = [
        (
            "" if row["trial"] is None else str(row["trial"]),
            row["candidate"],
            format_result(row["val_metric"], row["val_se"]),
            "" if row["seconds"] is None else f"{row['seconds']:.0f}s",
            row["state"] + (f": {row['reason']}" if row["reason"] else ""),
        )
        for row in rows
    ]
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(header)]
    states = max([len(header[4]), *(len(row["state"]) for row in rows)])
    room = width - sum(widths[i] for i in (0, 2, 3)) - 2 * (len(header) - 1)
    widths[1] = min(widths[1], max(len("candidate"), room - states))
    widths[4] = room - widths[1]
    sources = [len(row["source"]) if row["candidate"].startswith(row["source"]) else 0 for row in rows]
    fitted = [
        tuple(
            shorten(c, w, source if i == 1 else 0) if i in (1, 4) else c for i, (c, w) in enumerate(zip(line, widths))
        )
        for line, source in zip(cells, sources)
    ]
    render = lambda line: "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()  # noqa: E731
    return [render(header), render(["-" * w for w in widths]), *map(render, fitted)]


def shorten(text: str, width: int, head: int = 0) -> str:
    """``text`` in ``width`` characters: its first ``head`` characters (a candidate's source name)
    lose their middle first, keeping both ends (``efficien…t-lite1``: sources of one family differ
    at the end) and the rest (its strategy and regularizer) whole; else it loses its end."""
    if len(text) <= width:
        return text
    rest = text[head:]
    room = width - len(rest) - len(ELLIPSIS)
    if head and room >= 4:
        start = (room + 1) // 2
        return text[:start] + ELLIPSIS + text[head - (room - start) : head] + rest
    return text[: width - len(ELLIPSIS)] + ELLIPSIS
