"""Ask the picture (BLIP): a caption word by word (greedy beside beam search), a question and its
answer, where the decoder looked for each token, and the ITC/ITM scores of any sentence."""

from __future__ import annotations

import gradio as gr

from demos.common import (MODEL_CONCURRENCY, answered_by, example_paths, handler, image_input, model_choices,
                          model_dropdown, note_panel, skip_without_image, warn)
from demos.example_cache import cached_for_examples
from demos.progress import with_progress
from demos.figures import png_button
from demos.i18n import choices, say, tr
from visionlab.markdown import escape
from visionlab.text import Text

# Each model's default when online (offline: its bundled stand-in).
PREFER = {"caption": "blip-caption-base", "vqa": "blip-vqa-base", "itm": "blip-itm-base-coco"}
MEAN_LAYERS, LAST_LAYER = "Mean over the decoder's layers", "The last decoder layer"
LAYERS = choices([MEAN_LAYERS, LAST_LAYER], ["解码器各层的平均", "解码器最后一层"])
TABLE_HEADERS = ["step", "greedy token", "p (greedy)", "beam token", "p (beam)"]
MATCH_HEADERS = ["sentence", "ITM: p(match)", "ITC: cosine"]
END = "[SEP]"  # BERT's separator: BLIP's decoders stop when they write it
TILE = 160     # side of one attention tile in the galleries, in pixels


def _tile(model_input, grid_map, caption: str):
    """One attention tile: the map over the patches (blocky: one block per patch) on the picture."""
    from visionlab.ops.images import upscale_nearest
    from visionlab.ops.overlay import heatmap_overlay

    picture = upscale_nearest(model_input, TILE)
    return heatmap_overlay(picture, grid_map, alpha=0.55, smooth=False, colour_bar=False), caption


def _shown(token: str) -> str:
    return "⟨end⟩" if token == END else token


@cached_for_examples
def run_caption(image: str | None, model: str, num_beams: int = 3, max_new_tokens: int = 30,
                layers: str = MEAN_LAYERS):
    """Caption `image`. Returns (caption, generation table rows, per-token attention tiles,
    summary markdown, answered-by markdown)."""
    from visionlab.pipelines.blip import caption

    r = caption(image, model, num_beams, max_new_tokens)  # checked there (whole numbers in range)
    g, b = r.greedy.tokens, r.beam.tokens
    rows = [[t + 1, _shown(g[t].text) if t < len(g) else "", f"{g[t].probability:.1%}" if t < len(g) else "",
             _shown(b[t].text) if t < len(b) else "", f"{b[t].probability:.1%}" if t < len(b) else ""]
            for t in range(max(len(g), len(b)))]
    layer = None if layers != LAST_LAYER else r.attention.shape[1] - 1
    on_cls = r.attention[:, :, 0].mean(1) if layer is None else r.attention[:, layer, 0]            # [T]
    tiles = [_tile(r.model_input, r.patch_map(t, layer), f"{t + 1}. {_shown(tok.text)}") for t, tok in enumerate(g)]
    summary = say(Text(
        f"**Greedy** takes the likeliest token at every step: p(caption) = {r.greedy.probability:.2%} "
        f"(log p = {r.greedy.log_probability:.2f}). **Beam search** keeps the {r.num_beams} likeliest partial "
        f"captions at every step and returns the best by log p / length: “{escape(r.beam.text)}”, log p = "
        f"{r.beam.log_probability:.2f}, score = {r.beam.score:.3f}. ",
        f"**贪心解码**每一步取概率最大的 token：p(描述) = {r.greedy.probability:.2%}"
        f"（log p = {r.greedy.log_probability:.2f}）。**束搜索**每一步保留 {r.num_beams} 个最可能的部分描述，"
        f"最后按 log p / 长度 选出最好的：“{escape(r.beam.text)}”，log p = {r.beam.log_probability:.2f}，"
        f"得分 = {r.beam.score:.3f}。")
        + Text(f"The pictures: where the decoder looked (cross-attention over the {r.grid[0]} × {r.grid[1]} patches, "
               f"averaged over heads) as it wrote each greedy token; on average {float(on_cls.mean()):.0%} of it went "
               "to the image encoder's [CLS] token instead of a patch.",
               f"下面的图：解码器写出每个贪心 token 时看向哪里（对 {r.grid[0]} × {r.grid[1]} 个图块的交叉注意力，"
               f"对各个头取平均）；平均有 {float(on_cls.mean()):.0%} 落在图像编码器的 [CLS] token 上，而不是某个图块。"))
    return r.caption, rows, tiles, summary, answered_by(r.model, r.device, r.latency_ms, r.notice)


