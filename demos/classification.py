"""Classification tab: top-k labels, the input the model saw, a model card, two models side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from demos.common import (DEFAULT_MODELS, MODEL_CONCURRENCY, answered_by, example_paths, image_input, model_dropdown,
                          note, skip_without_image, user_errors)
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import upscale_nearest

if TYPE_CHECKING:  # torch is imported on the first call, not at start-up
    from visionlab.pipelines.classification import ClassificationResult, ModelCard

LABELS = {"imagenet-1k": "ImageNet-1k", "shapesworld": "ShapesWorld shapes"}


def card_markdown(card: ModelCard, result: ClassificationResult) -> str:
    """The model card as a Markdown list."""
    t = result.timings
    mean = ", ".join(f"{m:g}" for m in card.mean)
    std = ", ".join(f"{s:g}" for s in card.std)
    rows = [
        ("Model", f"{card.title} · `{card.key}` · timm {card.architecture}"),
        ("Parameters", f"{card.params / 1e6:.2f} M"),
        ("Compute", f"{card.gflops:.3g} GFLOPs per picture ({card.gflops / 2:.3g} G multiply-adds)"),
        ("Input", f"{card.input_size} x {card.input_size} px, {card.interpolation} resize, "
                  f"centre crop {card.crop_pct:.0%}"),
        ("Normalisation", f"x' = (x - mean) / std, mean ({mean}), std ({std}) on a 0-1 scale"),
        ("This call", f"{t.preprocess_ms + t.forward_ms:.1f} ms = preprocess {t.preprocess_ms:.1f} "
                      f"+ forward {t.forward_ms:.1f} on `{card.device}` ({card.dtype})"),
        ("Classes", f"{card.num_classes} ({LABELS.get(card.labels, card.labels)})"),
        ("Weights", f"{card.source}, licence {card.licence}"),
    ]
    return "**Model card**\n\n" + "\n".join(f"- **{k}:** {v}" for k, v in rows)


@gpu_task
def run_classify(image: str | None, model: str, top_k: int = 5):
    """Classify `image` with registry model `model`. Returns (label dict, model input, card, note)."""
    from visionlab.pipelines.classification import classify

    result = classify(image, model, int(top_k))
    labels = {p.label: p.probability for p in result.top_k}
    seen = upscale_nearest(result.model_input, 256)
    return (labels, seen, card_markdown(result.card, result),
            answered_by(result.card.key, result.card.device, result.latency_ms, result.notice))


classify_endpoint = user_errors(run_classify)


@user_errors
def compare_endpoint(image: str | None, model: str, top_k: int, enabled: bool):
    """The second panel: runs only when the compare box is ticked."""
    if not enabled:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return run_classify(image, model, top_k)


def result_panel(heading: str, visible: bool = True):
    """One column of outputs; the compare mode shows two of them side by side."""
    with gr.Column(visible=visible) as col:
        gr.Markdown(f"### {heading}")
        notice = gr.Markdown()
        label = gr.Label(label="Top-k predictions (softmax probability)", num_top_classes=10)
        with gr.Row():
            seen = gr.Image(label="What the model saw (after resize, crop; normalisation undone)",
                            interactive=False, height=260, buttons=["download"])
        card = gr.Markdown()
    return col, [label, seen, card, notice]


def build() -> None:
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label="Picture", height=320)
            model = model_dropdown("classification", "Model", prefer=DEFAULT_MODELS["classification"])
            top_k = gr.Slider(1, 10, value=5, step=1, label="Top-k: how many classes to show")
            compare = gr.Checkbox(label="Compare with a second model side by side", value=False)
            model_b = model_dropdown("classification", "Second model", prefer="vit-base-16", visible=False)
            run = gr.Button("Classify", variant="primary")
            gr.Examples(example_paths(), inputs=[image], examples_per_page=12,
                        label="Examples: public-domain photos and ShapesWorld pictures")
        with gr.Column(scale=8):
            with gr.Row(equal_height=False):
                _, outputs_a = result_panel("Result")
                panel_b, outputs_b = result_panel("Second model", visible=False)
    with gr.Accordion("What am I looking at? / 这是什么?", open=False):
        gr.Markdown(note("classification"), latex_delimiters=[{"left": "$$", "right": "$$", "display": True},
                                                              {"left": "$", "right": "$", "display": False}])

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

