"""Masked image modeling tab: hide patches, watch MAE and SimMIM paint them back, compare errors."""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import gradio as gr
import numpy as np
from gradio.components.base import server

from demos.common import (MODEL_CONCURRENCY, Slider, answered_by, example_paths, image_input, model_choices,
                          model_dropdown, note_panel, skip_without_image, handler)
from demos.example_cache import cached_for_examples
from demos.progress import with_progress
from demos.i18n import choices, error, say, tr
from visionlab import budget
from visionlab.errors import VisionLabError
from visionlab.ops.images import upscale_nearest
from visionlab.models.masked_facts import model_facts
from visionlab.text import Text

if TYPE_CHECKING:  # torch is imported on the first call, not at start-up
    from visionlab.pipelines.masked import Reconstruction

# Choices are (shown, value) pairs: the value is the English, which is also what the API takes.
METHODS = ["MAE", "SimMIM", "Both side by side (same mask)"]
BOTH = METHODS[2]
METHOD_CHOICES = choices(METHODS, ["MAE", "SimMIM", "两个并排（同一个掩码）"])
SOURCES = ["Random squares (seed)", "My brush strokes"]
SOURCE_CHOICES = choices(SOURCES, ["随机方块（随机种子）", "我的画笔涂抹"])
PREFER = {"MAE": "mae-vit-base", "SimMIM": "simmim-swin-base"}
PANELS = [tr("Original", "原图"), tr("Masked", "遮住后"), tr("Reconstruction", "重建"), tr("Pasted", "拼回"),
          tr("Error per hidden patch", "每个被遮图块的误差")]
LEGEND = tr("Left to right: the picture at the model's input size · what the model is given (hidden patches "
            "dark) · its guess for *every* patch (only hidden ones are trained, so visible ones may look odd) · "
            "its guesses pasted into the hidden patches, the real picture elsewhere · the error of each hidden "
            "patch (blue small, red large).",
            "从左到右：缩放到模型输入大小的图片 · 模型拿到的输入（被遮的图块是暗的）· 模型对*每个*图块的猜测"
            "（只有被遮的图块参与训练，所以可见的图块可能看起来很怪）· 把猜测拼回被遮的位置、其余用真实图片 · "
            "每个被遮图块的误差（蓝色小，红色大）。")
N_PANEL = len(PANELS) + 1  # pictures + the caption
RATIO = budget.Setting("ratio", "The mask ratio", "掩码比例")
MASK_PATCH = budget.Setting("mask_patch", "The mask patch size", "掩码块大小")
SEED = budget.Setting("seed", "The seed", "随机种子")
EDITOR_SIDE = 1024  # the brush canvas shows the picture at most this many pixels a side


class BrushEditor(gr.ImageEditor):
    """gr.ImageEditor whose layers reach the handler as files (paths, or bytes sent as blobs), not
    as decoded pictures. gradio would decode the background, every layer and the composite on
    every request, even while random squares make the mask (an 8000 x 8000 background with four
    layers, 186 KB sent: +4.4 GB); here `painted` reads only the layers, only when the brush is
    the mask source, and only within the budget. Blobs the page sends ahead are kept for at most
    BLOBS editor values, in at most MAX_BRUSH_LAYERS layers. (No __init__ of its own.)"""

    is_template = True  # rendered by the frontend's ordinary ImageEditor
    BLOBS = 16

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.id is not None:
            blobs = self.blob_storage.pop(payload.id, None)
            layers = list(blobs.layers) if blobs is not None else []
        else:
            layers = [layer.path for layer in payload.layers]
        return {"layers": [layer for layer in layers if layer is not None]}

    @server
    def accept_blobs(self, data):
        """The page's layers, sent ahead of the event; a layer index beyond the budget is dropped
        (gradio would grow a list to any index it is sent), and only the newest BLOBS values kept."""
        index = data.data.get("index")
        if data.data.get("type") == "layer" and (not str(index).isdigit() or int(index) >= budget.MAX_BRUSH_LAYERS):
            return None
        if not isinstance(self.blob_storage, OrderedDict):
            self.blob_storage = OrderedDict(self.blob_storage)
        result = super().accept_blobs(data)
        self.blob_storage.move_to_end(data.data["id"])
        while len(self.blob_storage) > self.BLOBS:
            self.blob_storage.popitem(last=False)
        return result


