"""Segment Anything tab: click, box, text or everything; the picture is encoded once per user."""

from __future__ import annotations

from contextlib import contextmanager

import json

import gradio as gr
import numpy as np

from demos.common import MODEL_CONCURRENCY, Slider, example_paths, image_input, note_panel, handler, warn
from demos.i18n import choices, error, say, tr
from demos.per_page import PerPage
from visionlab import budget
from visionlab.models.registry import specs_for
from visionlab.text import Text

CLICK_MODES = ["Object point (+)", "Background point (−)", "Box: click two corners"]
CLICK_CHOICES = choices(CLICK_MODES, ["物体上的点（+）", "背景上的点（−）", "框：点击两个对角"])
EMPTY_PROMPTS = {"points": [], "box": None, "corner": None}
GRID = budget.Setting("points_per_side", "The points per side", "每边的点数")
CLICK = budget.Setting("index", "The click", "点击位置")
POINTS_EXAMPLE = "[[120, 80]] or [[120, 80, 1], [60, 40, 0]]"


def checked_prompts(points, box) -> None:
    """Points and a box as JSON text, within the budget (before any work): readable JSON of plain
    numbers, nested at most budget.MAX_JSON_DEPTH deep, at most budget.MAX_POINTS points."""
    budget.json_value(points, budget.POINTS, Text("points", "个点"), budget.MAX_POINTS, POINTS_EXAMPLE)
    budget.json_value(box, budget.BOX, Text("numbers", "个数"), 4, "[30, 40, 200, 180]")


def checked_boxes(boxes) -> None:
    """Boxes as JSON (the Detection tab's kept boxes), within the budget: at most budget.MAX_BOXES."""
    budget.json_value(boxes, budget.BOXES, Text("boxes", "个框"), budget.MAX_BOXES,
                      '[{"box": [30, 40, 200, 180], "label": "cat"}]')


def blank(prompt) -> bool:
    """No prompt: nothing, blank text or an empty list."""
    return prompt is None or (isinstance(prompt, str) and not prompt.strip()) or (isinstance(prompt, list) and not prompt)


def clicked(evt) -> tuple[float, float]:
    """The click's (x, y) on the picture, checked (event data can be sent by any client)."""
    index = getattr(evt, "index", None)
    index = index if isinstance(index, (list, tuple)) and len(index) == 2 else (None, None)
    x, y = (budget.number(c, CLICK, 0, 1e6) for c in index)
    return x, y


def model_choices() -> tuple[list[tuple[str, str]], str]:
    """The Segment Anything models, marked when GrabCut will answer for them (a segment-anything
    checkpoint missing from weights/; offline, a hub model never downloaded), and the default for
    this kind of device (`visionlab.models.defaults`)."""
    from visionlab.models.defaults import default_for
    from visionlab.models.hub import hub_status
    from visionlab.pipelines.segmentation import weights_missing

    specs = specs_for("segmentation")
    online = hub_status().online
    marks = {"segment-anything": tr(" (checkpoint missing: GrabCut answers)", "（缺少权重文件：由 GrabCut 回答）"),
             "transformers": tr(" (not downloaded, offline: GrabCut answers)", "（未下载，离线：由 GrabCut 回答）")}

    grabcut = {s.key for s in specs if weights_missing(s.key) and not (online and s.library == "transformers")}
    usable = [s.key for s in specs if s.key not in grabcut]
    default = default_for("segmentation")
    if default in grabcut and usable:   # e.g. offline with a SAM checkpoint in weights/: SAM rather than GrabCut
        default = usable[0]
    return [(s.title + marks[s.library] if s.key in grabcut else s.title, s.key) for s in specs], default


def cost_note(model: str) -> Text | str:
    """What a new picture costs with `model` on this device (clicks after it are instant), and why
    it is the tab's default here when it is."""
    from visionlab.models.costs import tab_note

    return tab_note("segmentation", model, "encode", Text(" Clicks after that are instant.",
                                                          "之后的点击立刻就有结果。")) or ""


# page -> the (model, picture) embeddings this page has used: only the page's own earlier
# requests are called "cached" (the cache is shared; it never tells one student what another asked).
SEEN = PerPage(size=1024)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def seen_before(seg, request: gr.Request | None) -> bool:
    """Whether this page used this picture's embedding before (remembering it for next time)."""
    from visionlab.ops.images import content_key

    key, session = (seg.model, content_key(seg.image)), _session(request)
    mine = SEEN.get(session) or frozenset()
    SEEN.set(session, (mine | {key}) if len(mine) < 64 else frozenset({key}))
    return key in mine


