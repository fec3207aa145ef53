"""Drawing boxes for teaching: a canvas with translucent boxes and tags, the IoU and anchor pictures.

Pictures are (H, W, 3) uint8 RGB, redrawn on a copy of the input scaled so its longer side is
`DISPLAY` pixels (small ShapesWorld scenes are enlarged so labels stay readable). Box
coordinates are XYXY in the input picture's pixels. Functions returning (picture, caption)
give a short Markdown caption too. Line widths, tag sizes and opacity follow the ambient
drawing style (`visionlab.ops.style`; NORMAL unless a caller is in `style.use(...)`); tags are
written in a font that has Chinese glyphs where one is installed (`visionlab.ops.fonts`).
Only numpy and PIL: cheap to import.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from visionlab.ops import style
from visionlab.ops.boxes import box_iou, multibox_prior
from visionlab.text import Text
from visionlab.ops.fonts import font

DISPLAY = 640
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
KEEP, DROP, WAITING = (0, 200, 0), (230, 30, 30), (150, 150, 150)


def _font(size: int = 15) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return font(size)   # a CJK font when installed, so Chinese tags are not empty boxes


class Canvas:
    """The picture enlarged or shrunk to DISPLAY px, with a translucent layer to draw boxes on."""

    def __init__(self, image: np.ndarray, long_side: int = DISPLAY):
        h, w = image.shape[:2]
        self.scale = long_side / max(h, w)
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        resample = Image.NEAREST if self.scale >= 2 else Image.BILINEAR
        self.base = Image.fromarray(image).resize(size, resample).convert("RGBA")
        self.layer = Image.new("RGBA", size, (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.layer)

    def box(self, xyxy, colour, width: int = 3, alpha: int = 255, text: str | None = None,
            fill_alpha: int = 0, font_size: int = 15) -> None:
        x0, y0, x1, y1 = (float(v) * self.scale for v in xyxy)
        x1, y1 = max(x0, x1), max(y0, y1)
        st = style.current()                      # NORMAL draws exactly as without styles
        width, alpha = st.width(width), st.line_alpha(alpha)
        if st.outline and width >= 4:             # fill, a dark 1 px rim either side, then the line
            o = 1                                 # (thin, faint candidate boxes get no rim)
            if fill_alpha:
                self.draw.rectangle([x0, y0, x1, y1], fill=(*colour, fill_alpha))
            self.draw.rectangle([x0 - o, y0 - o, x1 + o, y1 + o], outline=(*style.OUTLINE, alpha), width=width + 2 * o)
            fill_alpha = 0
        self.draw.rectangle([x0, y0, x1, y1], outline=(*colour, alpha), width=width,
                            fill=(*colour, fill_alpha) if fill_alpha else None)
        if text:
            self.tag(x0, y0, text, colour, alpha, font_size)

    def tag(self, x: float, y: float, text: str, colour, alpha: int = 255, font_size: int = 15) -> None:
        """A filled label whose bottom-left corner sits at (x, y) display px (kept inside the picture)."""
        st = style.current()
        face = _font(st.font_size(font_size))
        alpha = st.line_alpha(alpha)
        edge = 2 if st.outline else 0             # dark edge round the letters, the tag gets a rim
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=face, stroke_width=edge)
        tw, th = right - left + 6, bottom - top + 4
        x = min(max(0.0, x), self.layer.width - tw)
        y = max(0.0, y - th)
        self.draw.rectangle([x, y, x + tw, y + th], fill=(*colour, alpha),
                            outline=(*style.OUTLINE, alpha) if edge else None, width=edge // 2)
        self.draw.text((x + 3 - left, y + 2 - top), text, fill=(255, 255, 255, alpha), font=face,
                       **({"stroke_width": edge, "stroke_fill": (*style.OUTLINE, alpha)} if edge else {}))

    def picture(self) -> np.ndarray:
        return np.asarray(Image.alpha_composite(self.base, self.layer).convert("RGB"))


def colour_of(label: int) -> tuple[int, int, int]:
    return PALETTE[int(label) % len(PALETTE)]


def iou_picture(a, b, size: int = 320) -> tuple[np.ndarray, Text]:
    """Two boxes (XYXY in a 0-100 square) with intersection and union shaded, and their IoU."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    c = Canvas(np.full((100, 100, 3), 255, np.uint8), long_side=size)
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    c.box(a, PALETTE[0], width=3, fill_alpha=60, text="A")
    c.box(b, PALETTE[1], width=3, fill_alpha=60, text="B")
    if (hi > lo).all():
        c.box([*lo, *hi], PALETTE[4], width=2, fill_alpha=150)
    area = lambda r: float(max(0, r[2] - r[0]) * max(0, r[3] - r[1]))  # noqa: E731
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    union = area(a) + area(b) - inter
    iou = float(np.nan_to_num(box_iou(a, b)[0, 0]))
    return c.picture(), Text(f"**IoU = intersection / union = {inter:.0f} / {union:.0f} = {iou:.3f}**  \n"
                             f"area A = {area(a):.0f}, area B = {area(b):.0f}; union = A + B - intersection.",
                             f"**IoU = 交集 / 并集 = {inter:.0f} / {union:.0f} = {iou:.3f}**  \n"
                             f"A 的面积 = {area(a):.0f}，B 的面积 = {area(b):.0f}；并集 = A + B - 交集。")


def anchors_picture(image: np.ndarray, feature_hw: tuple[int, int], sizes, ratios,
                    cell: tuple[int, int]) -> tuple[np.ndarray, Text]:
    """The feature-map grid over the picture and every anchor of one cell (row, column)."""
    H, W = image.shape[:2]
    fh, fw = feature_hw
    anchors = multibox_prior(feature_hw, (H, W), sizes, ratios)       # [fh*fw*A, 4]
    per_cell = len(sizes) + len(ratios) - 1
    r, col = int(np.clip(cell[0], 0, fh - 1)), int(np.clip(cell[1], 0, fw - 1))
    mine = anchors.reshape(fh * fw, per_cell, 4)[r * fw + col]      # [A, 4]
    c = Canvas(image)
    for k in range(1, fw):
        x = k * W / fw * c.scale
        c.draw.line([x, 0, x, c.layer.height], fill=(255, 255, 255, 120), width=1)
    for k in range(1, fh):
        y = k * H / fh * c.scale
        c.draw.line([0, y, c.layer.width, y], fill=(255, 255, 255, 120), width=1)
    c.box([col * W / fw, r * H / fh, (col + 1) * W / fw, (r + 1) * H / fh], (255, 255, 255), width=1, fill_alpha=90)
    pairs = [(s, ratios[0]) for s in sizes] + [(sizes[0], q) for q in ratios[1:]]
    for k, (box, (s, q)) in enumerate(zip(mine, pairs)):
        c.box(box, PALETTE[k % len(PALETTE)], width=2, text=f"s={s:g} r={q:g}", font_size=12)
    n_s, n_r, total = len(sizes), len(ratios), len(anchors)
    return c.picture(), Text(f"**{per_cell} anchors per cell** (sizes + ratios - 1 = {n_s} + {n_r} - 1), "
                             f"{fh} x {fw} cells: **{total} anchors** in all. Shown: cell (row {r}, column {col}). "
                             "Width = s·H·√r, height = s·H/√r.",
                             f"**每个格子 {per_cell} 个锚框**（尺寸数 + 宽高比数 - 1 = {n_s} + {n_r} - 1），"
                             f"{fh} x {fw} 个格子：一共 **{total} 个锚框**。图中是第 {r} 行、第 {col} 列的格子。"
                             "宽 = s·H·√r，高 = s·H/√r。")
