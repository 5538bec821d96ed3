"""Reading image files: which ones are images, decoding them safely, and turning any mode into the
8-bit RGB that sources take. Shared by the image-folder reader, the preprocessing of image
sources and the classical baseline."""

import hashlib
import io
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from autotl.data.checks import spread
from autotl.errors import AutotlError

EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's own decompression-bomb limit (a 32-bit RGBA image of 1 GB); ``AUTOTL_MAX_IMAGE_PIXELS`` changes it."""


def max_pixels() -> int:
    configured = os.environ.get("AUTOTL_MAX_IMAGE_PIXELS", "")
    if not configured:
        return DEFAULT_MAX_PIXELS
    if not configured.isdigit() or int(configured) < 1:
        raise AutotlError(
            f"AUTOTL_MAX_IMAGE_PIXELS={configured!r}: give a whole number of pixels, e.g. {DEFAULT_MAX_PIXELS}"
        )
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


def open_rgb(path: str | Path | io.BytesIO) -> Image.Image:
    with Image.open(path) as image:
        return to_rgb(image)


SERVE_ROOT = "AUTOTL_SERVE_ROOT"
REFUSED = (
    "neither an image's bytes (raw or base64) nor the path of an image file within the pixel limit under the "
    f"folder that {SERVE_ROOT} names (a served model takes paths only there, and only when it is set)"
)
"""One answer for every refused path, whatever the file, so that a client learns nothing of the server's files."""


def serve_root() -> Path | None:
    """The folder, links resolved, whose image files a served model reads when a request names them
    (``AUTOTL_SERVE_ROOT``); None, the default, when it takes images as bytes only."""
    configured = os.environ.get(SERVE_ROOT, "")
    if not configured:
        return None
    root = Path(configured).expanduser().resolve()
    if not root.is_dir():
        raise AutotlError(
            f"{SERVE_ROOT}={configured!r} is not a folder: name the folder whose images a served model may read, "
            "or unset it to take images as bytes only"
        )
    return root


def image_input(value: str | bytes, root: Path | None = None, name: str = "an input") -> io.BytesIO:
    """One image for a loaded or served model: its bytes, or those bytes in base64 (as JSON carries
    them to ``mlflow models serve``), or, only when ``root`` is given, the path of an image file
    whose real path lies inside ``root``. Every image is checked against the pixel limit before
    anything is decoded."""
    import base64
    import binascii

    if isinstance(value, bytes):
        data = value
    else:
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError, TypeError):
            data = _file_under(root, value) if root is not None and isinstance(value, str) else None
            if data is None:
                raise AutotlError(f"{name}: {REFUSED}") from None
    size = _size(data)
    if size is None:
        raise AutotlError(f"{name}: {REFUSED}")
    if size[0] * size[1] > max_pixels():
        raise AutotlError(f"{name}: an image of {size[0]} x {size[1]} pixels, over the limit (AUTOTL_MAX_IMAGE_PIXELS)")
    return io.BytesIO(data)


def _size(data: bytes) -> tuple[int, int] | None:
    """An image's width and height, read from its header; None when Pillow finds no image in ``data``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except (ValueError, OSError, Image.DecompressionBombError):
        return None


def _file_under(root: Path, value: str) -> bytes | None:
    """The bytes of the image file at ``value`` (absolute, or relative to ``root``) when its real path,
    links resolved, lies inside ``root`` and the image is within the pixel limit; None otherwise,
    whatever the reason."""
    try:
        path = (root / value).resolve(strict=True)
        data = path.read_bytes() if root in path.parents and path.is_file() else None
    except (OSError, RuntimeError, ValueError):  # missing, unreadable, a loop of links, a NUL in the name
        return None
    size = _size(data) if data is not None else None
    return data if size is not None and size[0] * size[1] <= max_pixels() else None


def inspect_image(path: Path, limit: int = DEFAULT_MAX_PIXELS) -> tuple[tuple[int, int, str, str] | None, str | None]:
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
    except Image.UnidentifiedImageError:  # whose message names the in-memory copy, not the file
        return None, "an empty file" if not data else "no image format that Pillow reads"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return None, str(error) or type(error).__name__
    return (width, height, mode, hashlib.sha256(data).hexdigest()), None


def image_summary(infos: list[tuple[int, int, str]]) -> dict:
    """Widths, heights and modes of (width, height, mode) triples, as the profile shows them."""
    return {
        "width": spread([width for width, _, _ in infos]),
        "height": spread([height for _, height, _ in infos]),
        "modes": dict(Counter(mode for _, _, mode in infos).most_common()),
    }
