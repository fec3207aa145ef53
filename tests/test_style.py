"""Drawing styles: high contrast draws more and stronger, NORMAL draws exactly as before, and
the ambient style stays private to its thread."""

import contextlib
import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw

from visionlab.ops import style
from visionlab.ops.box_drawing import PALETTE, Canvas, _font
from visionlab.ops.overlay import colourise, heatmap_overlay
from visionlab.ops.style import HIGH_CONTRAST, NORMAL, Style, current, use

GREY = np.full((100, 160, 3), 128, np.uint8)
_nothing = contextlib.nullcontext


def draw_box(text: str | None = "star 0.83", width: int = 3, alpha: int = 255, fill_alpha: int = 0) -> np.ndarray:
    c = Canvas(GREY)
    c.box([20, 20, 90, 70], PALETTE[1], width=width, alpha=alpha, text=text, fill_alpha=fill_alpha)
    return c.picture()


def ink(picture: np.ndarray) -> int:
    """Pixels that are not the grey background."""
    return int((picture != 128).any(-1).sum())


def plain_pil(xyxy, colour, width, alpha, text=None, fill_alpha=0, font_size=15) -> np.ndarray:
    """The drawing as Canvas did it before styles existed, with PIL calls written out."""
    scale = 640 / 160
    base = Image.fromarray(GREY).resize((640, 400), Image.NEAREST).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = (v * scale for v in xyxy)
    draw.rectangle([x0, y0, x1, y1], outline=(*colour, alpha), width=width,
                   fill=(*colour, fill_alpha) if fill_alpha else None)
    if text:
        face = _font(font_size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=face)
        tw, th = right - left + 6, bottom - top + 4
        x, y = min(max(0.0, x0), base.width - tw), max(0.0, y0 - th)
        draw.rectangle([x, y, x + tw, y + th], fill=(*colour, alpha))
        draw.text((x + 3 - left, y + 2 - top), text, fill=(255, 255, 255, alpha), font=face)
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


def test_high_contrast_box_and_tag_draw_more_ink():
    normal = draw_box()
    with use(HIGH_CONTRAST):
        strong = draw_box()
        bare = draw_box(text=None, width=1, alpha=140)
    assert ink(strong) > 1.6 * ink(normal), (ink(strong), ink(normal))
    # a thin translucent candidate box: twice as wide and more opaque
    assert ink(bare) > 1.8 * ink(draw_box(text=None, width=1, alpha=140))
    assert np.abs(bare.astype(int) - 128).max() > np.abs(draw_box(text=None, width=1, alpha=140).astype(int) - 128).max()


def test_high_contrast_outlines_thick_lines_in_black():
    with use(HIGH_CONTRAST):
        picture = draw_box(text=None)
    row = picture[200, :, :]                           # a horizontal cut through both vertical lines
    dark = np.flatnonzero((row < 40).all(-1))          # the rim: black pixels beside the orange line
    assert len(dark) == 4, dark                        # 1 px either side of the left and the right line
    assert not (draw_box(text=None) < 40).all(-1).any()


@pytest.mark.parametrize("text, width, alpha, fill_alpha", [(None, 3, 255, 0), ("star 0.83", 3, 255, 0),
                                                          ("猫 0.5", 1, 170, 0), (None, 2, 230, 60)])
def test_normal_draws_exactly_as_plain_pil(text, width, alpha, fill_alpha):
    expected = plain_pil([20, 20, 90, 70], PALETTE[1], width, alpha, text, fill_alpha)
    for st in (None, NORMAL, Style()):                 # no style set, NORMAL, the explicit defaults
        with use(st) if st else _nothing():
            assert np.array_equal(draw_box(text, width, alpha, fill_alpha), expected), st


def test_heatmap_alpha_is_raised_only_under_high_contrast():
    rng = np.random.default_rng(1234)
    image, heat = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), rng.random((4, 4)).astype(np.float32)
    blocky = colourise(np.kron(heat, np.ones((8, 8), np.float32)))             # [32, 32, 3]: one block per cell
    by_hand = np.clip((1 - 0.2) * image.astype(np.float32) + 0.2 * blocky.astype(np.float32), 0, 255).astype(np.uint8)
    assert np.array_equal(heatmap_overlay(image, heat, 0.2, smooth=False, colour_bar=False), by_hand)
    with use(HIGH_CONTRAST):
        raised = heatmap_overlay(image, heat, 0.2, smooth=False, colour_bar=False)
        kept = heatmap_overlay(image, heat, 0.9, smooth=False, colour_bar=False)
        with_bar = heatmap_overlay(image, heat, 0.2)
    assert np.array_equal(raised, heatmap_overlay(image, heat, HIGH_CONTRAST.min_alpha, smooth=False, colour_bar=False))
    assert np.array_equal(kept, heatmap_overlay(image, heat, 0.9, smooth=False, colour_bar=False))
    assert with_bar.shape[1] > heatmap_overlay(image, heat, 0.2).shape[1]     # larger colour-bar labels


def test_style_is_private_to_each_thread():
    normal_ref = draw_box()
    with use(HIGH_CONTRAST):
        strong_ref = draw_box()
    inside, drawn = threading.Barrier(2), threading.Barrier(2)
    results = {}

    def presenter():
        with use(HIGH_CONTRAST):
            inside.wait(timeout=10)                    # the other thread draws while this one is in HC
            results["presenter"] = (current(), draw_box())
            drawn.wait(timeout=10)

    def student():
        inside.wait(timeout=10)
        results["student"] = (current(), draw_box())
        drawn.wait(timeout=10)

    threads = [threading.Thread(target=presenter), threading.Thread(target=student)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results["presenter"][0] is HIGH_CONTRAST and np.array_equal(results["presenter"][1], strong_ref)
    assert results["student"][0] is NORMAL and np.array_equal(results["student"][1], normal_ref)
    assert current() is NORMAL


def test_use_restores_the_previous_style_even_after_an_error():
    with pytest.raises(RuntimeError):
        with use(HIGH_CONTRAST):
            with use(NORMAL):
                assert current() is NORMAL
            assert current() is HIGH_CONTRAST
            raise RuntimeError("a drawing failed")
    assert current() is NORMAL
    assert style.for_presenter(True) is HIGH_CONTRAST and style.for_presenter(False) is NORMAL
    assert (HIGH_CONTRAST.width(1), HIGH_CONTRAST.width(3), NORMAL.width(3)) == (2, 6, 3)
