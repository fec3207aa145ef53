"""A "Download as PNG" button under a score list (gr.Label) or a table (gr.Dataframe), so that
every visual of the app can go on a slide. (Pictures have gradio's own download button.)

The button follows its source: whenever the source's value changes, the figure is redrawn
(`visionlab.ops.figures`, in the page's language) and the button points to the new file."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from demos.common import handler
from demos.i18n import say, tr
from visionlab.text import Text

FIGURES_DIR = Path(tempfile.gettempdir()) / "visionlab-figures"
KEEP_S = 3600  # figure files older than this are deleted when a new one is written


def save_png(picture, name: str) -> str:
    """Write an (H, W, 3) uint8 picture as <FIGURES_DIR>/<random>/<name>.png; returns the path.
    Old figures are removed on the way, so the folder does not grow without bound."""
    now = time.time()
    if FIGURES_DIR.exists():
        for old in FIGURES_DIR.iterdir():
            if now - old.stat().st_mtime > KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
    folder = FIGURES_DIR / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / f"{name}.png"
    Image.fromarray(picture).save(path)
    return str(path)


def _slug(title: str) -> str:
    return "visionlab-" + (re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "figure")


def figure_of(value: Any, title: Text) -> str | None:
    """The PNG file of a gr.Label value ({label: score}) or a gr.Dataframe value (pandas or
    rows); None when there is nothing to draw."""
    from visionlab.ops.figures import bar_chart, table_image

    if value is None or isinstance(value, (str, int, float)):
        return None
    heading = say(title)
    if isinstance(value, dict):
        ranked = sorted(value.items(), key=lambda kv: -kv[1])
        picture = bar_chart(ranked, heading)
    else:
        headers = [str(c) for c in getattr(value, "columns", [])]
        rows = value.values.tolist() if hasattr(value, "values") else list(value)
        if not rows or not any(str(c).strip() for row in rows for c in row):
            return None
        picture = table_image(headers, rows, heading)
    return save_png(picture, _slug(title.en))


def png_button(source: gr.Label | gr.Dataframe, title: Text) -> gr.DownloadButton:
    """A small button under `source` that downloads it as a PNG figure titled `title`."""
    button = gr.DownloadButton(tr("Download as PNG (for slides)", "下载 PNG（用于幻灯片）"), size="sm",
                               interactive=False, variant="secondary")

    def refresh(value):
        path = figure_of(value, title)
        return gr.DownloadButton(value=path, interactive=path is not None)

    source.change(handler(refresh), source, button, api_visibility="private", queue=False, show_progress="hidden")
    return button
