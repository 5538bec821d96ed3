"""Writes scikit-learn's handwritten digits (1,797 8x8 greyscale images, 10 classes)
as an image folder: OUT/<digit>/<index>.png.

    python examples/make_digits.py examples/data/digits [--per-class N]
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def write_digits(out: Path, per_class: int | None = None) -> Path:
    digits = load_digits()
    written: dict[int, int] = {}
    for index, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        if per_class is not None and written.get(target, 0) >= per_class:
            continue
        folder = out / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        grey = np.rint(pixels * (255.0 / 16.0)).astype(np.uint8)
        Image.fromarray(grey, mode="L").save(folder / f"{index:04d}.png")
        written[target] = written.get(target, 0) + 1
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=None, help="keep the first N images of each digit")
    args = parser.parse_args()
    print(write_digits(args.out, args.per_class))
