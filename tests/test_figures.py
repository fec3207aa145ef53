"""Figures for slides: bar lengths, table size and layout, Chinese text, awkward input."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from visionlab.ops import fonts
from visionlab.ops.box_drawing import PALETTE, Canvas
from visionlab.ops.figures import MARGIN, PAD, TEXT_PX, TITLE_PX, _cell_text, _fit, bar_chart, table_image

needs_cjk = pytest.mark.skipif(not fonts.has_cjk_font(), reason="no CJK font installed (apt install fonts-noto-cjk)")


def draws_chinese(test):
    """A test of Chinese glyphs: it needs a CJK font (skipped without one, and in the fallback run)."""
    test.draws_chinese = True
    return needs_cjk(test)


BODY_TOP, ROW_H = MARGIN + TITLE_PX + 18, TEXT_PX + 2 * PAD      # where figures put the first row below the title


@pytest.fixture(autouse=True, params=["installed font", "fallback font"])
def either_font(request, monkeypatch):
    """Every layout test runs twice: with whatever font this machine has (a CJK font where
    fonts-noto-cjk is installed) and with Pillow's own fallback, so `make test` passes with or
    without a CJK font. Tests that need Chinese glyphs skip the fallback run."""
    if request.param == "fallback font":
        if getattr(request.function, "draws_chinese", False):
            pytest.skip("draws Chinese: needs a CJK font")
        monkeypatch.setattr(fonts, "cjk_font_path", lambda bold=False: None)
    fonts.font.cache_clear()
    yield request.param
    fonts.font.cache_clear()


def bar_lengths(picture: np.ndarray) -> list[int]:
    """Length in px of each bar (the run of PALETTE[0] pixels), top to bottom."""
    is_bar = (picture == PALETTE[0]).all(-1)                          # [H, W]
    rows = np.flatnonzero(is_bar.any(1))
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)    # runs of consecutive rows: one per bar
    return [int(is_bar[band].sum(1).max()) for band in bands]


def test_bar_length_is_proportional_to_the_value():
    long, short = bar_lengths(bar_chart([("cat", 0.8), ("dog", 0.2)], "Top-2"))
    assert abs(long / short - 4) < 0.05, (long, short)
    full, clipped, half = bar_lengths(bar_chart([("one", 1.0), ("more", 1.7), ("half", 0.5), ("less", -0.3)], "t"))
    assert clipped == full and abs(half / full - 0.5) < 0.01      # -0.3 draws no bar at all: 3 bars found


def test_bar_chart_text_is_big_enough_for_a_projector():
    picture = bar_chart([("Hg", 0.5)], "t")
    dark = (picture < 80).all(-1)[BODY_TOP:]                      # the label's letters, below the title
    rows = np.flatnonzero(dark.any(1))
    assert rows.max() - rows.min() + 1 >= 18                       # from the top of "H" to the bottom of "g"


def test_table_grows_with_rows_and_stops_at_forty():
    def height(n):
        return table_image(["k", "score"], [[k, k / 7] for k in range(n)], "scores").shape[0]
    h5, h10, h40, h41, h500 = map(height, (5, 10, 40, 41, 500))
    assert h5 < h10 < h40 < h41 == h500
    assert h10 - h5 == 5 * ROW_H and h40 - h10 == 30 * ROW_H       # one row height per row
    assert h41 - h40 == ROW_H                                      # the "... N more rows" line


def ink_right_of(text: str, face) -> int:
    """Where the ink of `text` ends, in px right of its right anchor, drawn alone in `face` (dark
    on white counts as ink below 80, as in the table picture)."""
    im = Image.new("L", (400, 80), 255)
    ImageDraw.Draw(im).text((300, 40), text, fill=0, font=face, anchor="rm")
    cols = np.flatnonzero((np.asarray(im) < 80).any(0))
    return int(cols.max()) + 1 - 300


def test_numbers_are_right_aligned_and_floats_have_three_significant_digits():
    """Right-aligned means each number's text box ends at the column's edge. Ink alone does not
    show it in every font ("1" may end a pixel or three before "5"), so each row's ink edge is
    corrected by where the font puts the ink of that text relative to its right anchor."""
    values = ["1", "12345", "0.500"]
    picture = table_image(["name", "value"], [["a", 1], ["b", 12345], ["c", 0.5]], "t")
    face = fonts.font(TEXT_PX)
    anchors, left_edges = [], []
    for k, text in zip((1, 2, 3), values):                           # the three body rows
        band = (picture[BODY_TOP + k * ROW_H + 3: BODY_TOP + (k + 1) * ROW_H - 3] < 80).all(-1)
        cols = np.flatnonzero(band.any(0))
        value_cols = cols[cols > cols.min() + 40]                   # right of the one-letter name
        ink_right = ink_right_of(text, face)                        # ink's right end, from the anchor
        anchors.append(value_cols.max() + 1 - ink_right)            # where the text box ends
        left_edges.append(value_cols.min())
    assert max(anchors) - min(anchors) <= 1, anchors
    assert max(left_edges) - min(left_edges) > 20, left_edges       # "1" starts far right of "12345"
    assert [_cell_text(v) for v in (0.123456, 1234.5, 7, None, math.nan, np.float32(2.0), 3e-7, "x\ny")] == \
        ["0.123", "1230", "7", "–", "–", "2.00", "3e-07", "x y"]


def test_empty_input_gives_a_picture():
    for picture in (bar_chart([], "Top-5"), table_image([], [], "t"), table_image(["a", "b"], [], "t"),
                    bar_chart({}, "CLIP")):
        assert picture.ndim == 3 and picture.dtype == np.uint8 and picture.shape[2] == 3
        assert (picture < 200).any() and picture.shape[0] > 100      # a title and a sentence, not a blank


def test_long_labels_nan_and_none_do_not_break_the_layout():
    label = "a photo of a very long and winding description " * 20
    picture = bar_chart([(label, 0.5), ("nan", math.nan), (None, None)], "t", width=900)
    assert picture.shape[1] == 900 and len(bar_lengths(picture)) == 1
    table = table_image(["text", "n"], [[label, None], ["short", math.nan], ["ragged"]], "t", max_col_width=300)
    assert table.shape[1] <= 300 + 200 + 2 * MARGIN                 # the long column is capped
    face = fonts.font(TEXT_PX)
    cut = _fit(face, label, 250)
    assert cut.endswith("…") and face.getlength(cut) <= 250 and len(cut) > 10


def glyph(text: str, face) -> np.ndarray:
    im = Image.new("L", (120, 60), 0)
    ImageDraw.Draw(im).text((4, 4), text, fill=255, font=face)
    return np.asarray(im)


@draws_chinese
def test_chinese_draws_real_glyphs_not_tofu():
    face = fonts.font(40)
    cat, dog, notdef = glyph("猫", face), glyph("狗", face), glyph("\U0010fffd", face)   # the last has no glyph
    assert (cat > 0).sum() > 200 and not np.array_equal(cat, dog)
    assert not np.array_equal(cat, notdef) and not np.array_equal(dog, notdef)
    # the same check fails with the fallback font: every Chinese character is the same empty box
    tofu = ImageFont.load_default(size=40)
    assert np.array_equal(glyph("猫", tofu), glyph("狗", tofu))


@draws_chinese
def test_chinese_in_charts_tables_and_box_tags():
    assert not np.array_equal(bar_chart([("猫", 0.5)], "t"), bar_chart([("狗", 0.5)], "t"))
    assert not np.array_equal(table_image(["标签"], [["猫"]], "t"), table_image(["标签"], [["狗"]], "t"))

    def tagged(text):
        c = Canvas(np.full((64, 64, 3), 128, np.uint8))
        c.box([8, 20, 50, 60], PALETTE[0], text=text)
        return c.picture()
    assert not np.array_equal(tagged("猫 0.9"), tagged("狗 0.9"))


def test_without_a_cjk_font_the_default_font_is_used(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font_path", lambda bold=False: None)
    fonts.font.cache_clear()
    try:
        assert fonts.font(20).getname() == ImageFont.load_default(size=20).getname()
        assert bar_chart([("猫", 0.5)], "标题").shape[1] == 1200      # still a picture, in tofu
    finally:
        fonts.font.cache_clear()
