"""The drawing style: normal, or high contrast for a projector (presenter mode).

The style is ambient, held in a `contextvars.ContextVar`, so the demo layer can switch it for
one request without changing any pipeline signature:

    with style.use(style.HIGH_CONTRAST):
        picture, caption = kept_picture(raw, kept)

`box_drawing.Canvas` (box lines, tags) and `overlay.heatmap_overlay` read `current()`. A
ContextVar is private to its thread (and to its asyncio task), so one user's presenter mode
never changes another user's pictures. Outside any `use(...)` the style is NORMAL, which draws
exactly what the functions drew before styles existed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """How strongly pictures are drawn.

    line_scale: box line width multiplier (a 1 px line becomes round(line_scale) px, at least 1).
    font_scale: tag and colour-bar text size multiplier.
    min_alpha: heatmap overlays are blended with weight at least this (0-1); 0 leaves them alone.
    outline: draw a dark 1 px rim either side of box lines (4 px and wider after scaling) and
        round tags, and a dark edge round tag text, so they stand out on any picture.
    min_line_alpha: box lines and tags are at least this opaque (0-255); 0 leaves them alone.
    """

    line_scale: float = 1.0
    font_scale: float = 1.0
    min_alpha: float = 0.0
    outline: bool = False
    min_line_alpha: int = 0

    def width(self, width: int) -> int:
        """A line width in px under this style (unchanged under NORMAL)."""
        return width if self.line_scale == 1 else max(1, round(width * self.line_scale))

    def font_size(self, size: int) -> int:
        """A text size in px under this style (unchanged under NORMAL)."""
        return size if self.font_scale == 1 else max(1, round(size * self.font_scale))

    def line_alpha(self, alpha: int) -> int:
        """A box line or tag opacity (0-255) under this style."""
        return max(int(alpha), self.min_line_alpha)


NORMAL = Style()
HIGH_CONTRAST = Style(line_scale=2.0, font_scale=1.5, min_alpha=0.6, outline=True, min_line_alpha=210)
OUTLINE = (0, 0, 0)    # the dark rim of HIGH_CONTRAST lines and tags

_CURRENT: ContextVar[Style] = ContextVar("visionlab_style", default=NORMAL)


def current() -> Style:
    """The style in force here (NORMAL unless inside `use(...)`)."""
    return _CURRENT.get()


@contextmanager
def use(style: Style) -> Iterator[Style]:
    """Draw with `style` inside the `with` block (this thread or task only), then restore."""
    token = _CURRENT.set(style)
    try:
        yield style
    finally:
        _CURRENT.reset(token)


def for_presenter(presenter: bool) -> Style:
    """HIGH_CONTRAST when presenter mode is on, else NORMAL (for a checkbox or `?presenter=1`)."""
    return HIGH_CONTRAST if presenter else NORMAL