def painted(editor: Any) -> np.ndarray | None:
    """The brush editor's layers (files, see BrushEditor; or decoded (h, w, 4) arrays) -> the
    union of their painted pixels (alpha > 0) as an (h, w) bool array; None when nothing was
    drawn or there is no editor value. Within the budget: at most budget.MAX_BRUSH_LAYERS layers
    of at most budget.MAX_LAYER_PIXELS each, their sizes read from the file headers before any
    pixel is decoded, and one layer decoded at a time."""
    from PIL import Image

    if not isinstance(editor, dict):
        return None
    layers = [layer for layer in editor.get("layers") or [] if layer is not None]
    budget.count(len(layers), budget.MAX_BRUSH_LAYERS, Text("brush layers", "画笔图层"))
    union = None
    for layer in layers:
        if isinstance(layer, np.ndarray):
            alpha = layer[..., 3] > 0 if layer.ndim == 3 and layer.shape[2] == 4 else None
        else:
            try:
                img = Image.open(io.BytesIO(layer) if isinstance(layer, (bytes, bytearray)) else layer)
            except (OSError, ValueError):
                raise budget.BadValue(Text("A brush layer is not a picture VisionLab can read.",
                                           "有一个画笔图层不是 VisionLab 能读的图片。")) from None
            w, h = img.size
            if w * h > budget.MAX_LAYER_PIXELS:
                side = budget.MAX_LAYER_SIDE
                raise budget.OverBudget(Text(f"A brush layer is {w} x {h} pixels; a layer may have at most {side} x "
                                             f"{side} ({budget.MAX_LAYER_PIXELS:,}) pixels.",
                                             f"有一个画笔图层是 {w} x {h} 像素；每个图层最多 {side} x {side}"
                                             f"（{budget.MAX_LAYER_PIXELS:,}）像素。"))
            alpha = np.asarray(img.convert("RGBA").getchannel("A")) > 0
        if alpha is None or (union is not None and alpha.shape != union.shape):
            continue
        union = alpha if union is None else union | alpha
    return union


def caption(r: Reconstruction) -> str:
    """What happened, in one paragraph: mask, targets, the two losses, notes, who answered."""
    total = r.mask.size
    how = {"random": Text(f"random {r.mask_patch} px squares", f"随机的 {r.mask_patch} 像素方块"),
           "shared": Text("the same mask as the MAE panel", "和 MAE 面板相同的掩码"),
           "brush": Text("your brush strokes", "你的画笔涂抹")}[r.mask_source]
    share = r.loss / r.baseline_loss if r.baseline_loss > 0 else float("nan")
    lines = [
        Text(f"**{r.method}** hid **{r.hidden_patches} of {total} patches ({r.ratio:.0%})** of {r.patch_size} px, "
             "chosen by ", f"**{r.method}** 遮住了 **{total} 个图块中的 {r.hidden_patches} 个（{r.ratio:.0%}）**，"
             f"每块 {r.patch_size} 像素，由") + how + Text(f". Trained to predict {r.target_kind.en}.",
                                                          f"选出。训练目标是预测{r.target_kind.zh}。"),
        Text(f"Masked-region **{r.loss_name}**: model **{r.loss:.4f}**, mean-colour baseline **{r.baseline_loss:.4f}** "
             f"(the model's error is {share:.0%} of the baseline's; 0-1 pixel units).",
             f"被遮区域的 **{r.loss_name}**：模型 **{r.loss:.4f}**，平均颜色基线 **{r.baseline_loss:.4f}** "
             f"（模型的误差是基线的 {share:.0%}；像素取 0-1）。"),
    ]
    lines = [say(line) for line in lines] + [f"ℹ️ {say(n)}" for n in r.notes]
    lines.append(answered_by(r.model, None, r.latency_ms, r.notice))
    return "\n\n".join(lines)


def panel_values(r: Reconstruction) -> list[Any]:
    pics = [r.original, r.masked, r.reconstruction, r.pasted]
    return [upscale_nearest(p, 256) for p in pics] + [r.error_heatmap, caption(r)]


