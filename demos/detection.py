"""Detection tab: raw candidate boxes, live thresholds, NMS step by step, IoU and anchor explainers."""

from __future__ import annotations

import time

import gradio as gr
import numpy as np

from demos.common import (DEFAULT_MODELS, MODEL_CONCURRENCY, answered_by, example_paths, image_input, model_dropdown,
                          note, skip_without_image, user_errors)
from visionlab.models.gpu import gpu_task
from visionlab.ops.box_drawing import anchors_picture, iou_picture

MODES = {
    "No NMS (raw boxes)": "none",
    "Class-agnostic NMS": "class-agnostic",
    "Per-class NMS": "per-class",
    "Soft-NMS (linear)": "soft-nms linear",
    "Soft-NMS (Gaussian)": "soft-nms gaussian",
}
DEFAULT_MODE = "Per-class NMS"
DEFAULT_QUERIES = "cat, person, cup, rocket"
TABLE_HEADERS = ["label", "score", "x0", "y0", "x1", "y1"]
STEP_HEADERS = ["box #", "label", "score", "IoU with kept box", "decision"]
PLAY_DELAY_S = 0.8


def _mode(name: str) -> str:
    if name in MODES.values():
        return name
    if name not in MODES:
        raise gr.Error(f"'{name}' is not an NMS mode. Pick one from the list.")
    return MODES[name]


@gpu_task
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
            "info": None if reads else "This detector knows its six ShapesWorld shapes; it reads no text."}


def cleaned(raw, score: float, iou: float, mode: str):
    from visionlab.pipelines.detection import suppress

    return suppress(raw, float(score), float(iou), _mode(mode))


def after_nms(raw, kept):
    """(picture with the kept boxes, summary: the kept-box caption, any note, who answered)."""
    from visionlab.pipelines.detection_views import kept_picture

    picture, caption = kept_picture(raw, kept)
    ms = raw.timings.preprocess_ms + raw.timings.forward_ms
    extra = f"\n\n{raw.note}" if raw.note else ""
    return picture, f"{caption}{extra}\n\n{answered_by(raw.model, None, ms, raw.notice)}"


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
        why = ("there are no candidates above the score threshold" if len(kept.candidates) == 0 else
               "it replays greedy NMS: choose class-agnostic or per-class NMS")
        return None, f"Nothing to step through: {why}.", []
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
        raise gr.Error(f"'{text}' is not a box. Write four numbers: x0, y0, x1, y1 (for example 10, 20, 60, 70).")
    x0, y0, x1, y1 = values
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def next_step(raw, score: float, iou: float, mode: str, step: int) -> int:
    """One step on, but not past the last decision."""
    return min(int(step) + 1, len(cleaned(raw, score, iou, mode).trace)) if raw is not None else 0


def iou_explainer(a: str, b: str):
    return iou_picture(_box(a), _box(b))


def _numbers(text: str, what: str, lo: float, hi: float) -> list[float]:
    try:
        values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or not all(lo < v <= hi for v in values):
        raise gr.Error(f"Write the {what} as numbers between {lo:g} and {hi:g}, separated by commas.")
    return values[:6]


def anchor_explainer(image: str | None, cells: int = 4, sizes: str = "0.75, 0.5, 0.25", ratios: str = "1, 2, 0.5",
                     row: int = 1, col: int = 1):
    from visionlab.ops.images import load_image

    picture = np.asarray(load_image(image)) if image else np.full((256, 256, 3), 235, np.uint8)
    return anchors_picture(picture, (int(cells), int(cells)), _numbers(sizes, "sizes", 0, 1),
                           _numbers(ratios, "ratios", 0, 10), (int(row), int(col)))


