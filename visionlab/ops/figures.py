"""Figures for slides: a bar chart of scores and a table, drawn as pictures.

The app shows scores in a gr.Label and tables in a gr.Dataframe; a teacher wants them on a
slide. These functions draw the same content as (H, W, 3) uint8 RGB numpy arrays on a white
background, with text at least 18 px high (readable from the back of a room), in a font that
writes Chinese (`visionlab.ops.fonts`). Empty input gives a picture that says so, never an
error. Only numpy and PIL: cheap to import.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

from visionlab.ops.box_drawing import PALETTE
from visionlab.ops.fonts import font

TEXT_PX, TITLE_PX = 22, 28          # body and title text height in px
MARGIN, PAD = 24, 10                # around the figure; inside a table cell (px)
INK, MUTED, GRID = (20, 20, 20), (110, 110, 110), (200, 200, 200)
HEADER_FILL, STRIPE_FILL, TRACK_FILL = (222, 230, 242), (246, 247, 249), (236, 236, 236)
EMPTY = "Nothing to show · 没有可显示的内容"
ELLIPSIS = "…"


def bar_chart(pairs: Sequence[tuple[str, float]] | Mapping[str, float], title: str,
              value_format: str = "{:.1%}", width: int = 1200, empty: str = EMPTY) -> np.ndarray:
    """Horizontal bars, one row per (label, value), in the order given (best first).

    A bar's length is proportional to its value clipped to [0, 1] (a full-width track shows
    where 1 is); the value itself, formatted with `value_format`, is written at the bar's end
    (NaN / None: "n/a", no bar). Labels longer than 40 % of `width` are cut with an ellipsis.
    Returns (H, W, 3) uint8 RGB, W = `width` px.
    """
    items = list(pairs.items()) if isinstance(pairs, Mapping) else [tuple(p) for p in pairs]
    body, head = font(TEXT_PX), font(TITLE_PX, bold=True)
    if not items:
        return _empty_figure(title, empty, width)
    labels = [_one_line(label) for label, _ in items]
    values = [_number_or_nan(v) for _, v in items]
    shown = ["n/a" if math.isnan(v) else value_format.format(v) for v in values]
    label_w = min(max(_text_w(body, s) for s in labels), int(0.4 * width))
    value_w = max(_text_w(body, s) for s in shown)
    x_bar = MARGIN + label_w + PAD * 2
    track = max(40, width - x_bar - PAD - value_w - MARGIN)            # px for a value of 1.0
    row, bar_h = TEXT_PX + 22, TEXT_PX + 6
    top = MARGIN + TITLE_PX + 18
    img = Image.new("RGB", (width, top + row * len(items) + MARGIN), "white")
    draw = ImageDraw.Draw(img)
    draw.text((MARGIN, MARGIN), _fit(head, title, width - 2 * MARGIN), fill=INK, font=head)
    for k, (label, value, text) in enumerate(zip(labels, values, shown)):
        y_mid = top + k * row + row // 2
        draw.text((x_bar - PAD, y_mid), _fit(body, label, label_w), fill=INK, font=body, anchor="rm")
        y0 = y_mid - bar_h // 2
        draw.rectangle([x_bar, y0, x_bar + track - 1, y0 + bar_h - 1], fill=TRACK_FILL)
        length = 0 if math.isnan(value) else round(float(np.clip(value, 0, 1)) * track)
        if length > 0:
            draw.rectangle([x_bar, y0, x_bar + length - 1, y0 + bar_h - 1], fill=PALETTE[0])
        draw.text((x_bar + length + PAD, y_mid), text, fill=INK if length else MUTED, font=body, anchor="lm")
    return np.asarray(img)


def table_image(headers: Sequence[str], rows: Sequence[Sequence], title: str, max_rows: int = 40,
                max_col_width: int = 360, empty: str = EMPTY) -> np.ndarray:
    """A grid table: a bold, shaded header row, then at most `max_rows` rows (then a line
    "... N more rows"). Numbers are right-aligned, floats written with 3 significant digits,
    None and NaN as "–"; columns are as wide as their content up to `max_col_width` px (longer
    text is cut with an ellipsis). Short rows are padded, long rows cut to the headers.
    Returns (H, W, 3) uint8 RGB; W grows with the columns, H with the rows drawn.
    """
    rows = [list(r) for r in rows]
    n_cols = len(headers) or max((len(r) for r in rows), default=0)
    if not rows or n_cols == 0:
        return _empty_figure(title, empty, 720, headers)
    body, bold, head = font(TEXT_PX), font(TEXT_PX, bold=True), font(TITLE_PX, bold=True)
    headers = [_one_line(h) for h in headers] + [""] * (n_cols - len(headers))
    drawn = [(r + [None] * n_cols)[:n_cols] for r in rows[:max_rows]]
    cells = [[_cell_text(v) for v in r] for r in drawn]                      # [rows, cols] str
    numeric = [all(_is_number(r[c]) or r[c] is None for r in drawn) and any(_is_number(r[c]) for r in drawn)
               for c in range(n_cols)]
    col_w = [min(max_col_width, max([_text_w(bold, headers[c])] + [_text_w(body, r[c]) for r in cells]) + 2 * PAD)
             for c in range(n_cols)]
    row_h = TEXT_PX + 2 * PAD
    more = len(rows) - len(drawn)
    table_w = sum(col_w)
    width = max(table_w, min(_text_w(head, title), 1600), 320) + 2 * MARGIN
    top = MARGIN + TITLE_PX + 18
    height = top + row_h * (len(drawn) + 1) + (row_h if more else 0) + MARGIN
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((MARGIN, MARGIN), _fit(head, title, width - 2 * MARGIN), fill=INK, font=head)
    draw.rectangle([MARGIN, top, MARGIN + table_w - 1, top + row_h - 1], fill=HEADER_FILL)
    for k in range(1, len(drawn), 2):                                         # every other row shaded
        y = top + (k + 1) * row_h
        draw.rectangle([MARGIN, y, MARGIN + table_w - 1, y + row_h - 1], fill=STRIPE_FILL)
    for k, line in enumerate([headers] + cells):
        y_mid = top + k * row_h + row_h // 2
        x = MARGIN
        for c, text in enumerate(line):
            face = bold if k == 0 else body
            text = _fit(face, text, col_w[c] - 2 * PAD)
            if numeric[c]:
                draw.text((x + col_w[c] - PAD, y_mid), text, fill=INK, font=face, anchor="rm")
            else:
                draw.text((x + PAD, y_mid), text, fill=INK, font=face, anchor="lm")
            x += col_w[c]
    bottom = top + row_h * (len(drawn) + 1)
    for k in range(len(drawn) + 2):                                           # horizontal rules
        draw.line([MARGIN, top + k * row_h, MARGIN + table_w, top + k * row_h], fill=INK if k in (0, 1, len(drawn) + 1) else GRID)
    for x in np.cumsum([MARGIN] + col_w):                                     # vertical rules
        draw.line([int(x), top, int(x), bottom], fill=GRID)
    if more:
        draw.text((MARGIN, bottom + row_h // 2), f"… {more} more row{'s' if more != 1 else ''}",
                  fill=MUTED, font=body, anchor="lm")
    return np.asarray(img)


def _empty_figure(title: str, message: str, width: int, headers: Sequence[str] = ()) -> np.ndarray:
    """The title and a grey sentence saying there is nothing to show (and the headers, if any)."""
    body, head = font(TEXT_PX), font(TITLE_PX, bold=True)
    lines = [message] + ([" | ".join(_one_line(h) for h in headers)] if headers else [])
    width = max(width, min(1600, max(_text_w(body, s) for s in lines) + 2 * MARGIN))
    top = MARGIN + TITLE_PX + 18
    img = Image.new("RGB", (width, top + (TEXT_PX + 16) * len(lines) + 2 * MARGIN), "white")
    draw = ImageDraw.Draw(img)
    draw.text((MARGIN, MARGIN), _fit(head, title, width - 2 * MARGIN), fill=INK, font=head)
    for k, line in enumerate(lines):
        draw.text((MARGIN, top + MARGIN // 2 + k * (TEXT_PX + 16)), _fit(body, line, width - 2 * MARGIN),
                  fill=MUTED, font=body)
    return np.asarray(img)


def _text_w(face, text: str) -> int:
    return math.ceil(face.getlength(text)) if text else 0


def _fit(face, text: str, max_w: int) -> str:
    """`text`, cut and ended with an ellipsis if it is wider than `max_w` px in `face`."""
    text = _one_line(text)
    if _text_w(face, text) <= max_w:
        return text
    lo, hi = 0, len(text)                       # longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _text_w(face, text[:mid].rstrip() + ELLIPSIS) <= max_w else (lo, mid - 1)
    return text[:lo].rstrip() + ELLIPSIS


def _one_line(text) -> str:
    return "" if text is None else " ".join(str(text).split())


def _is_number(v) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_))


def _number_or_nan(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _cell_text(v) -> str:
    """How a table cell is written: floats with 3 significant digits, None / NaN as a dash."""
    if v is None or (_is_number(v) and isinstance(v, numbers.Real) and math.isnan(float(v))):
        return "–"
    if isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        return _three_digits(float(v))
    return _one_line(v)


def _three_digits(v: float) -> str:
    """3 significant digits, written without an exponent between 1e-4 and 1e6: 0.0123, 1230."""
    if v == 0 or math.isinf(v):
        return str(v) if math.isinf(v) else "0"
    mag = math.floor(math.log10(abs(v)))
    if not -4 <= mag < 6:
        return f"{v:.3g}"
    decimals = 2 - mag                          # digits after the point (negative: round to tens...)
    return f"{round(v, decimals):.{max(0, decimals)}f}"
