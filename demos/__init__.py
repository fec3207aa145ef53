"""One module per tab: widgets and wiring only, no model code. Each exposes `build()`."""

import json

import gradio as gr

from demos import attention, classification, detection, masked, segmentation, zero_shot
from demos import fine_tune
from demos import ask
from demos.i18n import error

# (module, English title, Chinese title); app.py renders them in this order.
TABS = [
    (classification, "Classification", "图像分类"),
    (zero_shot, "Zero-shot CLIP", "零样本 CLIP"),
    (masked, "Masked modeling", "掩码建模"),
    (attention, "Attention", "注意力"),
    (detection, "Detection & NMS", "检测与非极大值抑制"),
    (segmentation, "Segment Anything", "分割一切"),
    (fine_tune, "Fine-tuning", "微调"),
    (ask, "Ask the picture", "看图问答"),
]


def tab_id(module) -> str:
    """A tab's id: its module's short name ("detection")."""
    return module.__name__.rsplit(".", 1)[-1]


def send_boxes(image, boxes):
    """Detection -> Segment Anything: the picture and its kept boxes, then switch tabs."""
    if image is None or not boxes:
        raise error("There are no kept boxes to send yet: run the detector first.",
                    "还没有保留下来的框可以发送：请先运行检测器。")
    return image, json.dumps(boxes), gr.Tabs(selected=tab_id(segmentation))


def connect_tabs(handles: dict[str, dict], tabs: gr.Tabs) -> None:
    """Hand-offs between tabs; `handles` maps tab ids to the components their build() returned."""
    det, seg = handles.get("detection"), handles.get("segmentation")
    if det and seg:
        det["send"].click(send_boxes, [det["image"], det["boxes"]], [seg["image"], seg["boxes"], tabs],
                          api_visibility="private").success(**seg["from_boxes"])
