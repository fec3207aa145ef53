"""Detection tab: raw candidate boxes, live thresholds, NMS step by step, IoU and anchor explainers."""

from __future__ import annotations

import math

import gradio as gr
import numpy as np

from demos.common import (MODEL_CONCURRENCY, Slider, answered_by, example_paths, image_input,
                          model_dropdown, note_panel, skip_without_image, handler)
from demos.example_cache import cached_for_examples
from demos.figures import png_button
from demos.progress import with_progress
from demos.i18n import choices, error, say, tr
from visionlab.models.defaults import default_for
from visionlab import budget
from visionlab.markdown import escape_html
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
PLAY_DELAY_S = 0.8        # the player's pace: the page's timer asks for the next step this often
PLAYER = "nms-player"     # concurrency id of the player's events (each answers at once)
PLAYER_LIMIT = 2          # player events drawn at once, for every page together
SCORE = budget.Setting("score", "The score threshold", "分数阈值")
IOU = budget.Setting("iou", "The IoU threshold", "IoU 阈值")
STEP = budget.Setting("step", "The NMS step", "NMS 步骤")
CELLS = budget.Setting("cells", "The cells per side", "每边的格子数")
ROW = budget.Setting("row", "The cell row", "格子所在行")
COL = budget.Setting("col", "The cell column", "格子所在列")


def _mode(name: str) -> str:
    if name in MODES.values():
        return name
    if name not in MODES:
        raise error(f"'{name}' is not an NMS mode. Pick one from the list.",
                    f"“{name}” 不是一种 NMS 方式。请从列表中选择一个。")
    return MODES[name]


def run_detector(image: str | None, model: str, queries: str):
    """The model's raw candidates for `image` (a RawDetections; kept in the session's state).
    What it cost is noted for the tab's expected-wait sentence (`cost_note`)."""
    from visionlab.models.costs import record
    from visionlab.pipelines.detection import detect

    raw = detect(image, model, queries)
    record(raw.model, "detect", (raw.timings.preprocess_ms + raw.timings.forward_ms) / 1e3)
    return raw


def cost_note(model: str) -> Text | str:
    """What a new picture costs with `model` on this device, and why it is the default here."""
    from visionlab.models.costs import tab_note

    return tab_note("detection", model, "detect") or ""


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


def thresholds(score, iou) -> tuple[float, float]:
    """The score and IoU thresholds, checked: numbers from 0 to 1 (NaN would silently turn NMS off)."""
    return budget.number(score, SCORE, 0, 1), budget.number(iou, IOU, 0, 1)


def checked_queries(queries) -> str:
    """What to look for, within the budget: text of at most MAX_TEXT_CHARS, at most MAX_QUERIES queries."""
    from visionlab.ops.labels import split_labels

    queries = budget.text(queries, budget.QUERIES)
    items = split_labels(queries).items
    budget.count(len(items), budget.MAX_QUERIES, Text("things to look for", "个要找的东西"))
    budget.lines(items, Text("things to look for", "要找的东西"))
    return queries


def cleaned(raw, score: float, iou: float, mode: str):
    from visionlab.pipelines.detection import suppress

    score, iou = thresholds(score, iou)
    return suppress(raw, score, iou, _mode(mode))


def after_nms(raw, kept, score: float, iou: float):
    """(picture with the kept boxes, summary: the kept-box caption, any note, how the detector's
    reference code would clean up when this differs, who answered)."""
    from visionlab.pipelines.detection_views import kept_picture, reference_note

    picture, caption = kept_picture(raw, kept)
    ms = raw.timings.preprocess_ms + raw.timings.forward_ms
    notes = [n for n in (raw.note, reference_note(raw.model, float(score), float(iou), kept.mode)) if n]
    extra = "".join(f"\n\n{say(n)}" for n in notes)
    return picture, f"{say(caption)}{extra}\n\n{answered_by(raw.model, None, ms, raw.notice)}"


@cached_for_examples
def detect_endpoint(image: str | None, model: str = "shapes-detector-tiny", queries: str = DEFAULT_QUERIES,
                    score: float = 0.3, iou: float = 0.5, mode: str = DEFAULT_MODE):
    """Detect and clean up. Returns (picture with the kept boxes, kept boxes as JSON
    [{"box": [x0, y0, x1, y1] in the picture's pixels, "score", "label"}], summary, raw state)."""
    thresholds(score, iou)  # before the model runs
    queries = checked_queries(queries)
    raw = run_detector(image, model, queries if takes_text(model) else "")
    kept = cleaned(raw, score, iou, mode)
    picture, text = after_nms(raw, kept, score, iou)
    return picture, kept.as_json(raw), text, raw


