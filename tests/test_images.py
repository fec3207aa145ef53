"""Odd inputs through the loader and through the whole classification pipeline."""

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from visionlab.ops.images import MAX_SIDE, BadImage, load_image
from visionlab.pipelines.classification import classify


def _save(img: Image.Image, path, fmt="PNG", **kw):
    img.save(path, fmt, **kw)
    return str(path)


def _odd_images(tmp_path):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    sixteen = Image.fromarray((np.linspace(0, 65535, 48 * 64).reshape(48, 64)).astype(np.uint16))
    palette = rgb.convert("P")
    palette.info["transparency"] = 0
    return {
        "RGBA": _save(rgb.convert("RGBA"), tmp_path / "rgba.png"),
        "L": _save(rgb.convert("L"), tmp_path / "l.png"),
        "LA": _save(rgb.convert("LA"), tmp_path / "la.png"),
        "P": _save(palette, tmp_path / "p.png"),
        "1": _save(rgb.convert("1"), tmp_path / "bw.png"),
        "I;16": _save(sixteen, tmp_path / "sixteen.png"),
        "I": _save(sixteen.convert("I"), tmp_path / "int.tif", "TIFF"),
        "F": _save(sixteen.convert("F"), tmp_path / "float.tif", "TIFF"),
        "CMYK": _save(rgb.convert("CMYK"), tmp_path / "cmyk.jpg", "JPEG"),
        "1x1": _save(Image.new("RGB", (1, 1), (200, 10, 10)), tmp_path / "one.png"),
        "6000x4000": _save(Image.new("RGB", (6000, 4000), (20, 120, 200)), tmp_path / "big.jpg", "JPEG"),
        "gif": _save(palette, tmp_path / "anim.gif", "GIF"),
    }


def test_every_mode_loads_as_upright_rgb(tmp_path):
    for name, path in _odd_images(tmp_path).items():
        img = load_image(path)
        assert img.mode == "RGB", name
        assert max(img.size) <= MAX_SIDE, name


def test_sixteen_bit_keeps_its_range(tmp_path):
    path = _odd_images(tmp_path)["I;16"]
    arr = np.asarray(load_image(path))
    assert arr.min() == 0 and arr.max() == 255  # scaled, not clipped to white


def test_transparency_becomes_white(tmp_path):
    img = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    arr = np.asarray(load_image(_save(img, tmp_path / "clear.png")))
    assert (arr == 255).all()


def test_exif_rotation_is_honoured(tmp_path):
    img = Image.new("RGB", (60, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 10, 20))          # white stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6                                     # "rotate 90 CW to display"
    path = _save(img, tmp_path / "rotated.jpg", "JPEG", exif=exif.tobytes())
    out = np.asarray(load_image(path))
    assert out.shape[:2] == (60, 20)                     # portrait now
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # the stripe moved to the top


def test_huge_picture_is_downscaled(tmp_path):
    img = load_image(_odd_images(tmp_path)["6000x4000"])
    assert img.size == (MAX_SIDE, MAX_SIDE * 4000 // 6000)


@pytest.mark.parametrize("payload", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b""])
def test_garbage_gives_a_sentence(tmp_path, payload):
    path = tmp_path / "bad.png"
    path.write_bytes(payload)
    with pytest.raises(BadImage, match="picture"):
        load_image(str(path))


def test_truncated_png_gives_a_sentence(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(BadImage):
        load_image(str(path))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be width x height (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(20000, 20000))
    t0 = time.perf_counter()
    with pytest.raises(BadImage, match="too large"):
        load_image(str(path))
    assert time.perf_counter() - t0 < 1.0  # refused from the header, nothing decoded


def test_arrays_of_any_dtype(tmp_path):
    for arr in (np.zeros((5, 7), np.uint16), np.ones((5, 7, 3), np.float32), np.zeros((5, 7, 4), np.uint8)):
        assert load_image(arr).size == (7, 5)
    with pytest.raises(BadImage):
        load_image(np.zeros((5, 7, 2), np.uint8))
    with pytest.raises(BadImage):
        load_image(None)


@pytest.mark.parametrize("model", ["shapes-resnet-tiny", "shapes-vit-tiny"])
def test_odd_images_classify(tmp_path, model):
    for name, path in _odd_images(tmp_path).items():
        result = classify(path, model, top_k=3)
        assert len(result.top_k) == 3, name
        assert result.model_input.shape == (64, 64, 3), name
