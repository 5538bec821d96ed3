"""Built-in data format: a folder of images, one sub-folder per class.

``ROOT/<class>/<image>`` or ``ROOT/{train,val,test}/<class>/<image>``. Every
image is decoded once while reading, so corrupt files surface here rather than
in the middle of training.
"""

import hashlib
import io
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import autotl
from autotl.data import SPLITS, DataFormat, Example, IntakeOptions, LoadedData, within
from autotl.data.checks import reject_or_skip, spread
from autotl.errors import AutotlError, listing

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's own decompression-bomb limit (a 32-bit RGBA image of 1 GB); ``AUTOTL_MAX_IMAGE_PIXELS`` changes it."""


def max_pixels() -> int:
    configured = os.environ.get("AUTOTL_MAX_IMAGE_PIXELS", "")
    if not configured:
        return DEFAULT_MAX_PIXELS
    if not configured.isdigit() or int(configured) < 1:
        raise AutotlError(f"AUTOTL_MAX_IMAGE_PIXELS={configured!r}: give a whole number of pixels, e.g. {DEFAULT_MAX_PIXELS}")
    return int(configured)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB: EXIF rotation applied, transparency composited on
    white, 16- and 32-bit greyscale scaled to 0..255."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        pixels = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    elif image.mode == "F":
        pixels = np.asarray(image, dtype=np.float64)
        if pixels.size and pixels.max() <= 1.0:
            pixels = pixels * 255.0
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def open_rgb(path: str | Path) -> Image.Image:
    with Image.open(path) as image:
        return to_rgb(image)


class ImageFolder(DataFormat):
    name = "image-folder"
    modality = "image"
    layout = "a folder of images, one sub-folder per class: ROOT/<class>/<image> or ROOT/{train,val,test}/<class>/<image>"

    def matches(self, path: Path) -> bool:
        return path.is_dir() and not any(
            (path / f"{split}{suffix}").is_file() for split in SPLITS for suffix in (".csv", ".tsv", ".jsonl")
        )

    def read(self, path: Path, options: IntakeOptions) -> LoadedData:
        if not any(_visible(path.iterdir())):
            raise AutotlError(f"{path} is empty: put each class's images in {path}/<class>/")
        split_dirs = {split: path / split for split in SPLITS if (path / split).is_dir()}
        problems: list[str] = []
        roots = split_dirs or {"train": path}
        if split_dirs:
            others = [p.name for p in _visible(path.iterdir()) if p.name not in split_dirs]
            if others:
                problems.append(f"ignored {listing(others)} in {path}: with split folders, only train/val/test are read")
            if "train" not in split_dirs:
                raise AutotlError(f"{path} has {'/'.join(split_dirs)}/ but no train/ folder: add {path}/train/<class>/")
        if not split_dirs and not options.labels_required and not any(p.is_dir() for p in _visible(path.iterdir())):
            files = {"train": [(None, p) for p in _visible(path.iterdir())]}
        else:
            files = {split: _class_files(root, path, problems) for split, root in roots.items()}
        limit = max_pixels()
        bad: list[str] = []
        infos: list[tuple[int, int, str]] = []
        splits: dict[str, list[Example]] = {}
        for split, labelled in files.items():
            splits[split] = []
            for label, file in labelled:
                info, error = _inspect_image(file, limit)
                if error:
                    bad.append(f"{file} ({error})")
                    continue
                infos.append(info[:3])
                splits[split].append(Example(input=str(file), label=label, fingerprint=info[3]))
        reject_or_skip(bad, "file(s) cannot be read as images", options, problems)
        if not infos:
            raise AutotlError(f"no readable images under {path}: expected {self.layout}")
        return LoadedData(splits, bool(split_dirs), _summary(infos), problems)


def _visible(paths) -> list[Path]:
    return sorted(p for p in paths if not p.name.startswith("."))


def _class_files(root: Path, data: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """(class, file) for every file below each class folder; loose files are noted and ignored, and
    so are links that lead out of the ``data`` folder, or back to a folder above a class."""
    entries = _visible(root.iterdir())
    loose = [p.name for p in entries if p.is_file()]
    class_dirs = [p for p in entries if p.is_dir()]
    if not class_dirs:
        raise AutotlError(
            f"{root} has no class folders: put each class's images in {root}/<class>/ (the folder name is the label)"
        )
    if loose:
        problems.append(f"ignored {listing(loose)} in {root}: files outside class folders have no label")
    found, outside, looped = [], [], []
    for class_dir in class_dirs:
        if within(root, class_dir):  # a link back to its own root or above
            looped.append(class_dir.name)
            continue
        files = [p for p in sorted(class_dir.rglob("*")) if p.is_file() and not _hidden(p, class_dir)]
        outside += [str(p) for p in files if not within(p, data)]
        files = [p for p in files if within(p, data)]
        if not files:
            problems.append(f"class folder {class_dir} is empty")
        found.extend((class_dir.name, file) for file in files)
    if looped:
        problems.append(f"ignored class folder(s) {listing([repr(name) for name in looped])} in {root}: each is a link back to a folder above it")
    if outside:
        problems.append(f"ignored {len(outside)} file(s) linked from outside {data}: {listing(outside)}")
    return found


def _hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def _inspect_image(path: Path, limit: int = DEFAULT_MAX_PIXELS) -> tuple[tuple[int, int, str, str] | None, str | None]:
    """Decodes the image fully, unless it has more than ``limit`` pixels; returns (width, height,
    mode, content hash) or an error."""
    if path.suffix.lower() not in EXTENSIONS:
        return None, f"not an image file: extension {path.suffix or '(none)'}"
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height, mode = image.width, image.height, image.mode
                if width * height > limit:
                    return None, f"{width} x {height} pixels, over the limit of {limit:,} (AUTOTL_MAX_IMAGE_PIXELS)"
                image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return None, str(error) or type(error).__name__
    return (width, height, mode, hashlib.sha256(data).hexdigest()), None


def _summary(infos: list[tuple[int, int, str]]) -> dict:
    widths = [w for w, _, _ in infos]
    heights = [h for _, h, _ in infos]
    return {
        "width": spread(widths),
        "height": spread(heights),
        "modes": dict(Counter(mode for _, _, mode in infos).most_common()),
    }


@autotl.hookimpl
def register_data_formats(register):
    register(ImageFolder())
