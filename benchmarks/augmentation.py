"""What does augmenting the training images buy, on the image targets of the selection benchmark?

    python benchmarks/augmentation.py --cap-minutes 45 [--seeds 0 1] [--strategies finetune lp_ft]

For each image target of `benchmarks/selection.py` (the wider ones, made from data that installs
from the package registries), each seed (it draws autotl's validation split out of ``train``;
the test split is the target's own) and each end-to-end strategy, it fine-tunes
efficientnet-lite0 with `autotl.train` at the strategy's defaults and the image size `select`
trains at, once per `augment` policy (none, light, strong), and prints the test accuracy of each
policy, its mean over the seeds, and its time over that of no augmentation.

Rows are appended to `benchmarks/results/augmentation.csv` as they finish; a rerun skips what is
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
from autotl.training.augmentation import POLICIES  # noqa: E402

SOURCE = "efficientnet-lite0"
TARGETS = [name for name, target in registry_targets.TARGETS.items() if target.kind == "image"]
FIELDS = ["target", "strategy", "augment", "seed", "test_accuracy", "val_accuracy", "seconds"]


def run(name: str, strategy: str, policy: str, seed: int, uri: str, results: Path) -> None:
    from autotl.contracts.options import RunOptions
    from autotl.runs.setup import prepare
    from autotl.selection.trials import image_size

    data = materialise(name)
    setup = prepare(
        data, RunOptions(device="cpu"), {"sources": [SOURCE], "strategies": [strategy], "regularizers": ["none"]}
    )
    size = image_size(setup.dataset, setup.candidates[0].source)
    started = time.monotonic()
    result = autotl.train(
        data,
        SOURCE,
        strategy,
        settings={"augment": policy, **({"image_size": str(size)} if size else {})},
        seed=seed,
        tracking_uri=uri,
        cache_dir=WORK / "cache" / name,
        progress=lambda message: None,
    )
    append_row(
        results / "augmentation.csv",
        FIELDS,
        {
            "target": name,
            "strategy": strategy,
            "augment": policy,
            "seed": seed,
            "test_accuracy": result.test_accuracy,
            "val_accuracy": result.val_metric,
            "seconds": round(time.monotonic() - started, 2),
        },
    )


def table(rows: list[dict]) -> str:
    """Mean test accuracy per target and strategy under each policy (the seeds' values beside it),
    and each policy's time over no augmentation's."""
    lines = ["| target | strategy | " + " | ".join(POLICIES) + " | time light/none | time strong/none |"]
    lines.append("| --- | --- |" + " --- |" * (len(POLICIES) + 2))
    for target, strategy in sorted({(r["target"], r["strategy"]) for r in rows}):
        by_policy = {
            p: [r for r in rows if (r["target"], r["strategy"], r["augment"]) == (target, strategy, p)]
            for p in POLICIES
        }
        cells = []
        for policy in POLICIES:
            accuracies = [float(r["test_accuracy"]) for r in by_policy[policy]]
            seeds = ", ".join(f"{a:.3f}" for a in accuracies)
            cells.append(f"{mean(accuracies):.3f} ({seeds})" if accuracies else "")
        none_s = [float(r["seconds"]) for r in by_policy["none"]]
        ratios = []
        for policy in ("light", "strong"):
            seconds = [float(r["seconds"]) for r in by_policy[policy]]
            ratios.append(f"{mean(seconds) / mean(none_s):.2f}" if seconds and none_s else "")
        lines.append(f"| {target} | {strategy} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cap-minutes", type=float, default=45)
    parser.add_argument("--targets", nargs="*", default=TARGETS)
    parser.add_argument("--strategies", nargs="*", default=["finetune"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the CSV file goes")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.cap_minutes * 60
    uri = f"sqlite:///{WORK / f'augmentation-{args.results.name}.db'}"  # one per process: sqlite locks
    done = {(r["target"], r["strategy"], r["augment"], r["seed"]) for r in read_rows(args.results / "augmentation.csv")}
    plan = [
        (name, strategy, policy, seed)
        for seed in args.seeds
        for name in args.targets
        for strategy in args.strategies
        for policy in POLICIES
        if (name, strategy, policy, str(seed)) not in done
    ]
    for name, strategy, policy, seed in plan:
        if time.monotonic() > deadline:
            print("The cap is spent; rerun to resume.", file=sys.stderr)
            break
        print(f"[{name}] seed {seed}: {strategy}, augment {policy}", file=sys.stderr, flush=True)
        run(name, strategy, policy, seed, uri, args.results)
    print(table(read_rows(args.results / "augmentation.csv")))


if __name__ == "__main__":
    main()
