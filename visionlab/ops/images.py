"""Turn whatever the user gave into an upright RGB picture of bounded size.

Handles every PIL mode (RGBA, LA, P, L, 1, I;16, I, F, CMYK, YCbCr...), EXIF rotation,
16-bit and float data, huge pictures (downscaled) and decompression bombs (refused before
any pixel is decoded). Failures raise `BadImage`, whose message is a plain sentence.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from visionlab.errors import VisionLabError
from visionlab.text import Text

MAX_SIDE = 2048            # longer sides are downscaled to this (pixels)
MAX_PIXELS = 64_000_000    # refuse larger pictures before decoding them (about 8000 x 8000)


class BadImage(VisionLabError, ValueError):
    """The input cannot be used as a picture; str(error) says why in plain words."""


ImageLike = str | Path | bytes | Image.Image | np.ndarray


def _open(src: str | Path | bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(Text("This picture is far too large to open safely. Please use one under 8000 x 8000 pixels.",
                            "这张图片太大，无法安全打开。请使用小于 8000 x 8000 像素的图片。")) from None
    except FileNotFoundError:
        raise BadImage(Text("The picture file could not be found. Please upload it again.",
                            "找不到这张图片的文件。请重新上传。")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadImage(Text("This file is not a picture VisionLab can read (or it is damaged). "
                            "Please upload a PNG, JPEG, WebP, GIF, BMP or TIFF image.",
                            "VisionLab 读不了这个文件（它不是图片，或者已损坏）。请上传 PNG、JPEG、WebP、GIF、BMP 或 TIFF 图片。")) from None
    _check_size(img.width, img.height)
    return img


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise BadImage(Text("This picture is empty (it has no pixels).", "这张图片是空的（没有像素）。"))
    if width * height > MAX_PIXELS:
        raise BadImage(Text(f"This picture is {width} x {height} pixels, too large to open safely. "
                            "Please use one under 8000 x 8000 pixels.",
                            f"这张图片有 {width} x {height} 像素，太大，无法安全打开。请使用小于 8000 x 8000 像素的图片。"))


def _to_8bit(arr: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Scale a single-channel integer or float array to uint8 (HxW)."""
    arr = arr.astype(np.float64)
    if sixteen_bit:
        arr = arr / 257.0                      # 0..65535 -> 0..255
    elif arr.size and (arr.max() > 255 or arr.min() < 0):
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
    elif arr.size and arr.max() <= 1.0 and arr.dtype.kind == "f":
        arr = arr * 255.0
    return np.clip(np.round(arr), 0, 255).astype(np.uint8)


def _from_array(arr: np.ndarray) -> Image.Image:
    """(H, W), (H, W, 1|3|4) arrays of any numeric dtype -> PIL image."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise BadImage(Text(f"An array of shape {arr.shape} is not a picture (expected H x W or H x W x 3).",
                            f"形状为 {arr.shape} 的数组不是图片（应为 H x W 或 H x W x 3）。"))
    _check_size(arr.shape[1], arr.shape[0])
    if arr.dtype != np.uint8:
        sixteen = arr.dtype == np.uint16
        chans = arr[..., None] if arr.ndim == 2 else arr
        arr = np.stack([_to_8bit(chans[..., c], sixteen) for c in range(chans.shape[2])], axis=-1)
        arr = arr[..., 0] if arr.shape[2] == 1 else arr
    return Image.fromarray(np.ascontiguousarray(arr))


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; transparency is composited over white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = Image.fromarray(_to_8bit(np.asarray(img), img.mode.startswith("I;16")))
    if img.mode == "P" or img.mode == "LA" or (img.mode in ("L", "RGB") and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "RGBa"):
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return img.convert("RGB")


def load_image(src: ImageLike, max_side: int = MAX_SIDE) -> Image.Image:
    """An upright RGB PIL image whose longer side is at most `max_side` pixels.

    `src` may be a path, raw bytes, a PIL image or a numpy array. Raises `BadImage`.
    """
    if src is None:
        raise BadImage(Text("Please upload a picture first.", "请先上传一张图片。"))
    if isinstance(src, np.ndarray):
        img = _from_array(src)
    elif isinstance(src, Image.Image):
        _check_size(src.width, src.height)
        img = src
    else:
        img = _open(src)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))  # decode big JPEGs at a reduced scale: fast
        img = ImageOps.exif_transpose(img) or img
        img = _to_rgb(img)
        if max(img.size) > max_side:
            img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except BadImage:
        raise
    except (OSError, ValueError, SyntaxError):
        raise BadImage(Text("This picture is damaged or cut short, so it cannot be decoded. Please try another file.",
                            "这张图片已损坏或不完整，无法解码。请换一个文件。")) from None
    return img


def content_key(picture) -> str:
    """A content hash of a decoded picture (array or PIL): the same pixels give the same key,
    whatever file they came from. Caches of per-picture work are keyed by it."""
    arr = np.asarray(picture)
    return hashlib.sha1(str(arr.shape).encode() + arr.tobytes()).hexdigest()


def upscale_nearest(image: np.ndarray, min_side: int = 256) -> np.ndarray:
    """Enlarge a small (H, W, 3) uint8 picture by a whole factor so its pixels stay visible."""
    factor = max(1, int(np.ceil(min_side / max(1, min(image.shape[:2])))))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
