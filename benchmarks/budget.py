"""The budget as wall time on a busy machine: `autotl select` timed from outside (start-up, logging
and exit included) against its `--budget`, in two conditions:

- ``load``: a competing CPU load, one busy process per core in a session of its own (as another
  user's job would be), started before the select and stopped after it;
- ``workers``: the select coordinating two `autotl worker` processes on the same machine and study.

Every run has a new tracking store and feature cache, so it also pays for creating the store and
featurizing the data, as a user's first run does (the harder case: a store that kept an earlier
run's logging time prices the closing better). Appends a
row per run to a CSV (a stopped run resumes) and prints a Markdown table with the worst
wall/budget of each budget (the contract: 1.1 at most).

    python benchmarks/budget.py --data benchmarks/.work/shapes-rgba-8 --budgets 30s 2m 10m \
        --conditions load workers --results benchmarks/results/budget/budget.csv
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).parent))
import workers  # noqa: E402 - a sibling script: one way to run a select beside its workers

from autotl.selection.budget import parse_budget  # noqa: E402

FIELDS = [
    "target",
    "condition",
    "budget_s",
    "wall_s",
    "ratio",
    "elapsed_s",
    "workers_after_s",
    "workers_stopped",
    "complete",
    "by_workers",
    "choice",
    "test_accuracy",
]
WORKERS = {"load": 1, "workers": 3}
"""Processes of each condition: the select alone, or the select and two workers."""


@contextmanager
def competing_load(processes: int) -> Iterator[None]:
    """``processes`` busy loops in a session of their own, stopped on leaving."""
    busy = subprocess.Popen(
        ["bash", "-c", f"for i in $(seq {processes}); do python3 -c 'while True: pass' & done; wait"],
        start_new_session=True,
    )
    try:
        time.sleep(1)  # the load is running before the select starts
        yield
    finally:
        os.killpg(busy.pid, 15)
        busy.wait()


def measured(data: Path, condition: str, budget: str, folder: Path) -> dict:
    processes = WORKERS[condition]
    load = competing_load(os.cpu_count() or 2) if condition == "load" else _nothing()
    with load:
        row = workers.run(data, budget, processes, None, 0, folder, [])
    return {
        "target": data.name,
        "condition": condition,
        "budget_s": row["budget_s"],
        "wall_s": row["wall_s"],
        "ratio": round(row["wall_s"] / row["budget_s"], 3),
        "elapsed_s": row["elapsed_s"],
        "workers_after_s": row["workers_after_s"],
        "workers_stopped": row["workers_stopped"],
        "complete": row["complete"],
        "by_workers": row["by_workers"],
        "choice": row["choice"],
        "test_accuracy": row["test_accuracy"],
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="+", required=True)
    parser.add_argument("--budgets", nargs="+", default=["30s", "2m", "10m"])
    parser.add_argument("--conditions", nargs="+", choices=sorted(WORKERS), default=["load", "workers"])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(__file__).parent / ".work" / "budget")
    args = parser.parse_args()
    done = list(csv.DictReader(args.results.open())) if args.results.is_file() else []
    for data in args.data:
        for condition in args.conditions:
            for budget in args.budgets:
                seconds = parse_budget(budget)
                key = (data.name, condition, f"{seconds:.1f}")
                if any((r["target"], r["condition"], f"{float(r['budget_s']):.1f}") == key for r in done):
                    continue
                run_folder = args.work / f"{data.name}-{condition}-{budget}"
                if run_folder.exists():
                    shutil.rmtree(run_folder)  # a stopped run's: this script made it
                run_folder.mkdir(parents=True)
                row = measured(data.resolve(), condition, budget, run_folder)
                print(row, file=sys.stderr, flush=True)
                args.results.parent.mkdir(parents=True, exist_ok=True)
                new = not args.results.is_file()
                with args.results.open("a", newline="") as handle:
                    writer = csv.DictWriter(handle, FIELDS)
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
                done.append({k: str(v) for k, v in row.items()})
    print_table(done)


def _after(row: dict) -> str:
    """Seconds the workers went on after the select, and how many had to be stopped."""
    if not row["workers_after_s"]:
        return "-"
    stopped = row.get("workers_stopped") or "0"
    return f"{float(row['workers_after_s']):.0f}s" + (f" ({stopped} stopped)" if stopped != "0" else "")


def print_table(rows: list[dict]) -> None:
    print(
        "| target | condition | budget | wall time (from outside) | wall / budget | select's own clock "
        "| workers ended after the select (stopped) | trials complete | by workers | choice | test accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['target']} | {r['condition']} | {float(r['budget_s']):.0f}s | {float(r['wall_s']):.1f}s | "
            f"{float(r['ratio']):.2f} | {float(r['elapsed_s']):.1f}s | {_after(r)} | "
            f"{r['complete']} | {r['by_workers']} | {r['choice']} | {r['test_accuracy']} |"
        )
    print()
    print("| budget | worst wall / budget |")
    print("| --- | --- |")
    for budget in sorted({float(r["budget_s"]) for r in rows}):
        worst = max(float(r["ratio"]) for r in rows if float(r["budget_s"]) == budget)
        print(f"| {budget:.0f}s | {worst:.2f} |")


if __name__ == "__main__":
    main()
