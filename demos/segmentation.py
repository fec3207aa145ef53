"""Segment Anything tab: click, box, text or everything; the picture is encoded once per user."""

from __future__ import annotations

import json

import gradio as gr
import numpy as np

from demos.common import MODEL_CONCURRENCY, example_paths, image_input, note, user_errors
from visionlab.models.gpu import gpu_task
from visionlab.models.registry import specs_for

CLICK_MODES = ["Object point (+)", "Background point (−)", "Box: click two corners"]
EMPTY_PROMPTS = {"points": [], "box": None, "corner": None}


def model_choices() -> tuple[list[tuple[str, str]], str]:
    """SAM checkpoints, marked when their file is missing (GrabCut answers for those)."""
    from visionlab.models.sam import checkpoint_path

    specs = specs_for("segmentation")
    choices = [(s.title + ("" if checkpoint_path(s).exists() else " (checkpoint missing: GrabCut answers)"), s.key)
               for s in specs]
    return choices, specs[0].key


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "api"


def summary(seg) -> str:
    """Which method answered, how long each part took, and SAM's confidence in each mask."""
    from visionlab.models import get_spec

    title = get_spec(seg.model).title
    if seg.method == "grabcut":
        return f"⚠️ {seg.notice}\n\nGrabCut took {seg.decoder_ms:.0f} ms."
    cost = (f"image encoder **{seg.encoder_ms:.0f} ms** (this picture was new for you)" if seg.encoder_ms
            else "image encoder **skipped** (embedding cached for this picture and user)")
    scores = ", ".join(f"{s:.2f}" for s in seg.scores[:8])
    return (f"Answered by **{title}**: {cost}; prompt encoder + mask decoder **{seg.decoder_ms:.0f} ms**. "
            f"{len(seg.masks)} mask{'s' if len(seg.masks) != 1 else ''}; predicted IoU: {scores}.")


def results(seg, picture):
    """(`picture`, all masks as annotations, mask PNGs, summary): what every action shows."""
    from visionlab.pipelines.segmentation_views import mask_png

    annotated = (seg.image, [(m, n) for m, n in zip(seg.masks, seg.names)])
    pngs = [(mask_png(m), n) for m, n in zip(seg.masks, seg.names)]
    return picture, annotated, pngs, summary(seg)


def outputs_for(seg):
    """The results of a prompt: the picture shows the prompts and the best mask."""
    from visionlab.pipelines.segmentation_views import prompt_picture

    best = seg.masks[0] if len(seg.masks) else None
    return results(seg, prompt_picture(seg.image, seg.prompt, best))


def all_masks(seg):
    """The results of several masks at once (boxes, everything): each mask in its own colour."""
    from visionlab.pipelines.segmentation_views import masks_picture

    return results(seg, masks_picture(seg))


