"""One module per tab: widgets and wiring only, no model code. Each exposes `build()`."""

from demos import classification

# (module, English tab title); app.py renders them in this order.
TABS = [
    (classification, "Classification / 图像分类"),
]