def build() -> dict:
    """The tab; returns what other tabs take from it ({"image", "boxes", "send"})."""
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label="Picture", height=300)
            model = model_dropdown("detection", "Detector", prefer=DEFAULT_MODELS["detection"])
            queries = gr.Textbox(DEFAULT_QUERIES, label="What to look for (open-vocabulary detectors; commas)",
                                 max_lines=3, **queries_settings(model.value))
            score = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label="Score threshold (boxes below it are dropped)")
            iou = gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="IoU threshold (NMS removes overlaps above it)")
            mode = gr.Radio(list(MODES), value=DEFAULT_MODE, label="Clean-up")
            run = gr.Button("Detect", variant="primary")
            gr.Examples(example_paths(("scenes", "photos")), inputs=[image], examples_per_page=8, label="Examples")
        with gr.Column(scale=7):
            with gr.Row():
                before = gr.Image(label="Before: every candidate box", interactive=False, buttons=["download"])
                after = gr.Image(label="After: the kept boxes", interactive=False, buttons=["download"])
            before_caption = gr.Markdown()
            after_caption = gr.Markdown()
            table = gr.Dataframe(headers=TABLE_HEADERS, label="Kept boxes (pixels of the picture)",
                                 interactive=False, max_height=240)
            send = gr.Button("Cut these boxes out with Segment Anything ▶", size="sm")
            with gr.Accordion("Kept boxes as JSON (what the API returns)", open=False):
                boxes_json = gr.JSON(label="Kept boxes")
    with gr.Accordion("NMS, one step at a time / 逐步观看 NMS", open=True):
        with gr.Row():
            with gr.Column(scale=7):
                step_picture = gr.Image(label="NMS step", interactive=False, buttons=["download"], height=480)
            with gr.Column(scale=5):
                step_caption = gr.Markdown("Run the detector, then press **Next**.")
                step = gr.Slider(0, 1, value=0, step=1, label="Step", interactive=False)
                with gr.Row():
                    prev_btn = gr.Button("◀ Previous")
                    next_btn = gr.Button("Next ▶")
                    play_btn = gr.Button("▶ Play", variant="secondary")
                step_table = gr.Dataframe(headers=STEP_HEADERS, label="Boxes compared at this step (best first)",
                                          interactive=False, max_height=300)
    with gr.Row():
        with gr.Column():
            with gr.Accordion("IoU explainer / 交并比", open=False):
                with gr.Row():
                    box_a = gr.Textbox("20, 20, 60, 60", label="Box A: x0, y0, x1, y1 (0-100)")
                    box_b = gr.Textbox("40, 35, 85, 80", label="Box B: x0, y0, x1, y1 (0-100)")
                first_iou = iou_explainer(box_a.value, box_b.value)
                iou_view = gr.Image(first_iou[0], label="Intersection (dark) over union (everything shaded)",
                                    interactive=False, height=320, buttons=["download"])
                iou_caption = gr.Markdown(first_iou[1])
        with gr.Column():
            with gr.Accordion("Anchor boxes explainer / 锚框", open=False):
                with gr.Row():
                    cells = gr.Slider(1, 16, value=4, step=1, label="Feature map: cells per side")
                    row = gr.Slider(0, 15, value=1, step=1, label="Cell row")
                    col = gr.Slider(0, 15, value=1, step=1, label="Cell column")
                with gr.Row():
                    sizes = gr.Textbox("0.75, 0.5, 0.25", label="Sizes s (fraction of the height)")
                    ratios = gr.Textbox("1, 2, 0.5", label="Ratios r (width / height)")
                first_anchors = anchor_explainer(None)
                anchor_view = gr.Image(first_anchors[0], label="Anchors of one cell", interactive=False, height=320,
                                       buttons=["download"])
                anchor_caption = gr.Markdown(first_anchors[1])
    with gr.Accordion("What am I looking at? / 这是什么?", open=False):
        gr.Markdown(note("detection"), latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                                         {"left": "$", "right": "$", "display": False}])

    raw = gr.State(None)
    knobs = [raw, score, iou, mode]
    view_outputs = [before, before_caption, after, after_caption, table, boxes_json, step,
                    step_picture, step_caption, step_table]
    main = dict(fn=user_errors(detect_endpoint), inputs=[image, model, queries, score, iou, mode],
                outputs=[after, boxes_json, after_caption, raw], concurrency_id=MODEL_CONCURRENCY)
    redraw = dict(fn=user_errors(views), inputs=knobs, outputs=view_outputs, api_visibility="private",
                  concurrency_limit=None)
    run.click(**main, api_name="detect").success(**redraw)
    auto = {**main, "fn": user_errors(skip_without_image(detect_endpoint, 4)), "api_visibility": "private"}
    gr.on([image.change, model.input, queries.submit], **auto).success(**redraw)
    gr.on([score.change, iou.change, mode.input], **redraw)
    model.change(lambda m: gr.Textbox(**queries_settings(m)), model, queries, api_visibility="private")
    show_step = dict(fn=user_errors(step_view), inputs=[*knobs, step], outputs=[step_picture, step_caption, step_table],
                     api_visibility="private", concurrency_limit=None)
    step.change(**show_step)
    prev_btn.click(lambda s: max(0, int(s) - 1), step, step, api_visibility="private")
    next_btn.click(next_step, [*knobs, step], step, api_visibility="private")
    play_btn.click(play, [*knobs, step], step, api_visibility="private", concurrency_limit=None)
    gr.on([box_a.submit, box_b.submit, box_a.blur, box_b.blur], user_errors(iou_explainer), [box_a, box_b],
          [iou_view, iou_caption], api_visibility="private")
    anchors = dict(fn=user_errors(anchor_explainer), inputs=[image, cells, sizes, ratios, row, col],
                   outputs=[anchor_view, anchor_caption], api_visibility="private")
    gr.on([cells.release, row.release, col.release, sizes.submit, ratios.submit, image.change], **anchors)
    return {"image": image, "boxes": boxes_json, "send": send}