@gpu_task
def segment_endpoint(image: str | None, points: str = "", box: str = "", model: str = "sam-vit-b",
                     request: gr.Request = None, progress=gr.Progress()):
    """Segment with points and/or a box given as JSON text, in picture pixels: points
    [[x, y], [x, y, 0]] (label 1 = object, the default; 0 = background), box [x0, y0, x1, y1].
    With neither, one point at the centre of the picture. Returns (picture with the prompts and the best mask, annotated masks, mask PNGs, summary)."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation import segment

    note = ""
    if image is not None and not (points or "").strip() and not (box or "").strip():
        size = load_image(image).size
        points, note = json.dumps([[size[0] / 2, size[1] / 2]]), "No prompt was given: one point at the centre was used. "
    seg = segment(image, points, box, model, _session(request), download=_download_bar(progress))
    *pictures, text = outputs_for(seg)
    return (*pictures, note + text)


def _download_bar(progress: gr.Progress):
    def report(done: int, total: int) -> None:
        progress(done / total if total else None, desc=f"Downloading the SAM checkpoint ({done >> 20} MB)")
    return report


@gpu_task
def on_click(image: str | None, prompts: dict, mode: str, model: str, evt: gr.SelectData,
             request: gr.Request, progress=gr.Progress()):
    """A click on the picture: add a point (or a box corner), then segment with everything so far."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation import parse_prompt, segment
    from visionlab.pipelines.segmentation_views import display_scale, prompt_picture

    if image is None:
        raise gr.Error("Upload a picture (or pick an example) first, then click on it.")
    picture = load_image(image)
    scale = display_scale(picture.height, picture.width)
    x, y = evt.index[0] / scale, evt.index[1] / scale
    prompts = {**EMPTY_PROMPTS, **(prompts or {})}
    if mode == CLICK_MODES[2]:
        if prompts["corner"] is None:
            prompts = {**prompts, "corner": [x, y]}
            shown = prompt_picture(np.asarray(picture), parse_prompt(prompts["points"], prompts["box"],
                                                                     picture.width, picture.height), corner=(x, y))
            return shown, gr.skip(), gr.skip(), "First corner set: click the opposite corner.", prompts
        prompts = {**prompts, "box": [*prompts["corner"], x, y], "corner": None}
    else:
        prompts = {**prompts, "points": prompts["points"] + [[x, y, 1 if mode == CLICK_MODES[0] else 0]]}
    seg = segment(image, prompts["points"], prompts["box"], model, _session(request),
                  download=_download_bar(progress))
    return (*outputs_for(seg), prompts)


def undo(image: str | None, prompts: dict, model: str, request: gr.Request):
    """Remove the last point (or the box if there are no points) and segment again."""
    from visionlab.pipelines.segmentation import segment

    prompts = {**EMPTY_PROMPTS, **(prompts or {})}
    if prompts["points"]:
        prompts["points"] = prompts["points"][:-1]
    else:
        prompts["box"] = None
    if image is None or (not prompts["points"] and prompts["box"] is None):
        return None, None, [], "No prompts left: click on the object.", {**EMPTY_PROMPTS}
    return (*outputs_for(segment(image, prompts["points"], prompts["box"], model, _session(request))), prompts)


def show_picture(image: str | None):
    """A new picture: show it, clickable, with no prompts."""
    from visionlab.ops.images import load_image
    from visionlab.pipelines.segmentation_views import prompt_picture

    if image is None:
        return None, None, [], "", {**EMPTY_PROMPTS}
    return (prompt_picture(np.asarray(load_image(image)), None), None, [],
            "Click on an object to cut it out.", {**EMPTY_PROMPTS})


@gpu_task
def everything(image: str | None, model: str, points_per_side: int, request: gr.Request,
               progress=gr.Progress()):
    from visionlab.pipelines.segmentation import segment_everything

    if image is None:
        raise gr.Error("Upload a picture (or pick an example) first.")
    seg = segment_everything(image, model, _session(request), int(points_per_side),
                             progress=lambda f: progress(f, desc="Asking SAM at every grid point"),
                             download=_download_bar(progress))
    picture, annotated, pngs, text = all_masks(seg)
    return picture, annotated, pngs, text + f" ({int(points_per_side) ** 2} grid points asked.)"


def _boxes_to_masks(image: str | None, boxes_json: str, model: str, request: gr.Request, progress=gr.Progress()):
    """Boxes as JSON (the Detection tab's kept boxes) become SAM box prompts: one mask per box."""
    from visionlab.pipelines.segmentation import segment_boxes

    if image is None:
        raise gr.Error("Upload a picture (or pick an example) first.")
    return all_masks(segment_boxes(image, boxes_json, model=model, session=_session(request),
                                       download=_download_bar(progress)))


boxes_to_masks = gpu_task(_boxes_to_masks)


