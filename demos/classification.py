"""Classification tab: top-k labels, the input the model saw, a model card, two models side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from demos.common import (MODEL_CONCURRENCY, Slider, answered_by, example_paths, image_input,
                          model_dropdown, note_panel, skip_without_image, handler)
from demos.example_cache import cached_for_examples
from demos.progress import with_progress
from demos.figures import png_button
from demos.i18n import say, tr
from visionlab.models.defaults import default_for
from visionlab import budget
from visionlab.text import Text
from visionlab.ops.images import upscale_nearest

if TYPE_CHECKING:  # torch is imported on the first call, not at start-up
    from visionlab.pipelines.classification import ClassificationResult, ModelCard

TOP_K = budget.Setting("top_k", "Top-k", "Top-k")
LABELS = {"imagenet-1k": Text("ImageNet-1k", "ImageNet-1k"), "shapesworld": Text("ShapesWorld shapes", "ShapesWorld 形状")}


def card_markdown(card: ModelCard, result: ClassificationResult) -> str:
    """The model card as a Markdown list, in the asker's language."""
    t = result.timings
    mean = ", ".join(f"{m:g}" for m in card.mean)
    std = ", ".join(f"{s:g}" for s in card.std)
    labels = say(LABELS.get(card.labels, card.labels))
    rows = [
        (Text("Model", "模型"), f"{card.title} · `{card.key}` · timm {card.architecture}"),
        (Text("Parameters", "参数量"), f"{card.params / 1e6:.2f} M"),
        (Text("Compute", "计算量"), Text(f"{card.gflops:.3g} GFLOPs per picture ({card.gflops / 2:.3g} G multiply-adds)",
                                        f"每张图 {card.gflops:.3g} GFLOPs（{card.gflops / 2:.3g} G 次乘加）")),
        (Text("Input", "输入"), Text(f"{card.input_size} x {card.input_size} px, {card.interpolation} resize, "
                                    f"centre crop {card.crop_pct:.0%}",
                                    f"{card.input_size} x {card.input_size} 像素，{card.interpolation} 缩放，"
                                    f"中心裁剪 {card.crop_pct:.0%}")),
        (Text("Normalisation", "归一化"), Text(f"x' = (x - mean) / std, mean ({mean}), std ({std}) on a 0-1 scale",
                                             f"x' = (x - mean) / std，mean ({mean})，std ({std})，像素取 0-1")),
        (Text("This call", "这次调用"), Text(
            f"{t.preprocess_ms + t.forward_ms:.1f} ms = preprocess {t.preprocess_ms:.1f} "
            f"+ forward {t.forward_ms:.1f} on `{card.device}` ({card.dtype})",
            f"{t.preprocess_ms + t.forward_ms:.1f} 毫秒 = 预处理 {t.preprocess_ms:.1f} "
            f"+ 前向 {t.forward_ms:.1f}，在 `{card.device}` 上（{card.dtype}）")),
        (Text("Classes", "类别"), f"{card.num_classes} ({labels})"),
        (Text("Weights", "权重"), Text(f"{card.source}, licence {card.licence}", f"{card.source}，许可证 {card.licence}")),
    ]
    return f"**{say(Text('Model card', '模型卡片'))}**\n\n" + "\n".join(f"- **{say(k)}:** {say(v)}" for k, v in rows)


@cached_for_examples
def run_classify(image: str | None, model: str, top_k: int = 5):
    """Classify `image` with registry model `model`. Returns (label dict, model input, card, note)."""
    from visionlab.pipelines.classification import classify

    top_k = budget.number(top_k, TOP_K, 1, 10, whole=True)
    result = classify(image, model, top_k)
    labels = {p.label: p.probability for p in result.top_k}
    seen = upscale_nearest(result.model_input, 256)
    return (labels, seen, card_markdown(result.card, result),
            answered_by(result.card.key, result.card.device, result.latency_ms, result.notice))


classify_endpoint = handler(with_progress(run_classify))


@handler
def compare_endpoint(image: str | None, model: str, top_k: int, enabled: bool):
    """The second panel: runs only when the compare box is ticked."""
    if not enabled:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return run_classify(image, model, top_k)


def result_panel(heading, visible: bool = True):
    """One column of outputs; the compare mode shows two of them side by side."""
    with gr.Column(visible=visible) as col:
        gr.Markdown(heading)
        notice = gr.Markdown()
        label = gr.Label(label=tr("Top-k predictions (softmax probability)", "前 k 个预测（softmax 概率）"),
                         num_top_classes=10)
        png_button(label, Text("Top-k predictions (softmax probability)", "前 k 个预测（softmax 概率）"))
        with gr.Row():
            seen = gr.Image(label=tr("What the model saw (after resize, crop; normalisation undone)",
                                     "模型看到的输入（缩放、裁剪之后；已撤销归一化）"),
                            interactive=False, height=260, buttons=["download"])
        card = gr.Markdown()
    return col, [label, seen, card, notice]


def build() -> None:
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=320)
            model = model_dropdown("classification", tr("Model", "模型"), prefer=default_for("classification"))
            top_k = Slider(1, 10, value=5, step=1, label=tr("Top-k: how many classes to show", "Top-k：显示几个类别"))
            compare = gr.Checkbox(label=tr("Compare with a second model side by side", "和第二个模型并排比较"), value=False)
            model_b = model_dropdown("classification", tr("Second model", "第二个模型"), prefer="vit-base-16",
                                     visible=False)
            run = gr.Button(tr("Classify", "分类"), variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12,
                        label=tr("Examples: public-domain photos and ShapesWorld pictures",
                                 "示例：公有领域照片和 ShapesWorld 图片"))
        with gr.Column(scale=8):
            with gr.Row(equal_height=False):
                _, outputs_a = result_panel(tr("### Result", "### 结果"))
                panel_b, outputs_b = result_panel(tr("### Second model", "### 第二个模型"), visible=False)
    note_panel("classification")

    compare.change(lambda on: (gr.update(visible=on), gr.update(visible=on)), [compare], [model_b, panel_b],
                   api_visibility="private", queue=False)
    a = dict(fn=classify_endpoint, inputs=[image, model, top_k], outputs=outputs_a,
             concurrency_id=MODEL_CONCURRENCY)
    b = dict(fn=compare_endpoint, inputs=[image, model_b, top_k, compare], outputs=outputs_b,
             concurrency_id=MODEL_CONCURRENCY, api_visibility="private")
    auto_a = {**a, "fn": skip_without_image(a["fn"], 4), "api_visibility": "private"}
    auto_b = {**b, "fn": skip_without_image(b["fn"], 4)}
    # The button: both panels, under the stable API name (the second only if the first worked,
    # so a bad picture gives one message, not two).
    run.click(**a, api_name="classify").success(**b)
    # A new picture (upload, example, webcam) or a new setting re-runs at once, if there is a picture.
    gr.on([image.change, top_k.release], **auto_a).success(**auto_b)
    model.input(**auto_a)
    gr.on([model_b.input, compare.input], **auto_b)

