"""Attention tab: where a ViT looks (rollout, heads, DINO masks, patches), Grad-CAM for CNNs."""

from __future__ import annotations

import gradio as gr

from demos.common import (ATTENTION_TASKS, MODEL_CONCURRENCY, Number, Slider, answered_by,
                          example_paths, image_input, model_dropdown, note_panel, skip_without_image, handler)
from demos.example_cache import cached_for_examples
from demos.progress import with_progress
from demos.i18n import choices, error, say, tr
from visionlab.models.defaults import default_for
from visionlab import budget
from visionlab.text import Text

VIEWS = {
    "Rollout (all layers)": "rollout",
    "[CLS] attention: one layer, one head": "head",
    "All heads of one layer": "heads",
    "DINO masks per head (whole picture, as in the DINO paper)": "dino",
    "DINO mask, heads fused (VisionLab's variant)": "dino-fused",
    "Grad-CAM (CNNs)": "grad-cam",
    "Rollout beside Grad-CAM": "side-by-side",
    "Patch grid": "patches",
    "Position embeddings": "positions",
}
DEFAULT_VIEW = "Rollout (all layers)"
VIEW_CHOICES = choices(VIEWS, [
    "注意力展开（所有层）", "[CLS] 注意力：一层、一个头", "一层的所有头", "DINO 掩码：每个头（整张图，和 DINO 论文一样）",
    "DINO 掩码：多头融合（VisionLab 的变体）",
    "Grad-CAM（卷积网络）", "注意力展开与 Grad-CAM 并排", "图块网格", "位置嵌入"])
FUSIONS = choices(["mean", "max", "min"], ["平均", "最大", "最小"])
LAYER = budget.Setting("layer", "The layer", "层")
HEAD = budget.Setting("head", "The head", "头")
DISCARD = budget.Setting("discard", "The discard ratio", "丢弃比例")
KEEP = budget.Setting("keep", "The share of attention kept", "保留的注意力比例")
ALPHA = budget.Setting("alpha", "The heatmap opacity", "热力图不透明度")
PATCH = budget.Setting("patch", "The patch number", "图块编号")
CLICK = budget.Setting("index", "The click", "点击位置")
MAX_PATCH = 65_535  # patch numbers beyond a model's grid are moved to its last patch (with a note)


def settings(layer, head, discard, keep, alpha) -> tuple[int, int, float, float, float]:
    """The view's numbers, each checked (a sentence naming the parameter for NaN, text, out of range).
    Layer and head count from 1; 99 means "the last one"."""
    return (budget.number(layer, LAYER, 1, 99, whole=True), budget.number(head, HEAD, 1, 99, whole=True),
            budget.number(discard, DISCARD, 0, 0.99), budget.number(keep, KEEP, 0.05, 1),
            budget.number(alpha, ALPHA, 0, 1))


@cached_for_examples
def run_attention(image: str | None, model: str = "shapes-vit-tiny", view: str = DEFAULT_VIEW,
                  layer: int = 99, head: int = 1, fusion: str = "mean", discard: float = 0.9,
                  keep: float = 0.6, cnn: str = "shapes-resnet-tiny", alpha: float = 0.55):
    """One view of where `model` looks. Returns (picture, caption). Layer and head count from 1;
    99 means "the last layer"."""
    from visionlab.pipelines import attention_views as v
    from visionlab.pipelines.attention import cached_attention_maps as attention_maps, cached_grad_cam as grad_cam_map

    layer, head, discard, keep, alpha = settings(layer, head, discard, keep, alpha)
    kind = VIEWS.get(view)
    if kind is None:
        raise error(f"'{view}' is not a view of this tab. Pick one from the list.",
                    f"“{view}” 不是这个标签页的视图。请从列表中选择一个。")
    if kind == "grad-cam":
        cam = grad_cam_map(image, model)
        picture, caption = v.grad_cam_view(cam, alpha)
        return picture, footer(caption, cam)
    if kind == "dino":
        from visionlab.pipelines.attention import cached_dino_attention

        dino = cached_dino_attention(image, model)
        picture, caption = v.dino_heads_view(dino, keep)
        return picture, footer(caption, dino)
    maps = attention_maps(image, model)
    if kind == "side-by-side":
        cam = grad_cam_map(image, cnn)
        (left, text_a), (right, text_b) = v.rollout_view(maps, fusion, discard, alpha), v.grad_cam_view(cam, alpha)
        return v.tile([left, right], 2), footer(Text("Left: ", "左：") + text_a + Text(" Right: ", " 右：") + text_b, maps)
    picture, caption = {
        "rollout": lambda: v.rollout_view(maps, fusion, discard, alpha),
        "head": lambda: v.head_view(maps, layer, head, alpha),
        "heads": lambda: v.all_heads_view(maps, layer, alpha),
        "dino-fused": lambda: v.dino_view(maps, keep, fusion),
        "patches": lambda: v.patches_view(maps),
        "positions": lambda: v.position_view(maps),
    }[kind]()
    return picture, footer(caption, maps)