@cached_for_examples
def run_ask(image: str | None, question: str, model: str):
    """Answer `question` about `image`. Returns (answer, details markdown, attention tiles per answer
    token, question-token table, answered-by markdown)."""
    from visionlab.pipelines.blip import ask
    from visionlab.pipelines.blip_defaults import never_asked_in

    r = ask(image, question, model)
    tokens = ", ".join(f"“{escape(_shown(t.text))}” {t.probability:.1%}" for t in r.tokens)  # model text, shown as is
    answer = escape(r.answer) or "…"
    details = Text(f"**{answer}**: probability {r.probability:.1%} (the product of its tokens: {tokens}).",
                   f"**{answer}**：概率 {r.probability:.1%}（各个 token 概率之积：{tokens}）。")
    pairs = never_asked_in(r.model, f"{r.question} {r.answer}")
    notes = list(r.notes)
    if pairs:
        notes.append(Text(f"The tiny BLIP was never asked about a {pairs[0]} in training (it saw them in pictures and "
                          "captions only): this answer puts together what it learnt apart.",
                          f"小 BLIP 在训练中从没被问过关于 {pairs[0]} 的问题（只在图片和描述里见过）：这个回答把分别学到的东西"
                          "组合了起来。"))
    details = say(details) + "".join(f"\n\nℹ️ {escape(say(n))}" for n in notes)  # notes may quote the question
    tiles = [_tile(r.model_input, r.patch_map(t), f"{_shown(tok.text)} · {tok.probability:.0%}")
             for t, tok in enumerate(r.tokens)]
    headers = ["question token"] + [_shown(t.text) for t in r.tokens]
    table = {"headers": headers, "data": [[q] + [f"{r.answer_to_question[t, i]:.0%}" for t in range(len(r.tokens))]
                                          for i, q in enumerate(r.question_tokens)]}
    return r.answer, details, tiles, table, answered_by(r.model, r.device, r.latency_ms, r.notice)


@cached_for_examples
def run_match(image: str | None, sentences: str, model: str):
    """ITM probability and ITC cosine of each sentence. Returns (table rows, markdown)."""
    from visionlab.pipelines.blip import match

    r = match(image, sentences, model)
    rows = [[s.sentence, f"{s.itm_probability:.1%}", round(s.itc_cosine, 3)] for s in r.scores]
    text = say(Text("**ITM** (image-text matching): the text encoder reads the sentence *while looking at the picture* "
                    "(cross-attention), and a two-way head says match or not. **ITC** (image-text contrast, as in "
                    "CLIP): the picture and the sentence are encoded *apart* and compared by cosine. Swap two "
                    "colours: the words stay the same, so ITC hardly moves; ITM reads them with the picture.",
                    "**ITM**（图文匹配）：文本编码器*一边看图片*（交叉注意力）一边读句子，一个二分类头判断是否匹配。"
                    "**ITC**（图文对比，和 CLIP 一样）：图片和句子*分开*编码，用余弦相似度比较。交换两个颜色："
                    "词语没变，所以 ITC 几乎不动；ITM 会结合图片来读它们。"))
    notes = "".join(f"\n\nℹ️ {escape(say(n))}" for n in r.notes)  # notes may quote a sentence
    return rows, warn(r.notice, text + notes)


caption_endpoint = handler(with_progress(run_caption))
ask_endpoint = handler(with_progress(run_ask, models=2))
match_endpoint = handler(with_progress(run_match, models=2))


def follow_vqa_model(model: str):
    """A new VQA model: its example questions, and the first as the question."""
    from visionlab.pipelines.blip_defaults import example_questions

    questions = list(example_questions(model))
    return gr.Radio(choices=questions, value=None), questions[0]


def sentences_after(caption: str) -> str:
    from visionlab.pipelines.blip_defaults import sentences_for

    return sentences_for(caption or "")