@gpu_task
def text_to_masks(image: str | None, text: str, detector: str, model: str, request: gr.Request,
                  progress=gr.Progress()):
    """Grounded-SAM: a detector turns the text into boxes, SAM turns each box into a mask."""
    from visionlab.pipelines.detection import detect, suppress

    if image is None:
        raise gr.Error("Upload a picture (or pick an example) first.")
    raw = detect(image, detector, text)
    kept = suppress(raw, 0.3, 0.5, "per-class")
    result = _boxes_to_masks(image, json.dumps(kept.as_json(raw)), model, request, progress)  # already on the GPU
    found = f"{raw.title} found {len(kept.indices)} box{'es' if len(kept.indices) != 1 else ''}. "
    return (*result[:3], found + result[3] + (f"\n\n⚠️ {raw.notice}" if raw.notice else ""))


def build() -> dict:
    """The tab; returns what other tabs hand boxes to: {"image", "boxes", "from_boxes" (event kwargs)}."""
    from demos.common import model_choices as detector_choices

    choices, default = model_choices()
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label="Picture", height=260)
            model = gr.Dropdown(choices=choices, value=default, label="Segment Anything model")
            mode = gr.Radio(CLICK_MODES, value=CLICK_MODES[0], label="A click on the picture adds")
            with gr.Row():
                undo_btn = gr.Button("Undo last")
                clear_btn = gr.Button("Clear prompts")
            with gr.Accordion("Everything / 全部分割", open=False):
                per_side = gr.Slider(4, 32, value=8, step=1, label="Points per side (the grid of prompts)")
                everything_btn = gr.Button("Segment everything")
            with gr.Accordion("Text or detector boxes → masks (Grounded-SAM)", open=False):
                det_choices, det_default = detector_choices("detection", "owlv2-base")
                detector = gr.Dropdown(choices=det_choices, value=det_default, label="Detector")
                text = gr.Textbox("cat", label="What to cut out (open-vocabulary detectors)")
                text_btn = gr.Button("Find and cut out")
                boxes = gr.Textbox("", label="Boxes as JSON (the Detection tab sends its kept boxes here)", lines=2)
                boxes_btn = gr.Button("Cut out these boxes")
            gr.Examples(example_paths(("scenes", "photos")), inputs=[image], examples_per_page=8, label="Examples")
        with gr.Column(scale=7):
            clickable = gr.Image(label="Click here (green: object, red: background, yellow: box)",
                                 interactive=False, buttons=["download"], elem_id="sam-click")
            caption = gr.Markdown("Pick a picture, then click on an object.")
            annotated = gr.AnnotatedImage(label="Masks (hover to see each)")
            gallery = gr.Gallery(label="Masks as PNG (download for slides)", columns=6, height=180, format="png",
                                 object_fit="contain")
    with gr.Accordion("What am I looking at? / 这是什么?", open=False):
        gr.Markdown(note("segmentation"))

    prompts = gr.State({**EMPTY_PROMPTS})
    results = [clickable, annotated, gallery, caption]
    image.change(show_picture, image, [*results, prompts], api_visibility="private")
    clickable.select(user_errors(on_click), [image, prompts, mode, model], [*results, prompts],
                     concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    undo_btn.click(user_errors(undo), [image, prompts, model], [*results, prompts],
                   concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    clear_btn.click(show_picture, image, [*results, prompts], api_visibility="private")
    everything_btn.click(user_errors(everything), [image, model, per_side], results,
                         concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    text_btn.click(user_errors(text_to_masks), [image, text, detector, model], results,
                   concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    from_boxes = dict(fn=user_errors(boxes_to_masks), inputs=[image, boxes, model], outputs=results,
                      concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    boxes_btn.click(**from_boxes)
    # The API twin of the clicks: points and box as JSON text (gradio_client cannot click).
    api_points, api_box = gr.Textbox("", visible=False), gr.Textbox("", visible=False)
    api_trigger = gr.Button(visible=False)
    api_trigger.click(user_errors(segment_endpoint), [image, api_points, api_box, model], results,
                      api_name="segment", concurrency_id=MODEL_CONCURRENCY)
    return {"image": image, "boxes": boxes, "from_boxes": from_boxes}
