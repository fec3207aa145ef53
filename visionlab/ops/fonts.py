"""A font that can write Chinese: box tags, chart labels and tables are bilingual.

`font(size)` returns a PIL `ImageFont` for a CJK TrueType/OpenType font found on this machine
(Noto Sans CJK, WenQuanYi, Droid Sans Fallback...). On Hugging Face Spaces the Debian package
`fonts-noto-cjk` (in packages.txt) provides one. Where none is installed, it falls back to
Pillow's built-in font, which draws Latin text well but Chinese characters as empty boxes
("tofu"). Only PIL: cheap to import.
"""

from __future__ import annotations

import functools
import glob
import itertools
import os

from PIL import ImageFont

# Tried in this order; the glob below finds other installs of the same families.
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-{weight}.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
)
FONT_GLOBS = ("/usr/share/fonts/**/*CJK*{weight}*.[ot]t[cf]", "/usr/share/fonts/**/*CJK*.[ot]t[cf]",
              "/usr/share/fonts/**/wqy*.tt[cf]", "/usr/share/fonts/**/DroidSansFallback*.ttf")
SIMPLIFIED = " SC"   # in a .ttc holding several regional variants, prefer Simplified Chinese


@functools.lru_cache(maxsize=2)
def cjk_font_path(bold: bool = False) -> tuple[str, int] | None:
    """(path, face index) of a CJK font file on this machine, or None when there is none."""
    weight = "Bold" if bold else "Regular"
    known = (p.format(weight=weight) for p in KNOWN_FONTS)
    globbed = (sorted(glob.glob(g.format(weight=weight), recursive=True)) for g in FONT_GLOBS)   # lazily
    for path in itertools.chain(known, itertools.chain.from_iterable(globbed)):
        if os.path.isfile(path):
            index = _face_index(path)
            if index is not None:
                return path, index
    return None


def _face_index(path: str) -> int | None:
    """The Simplified Chinese face of a font collection (0 for a single font); None if unreadable."""
    first = None
    for index in range(16):                       # a .ttc holds a handful of faces
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        first = index if first is None else first
        if SIMPLIFIED in family:
            return index
    return first


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font `size` px high that draws Chinese and Latin text.

    Falls back to the regular weight when no bold CJK font exists, and to Pillow's built-in
    font (`ImageFont.load_default(size=size)`, no Chinese glyphs) when no CJK font exists.
    Font objects are shared (cached per size): PIL holds the GIL while it renders text.
    """
    size = max(1, int(round(size)))
    found = cjk_font_path(bold) or (cjk_font_path(False) if bold else None)
    if found is None:
        return ImageFont.load_default(size=size)
    path, index = found
    return ImageFont.truetype(path, size, index=index)


def has_cjk_font() -> bool:
    """Whether `font()` can draw Chinese on this machine."""
    return cjk_font_path(False) is not None