def losses(results: list[Reconstruction]) -> dict[str, Any]:
    """Machine-readable losses for API users, one entry per method."""
    return {r.method: {"loss": r.loss_name, "model": round(r.loss, 6), "baseline": round(r.baseline_loss, 6),
                       "hidden_patches": r.hidden_patches, "patches": int(r.mask.size), "ratio": round(r.ratio, 4),
                       "model_key": r.model} for r in results}


def masked_models(values: list) -> list:
    """The registry keys `run_reconstruct` will use for its arguments (method, MAE, SimMIM models)."""
    method, mae, simmim = (list(values[1:4]) + [None] * 3)[:3]
    return {"MAE": [mae], "SimMIM": [simmim]}.get(method, [mae, simmim])


@cached_for_examples
def run_reconstruct(image: str | None, method: str = "MAE", mae_model: str = "shapes-mae-tiny",
                    simmim_model: str = "shapes-simmim-tiny", ratio: float = 0.75, mask_patch: int = 8,
                    seed: int = 0, mask_source: str = SOURCES[0], brush: Any = None):
    """Hide part of `image` and reconstruct it. Returns the first panel's five pictures and
    caption, the second panel's (only with "Both"; else None), and the losses as a dict."""
    from visionlab.pipelines.masked import reconstruct, reconstruct_pair

    ratio = budget.number(ratio, RATIO, 0.05, 0.95)
    mask_patch = budget.number(mask_patch, MASK_PATCH, 4, 112, whole=True)
    seed = budget.number(seed, SEED, 0, 999, whole=True)
    if method not in METHODS:
        raise error(f"'{method}' is not a method of this tab. Pick MAE, SimMIM or Both.",
                    f"“{method}” 不是这个标签页的方法。请选 MAE、SimMIM 或两个并排。")
    strokes = painted(brush) if mask_source == SOURCES[1] else None
    if mask_source == SOURCES[1] and strokes is None:
        strokes = np.zeros((1, 1), bool)  # empty brush: the pipeline falls back to random, with a sentence
    args = dict(ratio=ratio, mask_patch=mask_patch, seed=seed, brush=strokes)
    if method == BOTH:
        results = list(reconstruct_pair(image, mae_model, simmim_model, **args))
    else:
        results = [reconstruct(image, mae_model if method == "MAE" else simmim_model, **args)]
    second = panel_values(results[1]) if len(results) > 1 else [None] * N_PANEL
    return [*panel_values(results[0]), *second, losses(results)]


def when_brushing(fn, n_outputs: int):
    """A stroke re-runs the model only while the brush is the mask source (and a picture is loaded)."""
    def wrapped(image, *args):
        mask_source = args[6]
        if image is None or mask_source != SOURCES[1]:
            return (gr.skip(),) * n_outputs
        return fn(image, *args)
    return wrapped


def settings_for(method: str, mae_model: str, simmim_model: str, ratio: float):
    """When the method or a model changes: the method's default ratio and mask patch size,
    and which model dropdowns and panels show."""
    from visionlab.models.masked_facts import DEFAULT_RATIO, model_facts

    first = simmim_model if method == "SimMIM" else mae_model
    new_ratio = DEFAULT_RATIO.get(method, ratio)
    return (gr.update(value=new_ratio), gr.update(value=model_facts(first)["mask_patch"]),
            gr.update(visible=method != "SimMIM"), gr.update(visible=method != "MAE"),
            gr.update(visible=method == BOTH), f"### {'SimMIM' if method == 'SimMIM' else 'MAE'}")


def picture_to_editor(image: str | None):
    """A new picture becomes the brush canvas's background (strokes start empty), at most
    EDITOR_SIDE pixels a side: the canvas, and so every layer the page sends back, has the
    background's size, and the brush is carried to the model's patches by position."""
    from visionlab.ops.images import load_image

    if not isinstance(image, str):
        return gr.skip()
    try:
        background = np.asarray(load_image(image, max_side=EDITOR_SIDE))
    except VisionLabError:
        return gr.skip()  # the tab's own event says what is wrong with the picture
    return {"background": background, "layers": [], "composite": background}


