"""The "Download as PNG" buttons: a score list and a table become PNG figures for slides."""

import os
import time

import numpy as np
import pandas as pd
from PIL import Image

from demos import figures
from visionlab.text import Text

TITLE = Text("Top-k predictions", "前 k 个预测")


def test_a_label_value_becomes_a_bar_chart_best_first():
    path = figures.figure_of({"ring": 0.1, "star": 0.9}, TITLE)
    assert path.endswith("visionlab-top-k-predictions.png")
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape[1] >= 1000 and (picture != 255).any()
    blue = (picture[..., 2] > 150) & (picture[..., 0] < 100)  # the bars (PALETTE[0] is blue)
    rows = np.flatnonzero(blue.any(1))
    first, last = rows[: len(rows) // 2], rows[len(rows) // 2:]
    assert blue[first].sum() > 5 * blue[last].sum()  # the 0.9 bar comes first and is far longer


def test_a_table_value_becomes_a_table_picture_and_empty_tables_give_nothing():
    table = pd.DataFrame([["star", 0.78, 23, 27, 64, 68]], columns=["label", "score", "x0", "y0", "x1", "y1"])
    one = Image.open(figures.figure_of(table, Text("Kept boxes", "保留的框")))
    two = Image.open(figures.figure_of(pd.concat([table] * 2), Text("Kept boxes", "保留的框")))
    assert two.height > one.height
    assert figures.figure_of(pd.DataFrame([["", ""]], columns=["a", "b"]), TITLE) is None
    assert figures.figure_of(None, TITLE) is None and figures.figure_of("star", TITLE) is None


def test_old_figures_are_removed_when_a_new_one_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "FIGURES_DIR", tmp_path)
    old = figures.save_png(np.zeros((4, 4, 3), np.uint8), "old")
    an_hour_ago = time.time() - figures.KEEP_S - 1
    os.utime(os.path.dirname(old), (an_hour_ago, an_hour_ago))
    new = figures.save_png(np.zeros((4, 4, 3), np.uint8), "new")
    assert not os.path.exists(old) and os.path.exists(new) and len(list(tmp_path.iterdir())) == 1
