"""One module per tab: widgets and wiring only, no model code. Each exposes `build()`."""

from demos import attention, classification

# (module, English tab title); app.py renders them in this order.
TABS = [
    (classification, "Classification / 图像分类"),
    (attention, "Attention maps / 注意力图"),
]