def views(raw, score: float, iou: float, mode: str):
    """Everything drawn from the raw candidates (no model): before, after, table, JSON, step 0."""
    from visionlab.pipelines.detection_views import candidates_picture

    if raw is None:
        return (gr.skip(),) * 11
    kept = cleaned(raw, score, iou, mode)
    before, before_caption = candidates_picture(raw, kept)
    after, text = after_nms(raw, kept, score, iou)
    boxes = kept.as_json(raw)
    rows = [[b["label"], b["score"], *b["box"]] for b in boxes]
    step_slider = gr.Slider(minimum=0, maximum=max(1, last_step(kept)), value=0, step=1,
                            interactive=bool(kept.trace))
    return (before, before_caption, after, text, rows, boxes, step_slider, *player(raw, kept, iou, 0),
            gr.Timer(active=False))  # new candidates: the player stops


def last_step(kept) -> int:
    """The player's last step: every NMS decision, at most budget.MAX_NMS_STEPS."""
    return min(len(kept.trace), budget.MAX_NMS_STEPS)


def step_number(step) -> int:
    return budget.number(step, STEP, 0, budget.MAX_NMS_STEPS, whole=True)


def step_view(raw, score: float, iou: float, mode: str, step: int):
    """The NMS player at `step`: (picture, caption, table of the boxes compared at this step)."""
    if raw is None:
        return gr.skip(), gr.skip(), gr.skip()
    step = step_number(step)
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
    step = min(int(step), last_step(kept))
    picture, caption = nms_step_picture(raw, kept, step, float(iou))
    if last_step(kept) < len(kept.trace):
        n, cap = len(kept.trace), budget.MAX_NMS_STEPS
        caption += Text(f" (The player shows the first {cap} of {n} steps: raise the score threshold to step "
                        "through fewer candidates.)",
                        f"（播放器只显示 {n} 步中的前 {cap} 步：提高分数阈值，候选框就少了。）")
    return picture, caption, step_rows(raw, kept, step)


def moved(raw, score: float, iou: float, mode: str, step, by: int):
    """(new step, picture, caption, table): `by` steps on (or back), within 0..last_step."""
    if raw is None:
        return (gr.skip(),) * 4
    step = step_number(step)
    kept = cleaned(raw, score, iou, mode)
    new = max(0, min(step + by, last_step(kept)))
    return (new, *player(raw, kept, iou, new))


def previous_view(raw, score: float, iou: float, mode: str, step):
    return moved(raw, score, iou, mode, step, -1)


def next_view(raw, score: float, iou: float, mode: str, step):
    return moved(raw, score, iou, mode, step, +1)


def play_start(raw, score: float, iou: float, mode: str, step):
    """Play: from this step (from 0 when at the end) with the page's timer on. The server never
    waits: each tick of the timer asks for one step (`play_tick`), which answers at once."""
    if raw is None:
        return (gr.skip(),) * 5
    step = step_number(step)
    kept = cleaned(raw, score, iou, mode)
    start = 0 if step >= last_step(kept) else step
    return (start, *player(raw, kept, iou, start), gr.Timer(active=start < last_step(kept)))


def play_tick(raw, score: float, iou: float, mode: str, step):
    """One tick of the player: the next step, and the timer off once the last step is shown."""
    if raw is None:
        return (gr.skip(),) * 4 + (gr.Timer(active=False),)
    new, *shown = moved(raw, score, iou, mode, step, +1)
    return (new, *shown, gr.Timer(active=new < last_step(cleaned(raw, score, iou, mode))))


