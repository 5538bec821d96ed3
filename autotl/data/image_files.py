"""Reading image files: which ones are images, decoding them safely, and turning any mode into the
8-bit RGB that sources take. Shared by the image-folder reader, the preprocessing of image
sources and the classical baseline."""

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

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


def image_input(value: str | bytes) -> str | io.BytesIO:
    """One input of a loaded or served image model: a file path, the image's bytes, or those bytes
    in base64, as JSON carries them to ``mlflow models serve``. Bytes are checked against the
    decompression-bomb limit before anything is decoded."""
    import base64
    import binascii

    if isinstance(value, str) and len(value) < 4096 and Path(value).is_file():
        return value
    try:
        data = value if isinstance(value, bytes) else base64.b64decode(value, validate=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        shown = value[:40] if isinstance(value, str) else f"{len(value)} bytes"
        raise AutotlError(f"input {shown!r}: neither an image file nor an image's bytes (raw or base64)") from None
    if width * height > max_pixels():
        raise AutotlError(f"an input image of {width} x {height} pixels is over the limit (AUTOTL_MAX_IMAGE_PIXELS)")
    return io.BytesIO(data)


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
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return None, str(error) or type(error).__name__
    return (width, height, mode, hashlib.sha256(data).hexdigest()), None