def footer(caption: Text, result) -> str:
    """The view's sentence, the model's top class, and which model answered."""
    label = getattr(result, "label", None)  # DINO's whole-picture attention has no classifier
    guess = say(Text(f" It sees **{label}** ({result.probability:.0%}).",
                     f" 它看到的是 **{label}**（{result.probability:.0%}）。")) if label else ""
    ms = result.timings.preprocess_ms + result.timings.forward_ms
    return f"{say(caption)}{guess}\n\n{answered_by(result.model, None, ms, result.notice)}"


def run_patch(image: str | None, model: str = "shapes-vit-tiny", patch: int = 0, layer: int = 99,
              alpha: float = 0.55):
    """What patch number `patch` (0-based, reading order) attends to in `layer`. (picture, caption)"""
    from visionlab.pipelines import attention_views as v
    from visionlab.pipelines.attention import patch_attention

    patch = budget.number(patch, PATCH, 0, MAX_PATCH, whole=True)
    layer, _, _, _, alpha = settings(layer, 1, 0.9, 0.6, alpha)
    looked = patch_attention(image, model, layer=layer, patch=patch)
    picture, caption = v.patch_attention_view(looked, alpha)
    return picture, footer(caption, looked.maps)


def _patch(maps, patch: int, layer: int, alpha: float):
    from visionlab.pipelines import attention_views as v

    picture, caption = v.patch_view(maps, patch, layer, alpha)
    return picture, footer(caption, maps)


def patch_from_click(image: str | None, model: str, layer: int, alpha: float, evt: gr.SelectData):
    """A click on the patch grid picture -> the clicked patch's view (`patch_attention` finds the patch)."""
    from visionlab.pipelines import attention_views as v
    from visionlab.pipelines.attention import patch_attention

    layer, _, _, _, alpha = settings(layer, 1, 0.9, 0.6, alpha)
    index = evt.index if isinstance(evt.index, (list, tuple)) and len(evt.index) == 2 else (None, None)
    x, y = (budget.number(c, CLICK, 0, 1e6) for c in index)
    looked = patch_attention(image, model, x, y, layer)
    picture, caption = v.patch_attention_view(looked, alpha)
    return picture, footer(caption, looked.maps)


def patch_grid_or_note(image: str | None, model: str):
    """The clickable patch grid for a ViT; for a CNN (or no picture yet) a sentence instead."""
    from visionlab.models import get_spec

    if image is None:
        return gr.skip(), gr.skip()
    if get_spec(model).family != "vit":
        return None, say(Text("Patches belong to Vision Transformers; a CNN slides its filters over the whole picture.",
                              "图块是 Vision Transformer 的做法；卷积网络是把卷积核在整张图上滑动。"))
    return run_attention(image, model, "Patch grid")