def result_panel(heading, visible: bool = True, legend: bool = True):
    """One method's row of pictures and its caption."""
    with gr.Column(visible=visible) as col:
        title = gr.Markdown(heading)
        with gr.Row(equal_height=True):
            pics = [gr.Image(label=label, interactive=False, height=220, buttons=["download"]) for label in PANELS]
        if legend:
            gr.Markdown(LEGEND, elem_classes="vl-status")
        text = gr.Markdown()
    return col, title, [*pics, text]


def build() -> None:
    mae_default = model_choices("masked-mae", PREFER["MAE"])[1]
    with gr.Row():
        with gr.Column(scale=3, min_width=300):
            image = image_input(label=tr("Picture", "图片"), height=260)
            method = gr.Radio(METHOD_CHOICES, value="MAE", label=tr("Method", "方法"))
            mae_model = model_dropdown("masked-mae", tr("MAE model", "MAE 模型"), prefer=PREFER["MAE"])
            simmim_model = model_dropdown("masked-simmim", tr("SimMIM model", "SimMIM 模型"), prefer=PREFER["SimMIM"],
                                          visible=False)
            ratio = Slider(0.05, 0.95, value=0.75, step=0.05,
                              label=tr("Mask ratio: share of the picture hidden (MAE default 0.75, SimMIM 0.6)",
                                       "掩码比例：图片被遮住的比例（MAE 默认 0.75，SimMIM 默认 0.6）"))
            mask_patch = Slider(4, 112, value=model_facts(mae_default)["mask_patch"], step=4,
                                   label=tr("Mask patch size in pixels of the model's input (rounded to whole patches)",
                                            "掩码块大小，以模型输入的像素计（取整到整块图块）"))
            seed = Slider(0, 999, value=0, step=1, label=tr("Seed (same seed, same mask)", "随机种子（种子相同，掩码相同）"))
            mask_source = gr.Radio(SOURCE_CHOICES, value=SOURCES[0], label=tr("What to hide", "遮住什么"))
            brush = BrushEditor(label=tr("Brush: paint over what to hide (every touched patch is hidden)",
                                            "画笔：涂抹要遮住的地方（碰到的图块都会被遮住）"),
                                   type="numpy", image_mode="RGBA", sources=[], height=300, layers=False,
                                   transforms=[], brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed"),
                                   eraser=gr.Eraser(), visible=False)
            run = gr.Button(tr("Hide and reconstruct", "遮住并重建"), variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12,
                        label=tr("Examples: public-domain photos and ShapesWorld pictures",
                                 "示例：公有领域照片和 ShapesWorld 图片"))
        with gr.Column(scale=9):
            _, title_a, outputs_a = result_panel("### MAE")
            panel_b, _, outputs_b = result_panel(tr("### SimMIM, same mask", "### SimMIM，同一个掩码"), visible=False,
                                                 legend=False)
            loss_json = gr.JSON(label=tr("Losses (masked region, 0-1 pixel units)", "损失（被遮区域，像素取 0-1）"),
                                visible=False)
    note_panel("masked")

    inputs = [image, method, mae_model, simmim_model, ratio, mask_patch, seed, mask_source, brush]
    outputs = [*outputs_a, *outputs_b, loss_json]
    main = dict(fn=handler(with_progress(run_reconstruct, models=masked_models)), inputs=inputs, outputs=outputs,
                concurrency_id=MODEL_CONCURRENCY)
    run.click(**main, api_name="reconstruct")
    auto = {**main, "fn": handler(skip_without_image(run_reconstruct, len(outputs))), "api_visibility": "private",
            "trigger_mode": "always_last"}
    gr.on([image.change, ratio.input, mask_patch.input, seed.input, mask_source.input], **auto)
    gr.on([brush.input, brush.apply], **{**auto, "fn": handler(when_brushing(run_reconstruct, len(outputs)))})
    settings = dict(fn=settings_for, inputs=[method, mae_model, simmim_model, ratio],
                    outputs=[ratio, mask_patch, mae_model, simmim_model, panel_b, title_a], api_visibility="private",
                    queue=False)
    gr.on([method.input, mae_model.input, simmim_model.input], **settings).then(**auto)
    mask_source.input(lambda s: gr.update(visible=s == SOURCES[1]), [mask_source], [brush], queue=False,
                      api_visibility="private")
    image.change(picture_to_editor, [image], [brush], api_visibility="private", trigger_mode="always_last")