def need_picture(image: str | None, then: str = "", then_zh: str = "") -> None:
    """Stop with a sentence when no picture is loaded yet."""
    if image is None:
        raise error(f"Upload a picture (or pick an example) first{then}.", f"请先上传一张图片（或选一个示例）{then_zh}。")


def summary(seg, again: bool) -> str:
    """Which method answered, how long each part took, and SAM's confidence in each mask.
    `again`: this page used the picture's embedding before."""
    from visionlab.models import get_spec

    title = get_spec(seg.model).title
    if seg.method == "grabcut":
        return warn(seg.notice, say(Text(f"GrabCut took {seg.decoder_ms:.0f} ms.", f"GrabCut 用时 {seg.decoder_ms:.0f} 毫秒。")))
    cost = (Text("image encoder **skipped** (the picture's embedding is kept since your first click)",
                 "**跳过**了图像编码器（从你第一次点击起，这张图的嵌入就保留着）") if again
            else Text(f"image encoder **{seg.encoder_ms:.0f} ms** (once per picture)",
                      f"图像编码器 **{seg.encoder_ms:.0f} 毫秒**（每张图只算一次）"))
    scores, n = ", ".join(f"{s:.2f}" for s in seg.scores[:8]), len(seg.masks)
    return say(Text(f"Answered by **{title}**: ", f"由 **{title}** 回答：") + cost + Text(
        f"; prompt encoder + mask decoder **{seg.decoder_ms:.0f} ms**. "
        f"{n} mask{'s' if n != 1 else ''}; predicted IoU: {scores}.",
        f"；提示编码器 + 掩码解码器 **{seg.decoder_ms:.0f} 毫秒**。{n} 个掩码；预测的 IoU：{scores}。"))


def results(seg, picture, request: gr.Request | None):
    """(`picture`, all masks as annotations, mask PNGs, summary): what every action shows."""
    from visionlab.pipelines.segmentation_views import mask_png

    annotated = (seg.image, [(m, n) for m, n in zip(seg.masks, seg.names)])
    pngs = [(mask_png(m), n) for m, n in zip(seg.masks, seg.names)]
    return picture, annotated, pngs, summary(seg, seg.method == "sam" and seen_before(seg, request))


def outputs_for(seg, request: gr.Request | None):
    """The results of a prompt: the picture shows the prompts and the best mask."""
    from visionlab.pipelines.segmentation_views import prompt_picture

    best = seg.masks[0] if len(seg.masks) else None
    return results(seg, prompt_picture(seg.image, seg.prompt, best), request)


def all_masks(seg, request: gr.Request | None):
    """The results of several masks at once (boxes, everything): each mask in its own colour."""
    from visionlab.pipelines.segmentation_views import masks_picture

    return results(seg, masks_picture(seg), request)


def segment_endpoint(image: str | None, points: str = "", box: str = "", model: str = "sam-vit-b",
                     request: gr.Request = None, progress=gr.Progress()):
    """Segment with points and/or a box given as JSON text, in picture pixels: points
    [[x, y], [x, y, 0]] (label 1 = object, the default; 0 = background), box [x0, y0, x1, y1].
    With neither, one point at the centre of the picture. Returns (picture with the prompts and the best mask, annotated masks, mask PNGs, summary)."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation import segment

    checked_prompts(points, box)
    note = ""
    if image is not None and blank(points) and blank(box):
        size = load_image(image).size
        points = json.dumps([[size[0] / 2, size[1] / 2]])
        note = say(Text("No prompt was given: one point at the centre was used. ", "没有给提示：用了图片中心的一个点。"))
    with _encoding(progress, model) as download:
        seg = segment(image, points, box, model, download=download)
    *pictures, text = outputs_for(seg, request)
    return (*pictures, note + text)


ENCODING = Text("{title}: encoding the picture (only the first click on a new picture waits for this), then the masks",
                "{title}：先编码图片（只有新图片的第一次点击要等这一步），再算掩码")


@contextmanager
def _encoding(progress: gr.Progress, model: str, doing: Text = ENCODING, step: str | None = "encode"):
    """The progress line while the block runs: a hub model's download in MB the first time, then
    what runs (with what a new picture costs here). Yields the byte counter for a segment-anything
    checkpoint download (None for a model outside the registry: the pipeline refuses it)."""
    from demos.progress import announced

    with announced([model], progress, doing, step) as line:
        yield line.report if line else None


def on_click(image: str | None, prompts: dict, mode: str, model: str, evt: gr.SelectData,
             request: gr.Request, progress=gr.Progress()):
    """A click on the picture: add a point (or a box corner), then segment with everything so far."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation import parse_prompt, segment
    from visionlab.pipelines.segmentation_views import display_scale, prompt_picture

    need_picture(image, ", then click on it", "，再点击它")
    x, y = clicked(evt)
    prompts = {**EMPTY_PROMPTS, **(prompts or {})}
    budget.count(len(prompts["points"]) + 1, budget.MAX_POINTS, Text("points", "个点"))
    picture = load_image(image)
    scale = display_scale(picture.height, picture.width)
    x, y = x / scale, y / scale
    if mode == CLICK_MODES[2]:
        if prompts["corner"] is None:
            prompts = {**prompts, "corner": [x, y]}
            shown = prompt_picture(np.asarray(picture), parse_prompt(prompts["points"], prompts["box"],
                                                                     picture.width, picture.height), corner=(x, y))
            return shown, gr.skip(), gr.skip(), say(Text("First corner set: click the opposite corner.",
                                                          "第一个角已设好：请点击对角。")), prompts
        prompts = {**prompts, "box": [*prompts["corner"], x, y], "corner": None}
    else:
        prompts = {**prompts, "points": prompts["points"] + [[x, y, 1 if mode == CLICK_MODES[0] else 0]]}
    with _encoding(progress, model) as download:
        seg = segment(image, prompts["points"], prompts["box"], model, download=download)
    return (*outputs_for(seg, request), prompts)