def _box(text: str) -> list[float]:
    try:
        values = [float(v) for v in str(text)[:200].replace(";", ",").split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        shown = escape_html(str(text)[:60])  # the toast renders HTML: the student's text as typed
        raise error(f"'{shown}' is not a box. Write four numbers: x0, y0, x1, y1 (for example 10, 20, 60, 70).",
                    f"“{shown}” 不是一个框。请写四个数：x0, y0, x1, y1（例如 10, 20, 60, 70）。")
    x0, y0, x1, y1 = values
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def iou_explainer(a: str, b: str):
    return iou_picture(_box(a), _box(b))


def _numbers(text: str, what: Text, lo: float, hi: float) -> list[float]:
    try:
        values = [float(v) for v in str(text)[:200].replace(";", ",").split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(lo < v <= hi for v in values):
        raise error(f"Write the {what.en} as numbers between {lo:g} and {hi:g}, separated by commas.",
                    f"请把{what.zh}写成 {lo:g} 到 {hi:g} 之间的数，用逗号分隔。")
    return values[:6]


def anchor_explainer(image: str | None, cells: int = 4, sizes: str = "0.75, 0.5, 0.25", ratios: str = "1, 2, 0.5",
                     row: int = 1, col: int = 1):
    from visionlab.ops.images import load_image

    cells = budget.number(cells, CELLS, 1, 16, whole=True)
    row, col = budget.number(row, ROW, 0, 15, whole=True), budget.number(col, COL, 0, 15, whole=True)
    picture = np.asarray(load_image(image)) if image else np.full((256, 256, 3), 235, np.uint8)
    return anchors_picture(picture, (cells, cells), _numbers(sizes, Text("sizes", "尺寸"), 0, 1),
                           _numbers(ratios, Text("ratios", "宽高比"), 0, 10), (row, col))


def build() -> dict:
    """The tab; returns what other tabs take from it ({"image", "boxes", "send"})."""
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=300)
            model = model_dropdown("detection", tr("Detector", "检测器"), prefer=default_for("detection"))
            first_cost = cost_note(model.value)
            cost = gr.Markdown(tr(first_cost.en, first_cost.zh) if isinstance(first_cost, Text) else "")
            queries = gr.Textbox(DEFAULT_QUERIES, label=tr("What to look for (open-vocabulary detectors; commas)",
                                                           "要找什么（开放词汇检测器；用逗号分隔）"),
                                 max_lines=3, **queries_settings(model.value))
            score = Slider(0.0, 1.0, value=0.3, step=0.01, label=tr("Score threshold (boxes below it are dropped)",
                                                                       "分数阈值（低于它的框被丢掉）"))
            iou = Slider(0.0, 1.0, value=0.5, step=0.01, label=tr("IoU threshold (NMS removes overlaps above it)",
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
                step = Slider(0, 1, value=0, step=1, label=tr("Step", "步骤"), interactive=False)
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
                    cells = Slider(1, 16, value=4, step=1, label=tr("Feature map: cells per side", "特征图：每边的格子数"))
                    row = Slider(0, 15, value=1, step=1, label=tr("Cell row", "格子所在行"))
                    col = Slider(0, 15, value=1, step=1, label=tr("Cell column", "格子所在列"))
                with gr.Row():
                    sizes = gr.Textbox("0.75, 0.5, 0.25", label=tr("Sizes s (fraction of the height)", "尺寸 s（占高度的比例）"))
                    ratios = gr.Textbox("1, 2, 0.5", label=tr("Ratios r (width / height)", "宽高比 r（宽 / 高）"))
                first_anchors = anchor_explainer(None)
                anchor_view = gr.Image(first_anchors[0], label=tr("Anchors of one cell", "一个格子的锚框"),
                                       interactive=False, height=320, buttons=["download"])
                anchor_caption = gr.Markdown(tr(first_anchors[1].en, first_anchors[1].zh))
    note_panel("detection")

    raw = gr.State(None)
    timer = gr.Timer(PLAY_DELAY_S, active=False)  # the player's pace, kept by the page
    knobs = [raw, score, iou, mode]
    shown_step = [step_picture, step_caption, step_table]
    view_outputs = [before, before_caption, after, after_caption, table, boxes_json, step, *shown_step, timer]
    detect = with_progress(detect_endpoint, step="detect")
    main = dict(fn=handler(detect), inputs=[image, model, queries, score, iou, mode],
                outputs=[after, boxes_json, after_caption, raw], concurrency_id=MODEL_CONCURRENCY)
    redraw = dict(fn=handler(views), inputs=knobs, outputs=view_outputs, api_visibility="private",
                  concurrency_limit=None)
    show_cost = dict(fn=handler(cost_note), inputs=model, outputs=cost, api_visibility="private", queue=False,
                     show_progress="hidden")
    run.click(**main, api_name="detect").success(**redraw).success(**show_cost)
    auto = {**main, "fn": handler(skip_without_image(detect, 4)), "api_visibility": "private"}
    gr.on([image.change, model.input, queries.submit], **auto).success(**redraw).success(**show_cost)
    model.change(**show_cost)
    gr.on([score.change, iou.change, mode.input], **redraw)
    model.change(lambda m: gr.Textbox(**queries_settings(m)), model, queries, api_visibility="private")
    # The player: every event answers at once (no worker thread waits between steps), under one
    # concurrency limit for all pages; the page's timer keeps the pace while playing.
    steps = dict(inputs=[*knobs, step], api_visibility="private", concurrency_id=PLAYER,
                 concurrency_limit=PLAYER_LIMIT)
    step.release(handler(step_view), outputs=shown_step, **steps)
    prev_btn.click(handler(previous_view), outputs=[step, *shown_step], **steps)
    next_btn.click(handler(next_view), outputs=[step, *shown_step], **steps)
    play_btn.click(handler(play_start), outputs=[step, *shown_step, timer], **steps)
    timer.tick(handler(play_tick), outputs=[step, *shown_step, timer], trigger_mode="once", **steps)
    gr.on([box_a.submit, box_b.submit, box_a.blur, box_b.blur], handler(iou_explainer), [box_a, box_b],
          [iou_view, iou_caption], api_visibility="private")
    anchors = dict(fn=handler(anchor_explainer), inputs=[image, cells, sizes, ratios, row, col],
                   outputs=[anchor_view, anchor_caption], api_visibility="private")
    gr.on([cells.release, row.release, col.release, sizes.submit, ratios.submit, image.change], **anchors)
    return {"image": image, "boxes": boxes_json, "send": send}