def build() -> dict:
    from visionlab.pipelines.blip_defaults import example_questions

    _, vqa_start = model_choices("vqa", PREFER["vqa"])
    questions = list(example_questions(vqa_start))
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            image = image_input(label=tr("Picture", "图片"), height=280)
            with gr.Row():
                caption_model = model_dropdown("caption", tr("Captioner (image encoder + text decoder)",
                                                             "描述模型（图像编码器 + 文本解码器）"), prefer=PREFER["caption"])
                vqa_model = model_dropdown("vqa", tr("Question answerer (+ question encoder)", "问答模型（+ 问题编码器）"),
                                           prefer=PREFER["vqa"])
                itm_model = model_dropdown("itm", tr("Matcher (ITM head and ITC projections)", "匹配模型（ITM 头和 ITC 投影）"),
                                           prefer=PREFER["itm"])
            with gr.Accordion(tr("Decoding", "解码设置"), open=False):
                beams = gr.Slider(1, 5, value=3, step=1, label=tr("Beams (beam search)", "束的数量（束搜索）"))
                max_tokens = gr.Slider(5, 40, value=30, step=1, label=tr("Longest caption, in tokens", "描述的最大长度（token 数）"))
                layers = gr.Radio(LAYERS, value=MEAN_LAYERS, label=tr("Cross-attention shown", "显示的交叉注意力"))
            run = gr.Button(tr("Caption the picture", "为图片生成描述"), variant="primary")
            gr.Examples(example_paths(("scenes", "shapes", "photos")), inputs=[image], examples_per_page=14,
                        label=tr("Examples: ShapesWorld scenes and shapes, public-domain photos",
                                 "示例：ShapesWorld 场景和形状、公有领域照片"))
        with gr.Column(scale=7):
            notice = gr.Markdown()
            caption = gr.Textbox(label=tr("Caption (greedy)", "描述（贪心解码）"), interactive=False)
            summary = gr.Markdown()
            table = gr.Dataframe(headers=TABLE_HEADERS, label=tr("The caption token by token: greedy beside beam search",
                                                                 "逐个 token 的描述：贪心解码与束搜索并排"),
                                 interactive=False, wrap=True, max_height=300)
            png_button(table, Text("Caption token by token: greedy and beam search", "逐个 token 的描述：贪心与束搜索"))
            tiles = gr.Gallery(label=tr("Where the decoder looked for each token", "解码器为每个 token 看向哪里"),
                               columns=6, height=260, object_fit="contain")
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            question = gr.Textbox(questions[0], label=tr("Your question (in English)", "你的问题（用英文）"), max_lines=3)
            # All in sight, not in a dropdown (closed, one shows an empty box): a click asks it.
            examples = gr.Radio(questions, value=None, label=tr("Example questions for this model (click one to ask it)",
                                                                "适合这个模型的示例问题（点一个即可提问）"))
            ask = gr.Button(tr("Ask", "提问"), variant="primary")
        with gr.Column(scale=7):
            answer_notice = gr.Markdown()
            answer = gr.Textbox(label=tr("Answer", "回答"), interactive=False)
            details = gr.Markdown()
            with gr.Row():
                answer_tiles = gr.Gallery(label=tr("Where each answer token looked in the picture (through the question)",
                                                   "每个回答 token 在图片里看向哪里（经由问题）"),
                                          columns=3, height=220, object_fit="contain")
                reads = gr.Dataframe(label=tr("Which question words each answer token read", "每个回答 token 读了问题里的哪些词"),
                                     interactive=False, max_height=260)
    with gr.Row():
        with gr.Column(scale=4, min_width=320):
            sentences = gr.Textbox(lines=3, max_lines=8, label=tr("Sentences to match, one per line", "要匹配的句子，每行一句"))
            score = gr.Button(tr("Match with the picture (ITM and ITC)", "与图片匹配（ITM 和 ITC）"))
        with gr.Column(scale=7):
            match_table = gr.Dataframe(headers=MATCH_HEADERS, label=tr("Does this sentence match the picture?",
                                                                       "这句话和图片匹配吗？"),
                                       interactive=False, wrap=True, column_widths=["64%", "18%", "18%"])
            png_button(match_table, Text("ITM and ITC scores", "ITM 和 ITC 得分"))
            match_text = gr.Markdown()
    note_panel("ask")

    cap = dict(fn=caption_endpoint, inputs=[image, caption_model, beams, max_tokens, layers],
               outputs=[caption, table, tiles, summary, notice], concurrency_id=MODEL_CONCURRENCY)
    qa = dict(fn=ask_endpoint, inputs=[image, question, vqa_model],
              outputs=[answer, details, answer_tiles, reads, answer_notice], concurrency_id=MODEL_CONCURRENCY)
    mt = dict(fn=match_endpoint, inputs=[image, sentences, itm_model], outputs=[match_table, match_text],
              concurrency_id=MODEL_CONCURRENCY)
    private = {"api_visibility": "private"}
    fill = dict(fn=sentences_after, inputs=[caption], outputs=[sentences], queue=False, **private)
    then_match = {**mt, "fn": skip_without_image(mt["fn"], 2), **private}
    run.click(**cap, api_name="caption").success(**fill).success(**then_match)
    ask.click(**qa, api_name="ask")
    question.submit(**qa, **private)
    score.click(**mt, api_name="match")
    sentences.submit(**mt, **private)
    examples.input(lambda q: q, [examples], [question], queue=False, **private).then(
        **{**qa, "fn": skip_without_image(qa["fn"], 5), **private})
    image.change(**{**cap, "fn": skip_without_image(cap["fn"], 5), **private}).success(**fill).success(**then_match)
    image.change(**{**qa, "fn": skip_without_image(qa["fn"], 5), **private})
    gr.on([caption_model.input, beams.release, max_tokens.release, layers.change],
          **{**cap, "fn": skip_without_image(cap["fn"], 5), **private}).success(**fill).success(**then_match)
    vqa_model.input(follow_vqa_model, [vqa_model], [examples, question], queue=False, **private).then(
        **{**qa, "fn": skip_without_image(qa["fn"], 5), **private})
    itm_model.input(**then_match)
    return {"image": image, "question": question}
