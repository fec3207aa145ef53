"""Detection tab: raw candidate boxes, live thresholds, NMS step by step, IoU and anchor explainers."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from demos.common import (DEFAULT_MODELS, MODEL_CONCURRENCY, answered_by, example_paths, image_input, model_dropdown,
                          note_panel, skip_without_image, handler)
from demos.example_cache import cached_for_examples
from demos.figures import png_button
from demos.i18n import choices, error, say, tr
from visionlab.ops.box_drawing import anchors_picture, iou_picture
from visionlab.text import Text

MODES = {
    "No NMS (raw boxes)": "none",
    "Class-agnostic NMS": "class-agnostic",
    "Per-class NMS": "per-class",
    "Soft-NMS (linear)": "soft-nms linear",
    "Soft-NMS (Gaussian)": "soft-nms gaussian",
}
DEFAULT_MODE = "Per-class NMS"
MODE_CHOICES = choices(MODES, [
    "不做 NMS（原始框）", "不分类别的 NMS", "按类别的 NMS", "Soft-NMS（线性）", "Soft-NMS（高斯）"])
DEFAULT_QUERIES = "cat, person, cup, rocket"
TABLE_HEADERS = ["label", "score", "x0", "y0", "x1", "y1"]
STEP_HEADERS = ["box #", "label", "score", "IoU with kept box", "decision"]
PLAY_DELAY_S = 0.8


def _mode(name: str) -> str:
    if name in MODES.values():
        return name
    if name not in MODES:
        raise error(f"'{name}' is not an NMS mode. Pick one from the list.",
                    f"“{name}” 不是一种 NMS 方式。请从列表中选择一个。")
    return MODES[name]


def run_detector(image: str | None, model: str, queries: str):
    """The model's raw candidates for `image` (a RawDetections; kept in the session's state)."""
    from visionlab.pipelines.detection import detect

    return detect(image, model, queries)


def takes_text(model: str) -> bool:
    """Whether the registry model `model` is an open-vocabulary detector (it reads the queries)."""
    from visionlab.models import get_spec

    return get_spec(model).labels == "text queries"


def queries_settings(model: str) -> dict:
    """The queries box is editable only for open-vocabulary detectors."""
    reads = takes_text(model)
    return {"interactive": reads,
            "info": None if reads else tr("This detector knows its six ShapesWorld shapes; it reads no text.",
                                          "这个检测器只认识 ShapesWorld 的六种形状；它不读文字。")}


def cleaned(raw, score: float, iou: float, mode: str):
    from visionlab.pipelines.detection import suppress

    return suppress(raw, float(score), float(iou), _mode(mode))


def after_nms(raw, kept):
    """(picture with the kept boxes, summary: the kept-box caption, any note, who answered)."""
    from visionlab.pipelines.detection_views import kept_picture

    picture, caption = kept_picture(raw, kept)
    ms = raw.timings.preprocess_ms + raw.timings.forward_ms
    extra = f"\n\n{say(raw.note)}" if raw.note else ""
    return picture, f"{say(caption)}{extra}\n\n{answered_by(raw.model, None, ms, raw.notice)}"


@cached_for_examples
def detect_endpoint(image: str | None, model: str = "shapes-detector-tiny", queries: str = DEFAULT_QUERIES,
                    score: float = 0.3, iou: float = 0.5, mode: str = DEFAULT_MODE):
    """Detect and clean up. Returns (picture with the kept boxes, kept boxes as JSON
    [{"box": [x0, y0, x1, y1] in the picture's pixels, "score", "label"}], summary, raw state)."""
    raw = run_detector(image, model, queries if takes_text(model) else "")
    kept = cleaned(raw, score, iou, mode)
    picture, text = after_nms(raw, kept)
    return picture, kept.as_json(raw), text, raw


def views(raw, score: float, iou: float, mode: str):
    """Everything drawn from the raw candidates (no model): before, after, table, JSON, step 0."""
    from visionlab.pipelines.detection_views import candidates_picture

    if raw is None:
        return (gr.skip(),) * 11
    kept = cleaned(raw, score, iou, mode)
    before, before_caption = candidates_picture(raw, kept)
    after, text = after_nms(raw, kept)
    boxes = kept.as_json(raw)
    rows = [[b["label"], b["score"], *b["box"]] for b in boxes]
    step_slider = gr.Slider(minimum=0, maximum=max(1, len(kept.trace)), value=0, step=1,
                            interactive=bool(kept.trace))
    return (before, before_caption, after, text, rows, boxes, step_slider, *player(raw, kept, iou, 0))


def step_view(raw, score: float, iou: float, mode: str, step: int):
    """The NMS player at `step`: (picture, caption, table of the boxes compared at this step)."""
    if raw is None:
        return gr.skip(), gr.skip(), gr.skip()
    return player(raw, cleaned(raw, score, iou, mode), iou, step)


def player(raw, kept, iou: float, step: int):
    """The step player's three outputs for an already cleaned-up result."""
    from visionlab.pipelines.detection_views import nms_step_picture, step_rows

    if not kept.trace:
        why = (Text("there are no candidates above the score threshold.", "没有高于分数阈值的候选框。")
               if len(kept.candidates) == 0 else
               Text("it replays greedy NMS: choose class-agnostic or per-class NMS.",
                    "这里回放的是贪心 NMS：请选择不分类别或按类别的 NMS。"))
        return None, Text("Nothing to step through: ", "没有可以逐步观看的：") + why, []
    picture, caption = nms_step_picture(raw, kept, int(step), float(iou))
    return picture, caption, step_rows(raw, kept, int(step))


def play(raw, score: float, iou: float, mode: str, step: int):
    """Advance the player one step at a time to the end (a generator: the page updates each step)."""
    if raw is None:
        return
    last = len(cleaned(raw, score, iou, mode).trace)
    start = 0 if int(step) >= last else int(step)
    for s in range(start, last + 1):
        yield s
        time.sleep(PLAY_DELAY_S)


def _box(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise error(f"'{text}' is not a box. Write four numbers: x0, y0, x1, y1 (for example 10, 20, 60, 70).",
                    f"“{text}” 不是一个框。请写四个数：x0, y0, x1, y1（例如 10, 20, 60, 70）。")
    x0, y0, x1, y1 = values
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def next_step(raw, score: float, iou: float, mode: str, step: int) -> int:
    """One step on, but not past the last decision."""
    return min(int(step) + 1, len(cleaned(raw, score, iou, mode).trace)) if raw is not None else 0


def iou_explainer(a: str, b: str):
    return iou_picture(_box(a), _box(b))


def _numbers(text: str, what: Text, lo: float, hi: float) -> list[float]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(lo < v <= hi for v in values):
        raise error(f"Write the {what.en} as numbers between {lo:g} and {hi:g}, separated by commas.",
                    f"请把{what.zh}写成 {lo:g} 到 {hi:g} 之间的数，用逗号分隔。")
    return values[:6]


def anchor_explainer(image: str | None, cells: int = 4, sizes: str = "0.75, 0.5, 0.25", ratios: str = "1, 2, 0.5",
                     row: int = 1, col: int = 1):
    from visionlab.ops.images import load_image

    picture = np.asarray(load_image(image)) if image else np.full((256, 256, 3), 235, np.uint8)
    return anchors_picture(picture, (int(cells), int(cells)), _numbers(sizes, Text("sizes", "尺寸"), 0, 1),
                           _numbers(ratios, Text("ratios", "宽高比"), 0, 10), (int(row), int(col)))


def build() -> dict:
    """The tab; returns what other tabs take from it ({"image", "boxes", "send"})."""
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=300)
            model = model_dropdown("detection", tr("Detector", "检测器"), prefer=DEFAULT_MODELS["detection"])
            queries = gr.Textbox(DEFAULT_QUERIES, label=tr("What to look for (open-vocabulary detectors; commas)",
                                                           "要找什么（开放词汇检测器；用逗号分隔）"),
                                 max_lines=3, **queries_settings(model.value))
            score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label=tr("Score threshold (boxes below it are dropped)",
                                                                       "分数阈值（低于它的框被丢掉）"))
            iou = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label=tr("IoU threshold (NMS removes overlaps above it)",
                                                                     "IoU 阈值（NMS 去掉重叠超过它的框）"))
            mode = gr.Radio(MODE_CHOICES, value=DEFAULT_MODE, label=tr("Clean-up", "清理方式"))
            run = gr.Button(tr("Detect", "检测"), variant="primary")
            gr.Examples(example_paths(("scenes", "photos")), inputs=[image], examples_per_page=8,
                        label=tr("Examples", "示例"))
        with gr.Column(scale=7):
            with gr.Row():
                before = gr.Image(label=tr("Before: every candidate box", "之前：所有候选框"), interactive=False,
                                  buttons=["download"])
                after = gr.Image(label=tr("After: the kept boxes", "之后：保留的框"), interactive=False,
                                 buttons=["download"])
            before_caption = gr.Markdown()
            after_caption = gr.Markdown()
            table = gr.Dataframe(headers=TABLE_HEADERS, label=tr("Kept boxes (pixels of the picture)", "保留的框（图片像素）"),
                                 interactive=False, max_height=240)
            png_button(table, Text("Kept boxes (pixels of the picture)", "保留的框（图片像素）"))
            send = gr.Button(tr("Cut these boxes out with Segment Anything ▶", "用 Segment Anything 把这些框分割出来 ▶"),
                             size="sm")
            with gr.Accordion(tr("Kept boxes as JSON (what the API returns)", "保留的框，JSON 格式（API 返回的内容）"),
                              open=False):
                boxes_json = gr.JSON(label=tr("Kept boxes", "保留的框"))
    with gr.Accordion(tr("NMS, one step at a time", "逐步观看非极大值抑制（NMS）"), open=True):
        with gr.Row():
            with gr.Column(scale=7):
                step_picture = gr.Image(label=tr("NMS step", "NMS 步骤"), interactive=False, buttons=["download"],
                                        height=480)
            with gr.Column(scale=5):
                step_caption = gr.Markdown(tr("Run the detector, then press **Next**.", "先运行检测器，再按**下一步**。"))
                step = gr.Slider(0, 1, value=0, step=1, label=tr("Step", "步骤"), interactive=False)
                with gr.Row():
                    prev_btn = gr.Button(tr("◀ Previous", "◀ 上一步"))
                    next_btn = gr.Button(tr("Next ▶", "下一步 ▶"))
                    play_btn = gr.Button(tr("▶ Play", "▶ 播放"), variant="secondary")
                step_table = gr.Dataframe(headers=STEP_HEADERS, label=tr("Boxes compared at this step (best first)",
                                                                         "这一步比较的框（最好的在前）"),
                                          interactive=False, max_height=300)
                png_button(step_table, Text("Boxes compared at this NMS step", "这一步 NMS 比较的框"))
    with gr.Row():
        with gr.Column():
            with gr.Accordion(tr("IoU explainer", "交并比（IoU）演示"), open=False):
                with gr.Row():
                    box_a = gr.Textbox("20, 20, 60, 60", label=tr("Box A: x0, y0, x1, y1 (0-100)", "框 A：x0, y0, x1, y1（0-100）"))
                    box_b = gr.Textbox("40, 35, 85, 80", label=tr("Box B: x0, y0, x1, y1 (0-100)", "框 B：x0, y0, x1, y1（0-100）"))
                first_iou = iou_explainer(box_a.value, box_b.value)
                iou_view = gr.Image(first_iou[0], label=tr("Intersection (dark) over union (everything shaded)",
                                                           "交集（深色）除以并集（所有阴影部分）"),
                                    interactive=False, height=320, buttons=["download"])
                iou_caption = gr.Markdown(tr(first_iou[1].en, first_iou[1].zh))
        with gr.Column():
            with gr.Accordion(tr("Anchor boxes explainer", "锚框演示"), open=False):
                with gr.Row():
                    cells = gr.Slider(1, 16, value=4, step=1, label=tr("Feature map: cells per side", "特征图：每边的格子数"))
                    row = gr.Slider(0, 15, value=1, step=1, label=tr("Cell row", "格子所在行"))
                    col = gr.Slider(0, 15, value=1, step=1, label=tr("Cell column", "格子所在列"))
                with gr.Row():
                    sizes = gr.Textbox("0.75, 0.5, 0.25", label=tr("Sizes s (fraction of the height)", "尺寸 s（占高度的比例）"))
                    ratios = gr.Textbox("1, 2, 0.5", label=tr("Ratios r (width / height)", "宽高比 r（宽 / 高）"))
                first_anchors = anchor_explainer(None)
                anchor_view = gr.Image(first_anchors[0], label=tr("Anchors of one cell", "一个格子的锚框"),
                                       interactive=False, height=320, buttons=["download"])
                anchor_caption = gr.Markdown(tr(first_anchors[1].en, first_anchors[1].zh))
    note_panel("detection")

    raw = gr.State(None)
    knobs = [raw, score, iou, mode]
    view_outputs = [before, before_caption, after, after_caption, table, boxes_json, step,
                    step_picture, step_caption, step_table]
    main = dict(fn=handler(detect_endpoint), inputs=[image, model, queries, score, iou, mode],
                outputs=[after, boxes_json, after_caption, raw], concurrency_id=MODEL_CONCURRENCY)
    redraw = dict(fn=handler(views), inputs=knobs, outputs=view_outputs, api_visibility="private",
                  concurrency_limit=None)
    run.click(**main, api_name="detect").success(**redraw)
    auto = {**main, "fn": handler(skip_without_image(detect_endpoint, 4)), "api_visibility": "private"}
    gr.on([image.change, model.input, queries.submit], **auto).success(**redraw)
    gr.on([score.change, iou.change, mode.input], **redraw)
    model.change(lambda m: gr.Textbox(**queries_settings(m)), model, queries, api_visibility="private")
    show_step = dict(fn=handler(step_view), inputs=[*knobs, step], outputs=[step_picture, step_caption, step_table],
                     api_visibility="private", concurrency_limit=None)
    step.change(**show_step)
    prev_btn.click(lambda s: max(0, int(s) - 1), step, step, api_visibility="private")
    next_btn.click(next_step, [*knobs, step], step, api_visibility="private")
    play_btn.click(play, [*knobs, step], step, api_visibility="private", concurrency_limit=None)
    gr.on([box_a.submit, box_b.submit, box_a.blur, box_b.blur], handler(iou_explainer), [box_a, box_b],
          [iou_view, iou_caption], api_visibility="private")
    anchors = dict(fn=handler(anchor_explainer), inputs=[image, cells, sizes, ratios, row, col],
                   outputs=[anchor_view, anchor_caption], api_visibility="private")
    gr.on([cells.release, row.release, col.release, sizes.submit, ratios.submit, image.change], **anchors)
    return {"image": image, "boxes": boxes_json, "send": send}
