"""Worker scaling on one machine: `autotl select` alone against `select` with `autotl worker`
processes beside it on the same study, at the same budget, one CPU thread per process. Appends a
row per run to a CSV (a stopped run resumes) and prints a Markdown table: trials finished within
the budget, by whom, the choice and its test accuracy. ``--configs`` lists processes x threads
per process: ``1x2`` is one select on both cores of a 2-core machine, ``2x1`` a select and a worker.

    python benchmarks/workers.py --data examples/data/digits --budget 3m --configs 1x1 1x2 2x1 \
        --results benchmarks/results/workers.csv
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

FIELDS = [
    "target",
    "processes",
    "threads",
    "seed",
    "budget_s",
    "elapsed_s",
    "exhausted",
    "complete",
    "pruned",
    "end_to_end",
    "by_workers",
    "choice",
    "val",
    "test_accuracy",
]


WORKERS_WAIT_S = 60
"""How long a worker may go on after its select before it is stopped: one that never joined a
trial (the select opened no study) waits for the next select, as ``autotl worker --wait`` says."""


def run(
    data: Path, budget: str, processes: int, threads: int | None, seed: int, folder: Path, extra: list[str]
) -> dict:
    """One select, with ``processes - 1`` workers started before it on its study, each process on
    ``threads`` CPU threads (None: as many as torch takes by itself, as a user's would). The row
    has the select's wall time from outside too (``wall_s``), start-up and exit included."""
    env = {
        **os.environ,
        "AUTOTL_CACHE_DIR": str(folder / "cache"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
    }
    if threads:
        env |= {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    study, storage = "scaling", f"sqlite:///{folder / 'optuna.db'}"
    autotl = [sys.executable, "-m", "autotl"]
    workers = [
        subprocess.Popen(
            [*autotl, "worker", "--study", study, "--storage", storage, "--device", "cpu", "--wait", "30m"],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / f"worker-{n}.log", "w"),  # noqa: SIM115 - closed with the process
            env=env,
            cwd=folder,
        )
        for n in range(processes - 1)
    ]
    command = [*autotl, "select", "--data", str(data), "--budget", budget, "--seed", str(seed), "--device", "cpu"]
    command += ["--study", study, "--storage", storage, "--json", *extra]
    started = time.monotonic()
    with open(folder / "select.log", "w") as log:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=folder, check=True)
    wall = time.monotonic() - started
    stopped = 0
    for worker in workers:  # a worker that never joined (the select opened no study) waits for the next select
        try:
            worker.wait(timeout=WORKERS_WAIT_S)
        except subprocess.TimeoutExpired:
            worker.terminate()
            worker.wait()
            stopped += 1
    workers_after = time.monotonic() - started - wall
    report = json.loads(done.stdout)
    trials = [r for r in report["leaderboard"] if r["trial"] is not None and r["state"] in ("complete", "pruned")]
    complete = [r for r in trials if r["state"] == "complete"]
    return {
        "target": data.name,
        "processes": processes,
        "threads": threads,
        "seed": seed,
        "budget_s": report["budget_s"],
        "elapsed_s": round(report["elapsed_s"], 1),
        "wall_s": round(wall, 1),
        "workers_after_s": round(workers_after, 1) if workers else "",
        "workers_stopped": stopped,
        "exhausted": report["exhausted"],
        "complete": len(complete),
        "pruned": len(trials) - len(complete),
        "end_to_end": sum("probe" not in r["strategy"] for r in complete),  # the built-in probes train a head alone
        "by_workers": sum("another process" in (r["reason"] or "") for r in trials),
        "choice": f"{report['source']} + {report['strategy']}" if report["source"] else report["strategy"],
        "val": round(report["val_metric"], 4),
        "test_accuracy": round(report["test_accuracy"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--configs", nargs="+", default=["1x1", "1x2", "2x1"], help="PROCESSESxTHREADS")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--strategies", help="select's --strategies, e.g. to search a space small enough to finish")
    parser.add_argument(
        "--work", type=Path, default=Path(__file__).parent / ".work" / "workers", help="runs' stores and logs"
    )
    args = parser.parse_args()
    done = list(csv.DictReader(args.results.open())) if args.results.is_file() else []
    for seed in args.seeds:
        for config in args.configs:
            processes, threads = map(int, config.split("x"))
            key = (args.data.name, str(processes), str(threads), str(seed))
            if any((r["target"], r["processes"], r["threads"], r["seed"]) == key for r in done):
                continue
            started = time.monotonic()
            folder = args.work / f"{args.data.name}-{config}-seed-{seed}"
            if folder.exists():
                shutil.rmtree(folder)  # a stopped run's: this script made it
            folder.mkdir(parents=True)
            extra = ["--strategies", args.strategies] if args.strategies else []
            row = run(args.data.resolve(), args.budget, processes, threads, seed, folder, extra)
            print(f"{row} ({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)
            new = not args.results.is_file()
            with args.results.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, FIELDS, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerow(row)
            done.append({k: str(v) for k, v in row.items()})
    print(
        "| target | processes x threads | seed | elapsed / budget | space exhausted | trials complete | pruned "
        "| end-to-end complete | by the worker | choice | val | test accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in done:
        print(
            f"| {r['target']} | {r['processes']} x {r['threads']} | {r['seed']} | "
            f"{float(r['elapsed_s']):.0f}s / {float(r['budget_s']):.0f}s | {r.get('exhausted', '')} | "
            f"{r['complete']} | {r['pruned']} | "
            f"{r['end_to_end']} | {r['by_workers']} | {r['choice']} | {r['val']} | {r['test_accuracy']} |"
        )


if __name__ == "__main__":
    main()