def depth_sliders(model: str, layer: int, head: int):
    """Layer and head sliders that end at the model's depth and head count (from its config: no
    model is built or run). A CNN has neither: the sliders are greyed out. Values beyond the new
    ends are moved to them."""
    from visionlab.pipelines.attention import vit_shape

    layer, head = budget.number(layer, LAYER, 1, 99, whole=True), budget.number(head, HEAD, 1, 99, whole=True)
    shape = vit_shape(model)
    if shape is None:
        return gr.Slider(interactive=False), gr.Slider(interactive=False)
    depth, heads = shape
    return (gr.Slider(1, depth, value=min(int(layer), depth), step=1, interactive=True,
                      label=tr("Layer", "层") + f" (1-{depth})"),
            gr.Slider(1, heads, value=min(int(head), heads), step=1, interactive=True,
                      label=tr("Head", "头") + f" (1-{heads})"))


def build() -> None:
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=300)
            model = model_dropdown(ATTENTION_TASKS, tr("Model (a ViT for attention, a CNN for Grad-CAM)",
                                                       "模型（看注意力选 ViT，看 Grad-CAM 选卷积网络）"),
                                   prefer=default_for("attention"))
            view = gr.Radio(VIEW_CHOICES, value=DEFAULT_VIEW, label=tr("View", "视图"))
            with gr.Row():
                layer = Slider(1, 12, value=12, step=1, label=tr("Layer", "层"))
                head = Slider(1, 16, value=1, step=1, label=tr("Head", "头"))
            with gr.Accordion(tr("Rollout, mask and overlay settings", "注意力展开、掩码和叠加设置"), open=False):
                fusion = gr.Radio(FUSIONS, value="mean", label=tr("Head fusion", "多头融合方式"))
                discard = Slider(0, 0.99, value=0.9, step=0.01,
                                    label=tr("Discard ratio (weakest links dropped)", "丢弃比例（去掉最弱的连接）"))
                keep = Slider(0.1, 1.0, value=0.6, step=0.05,
                                 label=tr("DINO mask: share of attention kept", "DINO 掩码：保留的注意力比例"))
                alpha = Slider(0.1, 0.9, value=0.55, step=0.05, label=tr("Heatmap opacity", "热力图不透明度"))
                cnn = model_dropdown("classification", tr("CNN for 'Rollout beside Grad-CAM'",
                                                          "“注意力展开与 Grad-CAM 并排”用的卷积网络"),
                                     prefer=default_for("grad-cam"))
            run = gr.Button(tr("Show", "显示"), variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12, label=tr("Examples", "示例"))
        with gr.Column(scale=7):
            picture = gr.Image(label=tr("Where the model looks", "模型看向哪里"), interactive=False, buttons=["download"])
            caption = gr.Markdown()
            gr.Markdown(tr("**Click a patch** in the grid below to see what that patch attends to.",
                           "在下面的网格里**点击一个图块**，看看这个图块在关注哪里。"))
            grid = gr.Image(label=tr("Patches (click one)", "图块（点一个）"), interactive=False, buttons=["download"],
                            elem_id="patch-grid")
            grid_caption = gr.Markdown()
            patch_no = Number(value=0, precision=0, visible=False)
    note_panel("attention")

    main = dict(fn=handler(with_progress(run_attention)), outputs=[picture, caption], concurrency_id=MODEL_CONCURRENCY,
                inputs=[image, model, view, layer, head, fusion, discard, keep, cnn, alpha])
    show_grid = dict(fn=handler(patch_grid_or_note), inputs=[image, model],
                     outputs=[grid, grid_caption], concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    run.click(**main, api_name="attention").then(**show_grid)
    auto = {**main, "fn": handler(skip_without_image(run_attention, 2)), "api_visibility": "private"}
    gr.on([image.change, model.input, view.input, layer.release, head.release, fusion.input, discard.release,
           keep.release, alpha.release, cnn.input], **auto)
    gr.on([image.change, model.input], **show_grid)
    gr.on([model.change, image.change], handler(depth_sliders), [model, layer, head], [layer, head],
          api_visibility="private", queue=False)  # from the config: no model runs
    grid.select(handler(patch_from_click), [image, model, layer, alpha], [grid, grid_caption],
                concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    # The API twin of a click: the patch as a number.
    patch_no.change(handler(run_patch), [image, model, patch_no, layer, alpha], [grid, grid_caption],
                    api_name="attention_patch", concurrency_id=MODEL_CONCURRENCY)