def undo(image: str | None, prompts: dict, model: str, request: gr.Request):
    """Remove the last point (or the box if there are no points) and segment again."""
    from visionlab.pipelines.segmentation import segment

    prompts = {**EMPTY_PROMPTS, **(prompts or {})}
    if prompts["points"]:
        prompts["points"] = prompts["points"][:-1]
    else:
        prompts["box"] = None
    if image is None or (not prompts["points"] and prompts["box"] is None):
        return None, None, [], say(Text("No prompts left: click on the object.", "没有提示了：请点击物体。")), {**EMPTY_PROMPTS}
    return (*outputs_for(segment(image, prompts["points"], prompts["box"], model), request), prompts)


def show_picture(image: str | None):
    """A new picture: show it, clickable, with no prompts."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation_views import prompt_picture

    if image is None:
        return None, None, [], "", {**EMPTY_PROMPTS}
    return (prompt_picture(np.asarray(load_image(image)), None), None, [],
            say(Text("Click on an object to cut it out.", "点击一个物体，把它分割出来。")), {**EMPTY_PROMPTS})


def everything(image: str | None, model: str, points_per_side: int, request: gr.Request,
               progress=gr.Progress()):
    from visionlab.pipelines.segmentation import segment_everything

    need_picture(image)
    points_per_side = budget.number(points_per_side, GRID, 4, budget.MAX_GRID_SIDE, whole=True)
    n = points_per_side ** 2
    asking = Text(f"{{title}}: asking at {n} grid points", f"{{title}}：在 {n} 个网格点上询问")
    with _encoding(progress, model, asking, step=None) as download:
        seg = segment_everything(image, model, points_per_side, download=download)
    picture, annotated, pngs, text = all_masks(seg, request)
    return picture, annotated, pngs, text + say(Text(f" ({n} grid points asked.)", f"（询问了 {n} 个网格点。）"))


def boxes_to_masks(image: str | None, boxes_json: str, model: str, request: gr.Request, progress=gr.Progress()):
    """Boxes as JSON (the Detection tab's kept boxes) become SAM box prompts: one mask per box."""
    from visionlab.pipelines.segmentation import segment_boxes

    need_picture(image)
    checked_boxes(boxes_json)
    with _encoding(progress, model) as download:
        seg = segment_boxes(image, boxes_json, model=model, download=download)
    return all_masks(seg, request)


def text_to_masks(image: str | None, text: str, detector: str, model: str, request: gr.Request,
                  progress=gr.Progress()):
    """Grounded-SAM: a detector turns the text into boxes, SAM turns each box into a mask."""
    from visionlab.pipelines.segmentation import grounded_masks

    from demos.detection import checked_queries

    need_picture(image)
    text = checked_queries(text)
    with _encoding(progress, model) as download:
        raw, kept, seg = grounded_masks(image, text, detector, model, download=download)
    result = all_masks(seg, request)
    n = len(kept.indices)
    found = say(Text(f"{raw.title} found {n} box{'es' if n != 1 else ''}. ", f"{raw.title} 找到了 {n} 个框。"))
    return (*result[:3], found + result[3] + (f"\n\n{warn(raw.notice)}" if raw.notice else ""))


def build() -> dict:
    """The tab; returns what other tabs hand boxes to: {"image", "boxes", "from_boxes" (event kwargs)}."""
    from demos.common import model_choices as detector_choices

    choices, default = model_choices()
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=260)
            model = gr.Dropdown(choices=choices, value=default, label=tr("Segment Anything model", "Segment Anything 模型"))
            first_cost = cost_note(default)
            cost = gr.Markdown(tr(first_cost.en, first_cost.zh) if isinstance(first_cost, Text) else "")
            mode = gr.Radio(CLICK_CHOICES, value=CLICK_MODES[0], label=tr("A click on the picture adds", "在图片上点击会加上"))
            with gr.Row():
                undo_btn = gr.Button(tr("Undo last", "撤销上一步"))
                clear_btn = gr.Button(tr("Clear prompts", "清除提示"))
            with gr.Accordion(tr("Everything", "全部分割"), open=False):
                per_side = Slider(4, budget.MAX_GRID_SIDE, value=32, step=1,
                                  label=tr("Points per side (the grid of prompts; SAM's automatic mask generator "
                                           "uses 32, fewer is faster)",
                                           "每边的点数（提示网格；SAM 的自动掩码生成器用 32，点越少越快）"))
                everything_btn = gr.Button(tr("Segment everything", "全部分割"))
            with gr.Accordion(tr("Text or detector boxes → masks (Grounded-SAM)", "文字或检测框 → 掩码（Grounded-SAM）"),
                              open=False):
                det_choices, det_default = detector_choices("detection", "owlv2-base")
                detector = gr.Dropdown(choices=det_choices, value=det_default, label=tr("Detector", "检测器"))
                text = gr.Textbox("cat", label=tr("What to cut out (open-vocabulary detectors)", "要分割什么（开放词汇检测器）"))
                text_btn = gr.Button(tr("Find and cut out", "找到并分割"))
                boxes = gr.Textbox("", label=tr("Boxes as JSON (the Detection tab sends its kept boxes here)",
                                                "JSON 格式的框（检测标签页把保留的框发到这里）"), lines=2)
                boxes_btn = gr.Button(tr("Cut out these boxes", "分割这些框"))
            gr.Examples(example_paths(("scenes", "photos")), inputs=[image], examples_per_page=8,
                        label=tr("Examples", "示例"))
        with gr.Column(scale=7):
            clickable = gr.Image(label=tr("Click here (green: object, red: background, yellow: box)",
                                          "点这里（绿色：物体，红色：背景，黄色：框）"),
                                 interactive=False, buttons=["download"], elem_id="sam-click")
            caption = gr.Markdown(tr("Pick a picture, then click on an object.", "选一张图片，然后点击一个物体。"))
            annotated = gr.AnnotatedImage(label=tr("Masks (hover to see each)", "掩码（鼠标悬停查看每一个）"))
            gallery = gr.Gallery(label=tr("Masks as PNG (download for slides)", "PNG 格式的掩码（可下载用于幻灯片）"),
                                 columns=6, height=180, format="png", object_fit="contain")
    note_panel("segmentation")

    prompts = gr.State({**EMPTY_PROMPTS})
    results = [clickable, annotated, gallery, caption]
    image.change(handler(show_picture), image, [*results, prompts], api_visibility="private")
    show_cost = dict(fn=handler(cost_note), inputs=model, outputs=cost, api_visibility="private", queue=False,
                     show_progress="hidden")
    model.change(**show_cost)
    clickable.select(handler(on_click), [image, prompts, mode, model], [*results, prompts],
                     concurrency_id=MODEL_CONCURRENCY, api_visibility="private").success(**show_cost)
    undo_btn.click(handler(undo), [image, prompts, model], [*results, prompts],
                   concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    clear_btn.click(handler(show_picture), image, [*results, prompts], api_visibility="private")
    everything_btn.click(handler(everything), [image, model, per_side], results,
                         concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    text_btn.click(handler(text_to_masks), [image, text, detector, model], results,
                   concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    from_boxes = dict(fn=handler(boxes_to_masks), inputs=[image, boxes, model], outputs=results,
                      concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    boxes_btn.click(**from_boxes)
    # The API twin of the clicks: points and box as JSON text (gradio_client cannot click).
    api_points, api_box = gr.Textbox("", visible=False), gr.Textbox("", visible=False)
    api_trigger = gr.Button(visible=False)
    api_trigger.click(handler(segment_endpoint), [image, api_points, api_box, model], results,
                      api_name="segment", concurrency_id=MODEL_CONCURRENCY)
    return {"image": image, "boxes": boxes, "from_boxes": from_boxes}
