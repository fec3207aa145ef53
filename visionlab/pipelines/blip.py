"""Ask the picture: BLIP captions, answers questions and says whether a sentence matches.

    result = caption(image, model="blip-caption-base")       # or "shapes-blip-caption-tiny"
    result.caption, result.greedy.tokens[0].probability, result.beam.text
    answer = ask(image, "what colour is the star?", model="blip-vqa-base")
    answer.answer, answer.probability, answer.patch_map(0)   # where the first answer token looked
    scores = match(image, "a red star\\na blue ring", model="blip-itm-base-coco")
    scores.scores[0].itm_probability, scores.scores[0].itc_cosine

BLIP (Li et al., 2022) joins three objectives on one image encoder (a ViT):
- ITC, image-text contrast as in CLIP: the text encoder alone and the image encoder's [CLS],
  each projected and normalised; their cosine says how well they fit (`itc_cosine`);
- ITM, image-text matching: the text encoder reads the sentence while cross-attending to the
  picture's patches, and a two-way head on its [CLS] says match / no match (`itm_probability`);
- LM, language modelling: a text decoder writes text, one token at a time, cross-attending to
  the picture (captions) or, for visual questions, to the question as the text encoder read it
  with the picture.

Each function runs the image encoder once and then the text parts as transformers' BLIP
classes do (`BlipForConditionalGeneration.generate`, `BlipForQuestionAnswering.generate`,
`BlipForImageTextRetrieval.forward`), so the numbers equal those calls' (tests check it). A
teacher-forced pass of the decoder over the generated tokens gives its cross-attention (the
same as during generation: the decoder is causal).

Cross-attention layout: the image encoder hands the decoder 1 + P vision tokens, [CLS] first,
then the P patches row by row (a gh x gw grid). Each map here is averaged over heads and is a
probability distribution over those 1 + P tokens (it sums to 1); `patch_map` returns the P patch
shares as a (gh, gw) grid, which sums to 1 minus the share on [CLS].
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from visionlab import budget
from visionlab.errors import VisionLabError
from visionlab.models import LoadedModel, load_model
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import ImageLike, load_image
from visionlab.pipelines.base import Pipeline, Timings
from visionlab.text import Text

MAX_QUESTION_CHARS = 300   # longer questions (and sentences) are cut here, with a note
MAX_SENTENCES = 8          # sentences matched against one picture at once
MAX_BEAMS = 5
MAX_NEW_TOKENS = 60
CAPTION_TOKENS = 30        # default length limit of a caption, in tokens
ANSWER_TOKENS = 10


class QuestionError(VisionLabError, ValueError):
    """A question or sentence that cannot be asked; the message says what to type instead."""


# ---- results ----

@dataclass(frozen=True)
class Token:
    """One generated token. text: the word piece as the tokenizer spells it ("star", "##s", and
    "[SEP]" for the end). probability: p(token | picture, earlier tokens) at the step it was
    chosen: the softmax of that step's scores (for beam search, within its beam)."""

    text: str
    token_id: int
    probability: float


@dataclass(frozen=True)
class Decoded:
    """One generated text. tokens: every generated token, the end token included (when the decoder
    stopped before the length limit). log_probability: the sum of the tokens' log-probabilities.
    score: what generation ranked by (greedy: the log-probability; beam search: the log-probability
    divided by length ** length_penalty, transformers' `sequences_scores`)."""

    text: str
    tokens: tuple[Token, ...]
    log_probability: float
    score: float

    @property
    def probability(self) -> float:
        return float(np.exp(self.log_probability))


@dataclass(frozen=True)
class CaptionResult:
    """A caption by greedy decoding, and by beam search beside it.

    caption: the greedy text (what `model.generate(pixel_values)` returns). attention: (T, L, 1 + P)
    float32, for each of the T greedy tokens and each of the L decoder layers, the cross-attention
    over the vision tokens ([CLS], then the patches row by row) averaged over heads, as the decoder
    chose that token; each row sums to 1. grid: (gh, gw) patches. model_input: (S, S, 3) uint8 RGB,
    what the image encoder saw (normalisation undone).
    """

    caption: str
    greedy: Decoded
    beam: Decoded
    num_beams: int
    attention: np.ndarray
    grid: tuple[int, int]
    model_input: np.ndarray
    model: str
    requested: str
    device: str
    notice: Text | None
    timings: Timings

    def patch_map(self, token: int, layer: int | None = None) -> np.ndarray:
        """(gh, gw) patch shares of greedy token `token`'s cross-attention, in decoder layer `layer`
        (None: the mean over layers). Sums to 1 minus the share on [CLS]."""
        rows = self.attention[token] if layer is None else self.attention[token, layer:layer + 1]  # [L', 1 + P]
        return rows.mean(0)[1:].reshape(self.grid)

    @property
    def latency_ms(self) -> float:
        return self.timings.preprocess_ms + self.timings.forward_ms


@dataclass(frozen=True)
class AnswerResult:
    """A visual question's answer (greedy, as `BlipForQuestionAnswering.generate`).

    question: the question as the model read it (after any cut). question_tokens: its word pieces,
    [CLS] and [SEP] included (Q of them). answer / tokens / probability: the answer, its tokens and
    the product of their probabilities (end token included). BLIP's answer decoder does not look at
    the picture itself: it cross-attends to the question as the text encoder read it, and the text
    encoder cross-attended to the picture. So, each averaged over heads and layers:
    answer_to_question (T, Q): the decoder's attention over the question tokens for each answer
    token; question_to_picture (Q, 1 + P): the encoder's attention over the vision tokens for each
    question token; attention (T, 1 + P) = answer_to_question @ question_to_picture: where each
    answer token looked in the picture, through the question. Every row sums to 1.
    """

    question: str
    question_tokens: tuple[str, ...]
    answer: str
    tokens: tuple[Token, ...]
    probability: float
    answer_to_question: np.ndarray
    question_to_picture: np.ndarray
    attention: np.ndarray
    grid: tuple[int, int]
    model_input: np.ndarray
    model: str
    requested: str
    device: str
    notes: tuple[Text, ...]
    notice: Text | None
    timings: Timings

    def patch_map(self, token: int) -> np.ndarray:
        """(gh, gw) patch shares of answer token `token` (sums to 1 minus the share on [CLS])."""
        return self.attention[token, 1:].reshape(self.grid)

    @property
    def latency_ms(self) -> float:
        return self.timings.preprocess_ms + self.timings.forward_ms


@dataclass(frozen=True)
class MatchScore:
    """One sentence against the picture. itm_probability: the matching head's softmax for "match"
    (the text encoder read the sentence while looking at the picture). itc_cosine: cosine, in
    [-1, 1], of the projected [CLS] features of the image encoder and of the text encoder alone."""

    sentence: str
    itm_probability: float
    itc_cosine: float


@dataclass(frozen=True)
class MatchResult:
    """Sentences in the order given, each scored both ways."""

    scores: tuple[MatchScore, ...]
    model: str
    requested: str
    device: str
    notes: tuple[Text, ...]
    notice: Text | None
    timings: Timings


# ---- input checks (before any model work) ----

QUESTION = budget.Setting("question", "The question", "问题")
SENTENCES = budget.Setting("sentences", "The sentences", "句子")
BEAMS = budget.Setting("num_beams", "The number of beams", "束的数量")
LENGTH = budget.Setting("max_new_tokens", "The length limit", "长度上限")

ENGLISH_ONLY = Text("BLIP's tokenizer knows English words only: Chinese characters reach the model as [UNK] "
                    "(unknown). Please ask in English.",
                    "BLIP 的分词器只认识英文单词：中文字符到了模型那里都变成 [UNK]（未知）。请用英文提问。")


def _language_notes(text: str) -> list[Text]:
    return [ENGLISH_ONLY] if re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", text) else []


def clean_question(text: str | None) -> tuple[str, list[Text]]:
    """A question with runs of spaces collapsed, cut at MAX_QUESTION_CHARS (with a note). An empty
    question is refused with a sentence."""
    question = " ".join(budget.text(text, QUESTION).split())  # over 20,000 characters: refused
    if not question:
        raise QuestionError(Text("Please type a question about the picture (for example: what colour is the star?).",
                                 "请输入一个关于这张图片的问题（例如：what colour is the star?）。"))
    notes = _language_notes(question)
    if len(question) > MAX_QUESTION_CHARS:
        notes.append(Text(f"The question was {len(question)} characters long; only the first {MAX_QUESTION_CHARS} "
                          "were read.", f"这个问题有 {len(question)} 个字符；只读了前 {MAX_QUESTION_CHARS} 个。"))
        question = question[:MAX_QUESTION_CHARS]
    return question, notes


def clean_sentences(text: str | list[str] | None) -> tuple[list[str], list[Text]]:
    """Sentences, one per line (blanks and repeats dropped), at most MAX_SENTENCES, each cut at
    MAX_QUESTION_CHARS."""
    lines = text if isinstance(text, list) else budget.text(text, SENTENCES).splitlines()
    sentences = list(dict.fromkeys(" ".join(str(s).split()) for s in lines if str(s).strip()))
    if not sentences:
        raise QuestionError(Text("Please type a sentence about the picture (for example: a red star above a blue "
                                 "cross), one per line.",
                                 "请输入一句描述这张图片的话（例如：a red star above a blue cross），每行一句。"))
    notes = _language_notes(" ".join(sentences))
    if len(sentences) > MAX_SENTENCES:
        notes.append(Text(f"Only the first {MAX_SENTENCES} of {len(sentences)} sentences were scored.",
                          f"{len(sentences)} 句话中只给前 {MAX_SENTENCES} 句打了分。"))
        sentences = sentences[:MAX_SENTENCES]
    if any(len(s) > MAX_QUESTION_CHARS for s in sentences):
        notes.append(Text(f"Sentences longer than {MAX_QUESTION_CHARS} characters were cut there.",
                          f"超过 {MAX_QUESTION_CHARS} 个字符的句子在那里被截断了。"))
        sentences = [s[:MAX_QUESTION_CHARS] for s in sentences]
    return sentences, notes


# ---- the model's processor, once per model ----

@dataclass(frozen=True)
class Prepared:
    """The processor and tokenizer of a model, its text context in tokens, the normalisation, and a
    lock that lets one thread at a time use the tokenizer (shared by every request)."""

    processor: Any
    tokenizer: Any
    context: int
    mean: np.ndarray
    std: np.ndarray
    lock: Any = field(default_factory=threading.Lock, compare=False, repr=False)


def prepared_for(loaded: LoadedModel) -> Prepared:
    """The model's processor (from the same folder or hub id), loaded once per model (loaded.memo)."""
    if "blip" not in loaded.memo:
        from visionlab.models.loader import IMPORT_LOCK

        with IMPORT_LOCK:
            from transformers import AutoProcessor
        spec = loaded.spec
        processor = AutoProcessor.from_pretrained(spec.local_dir if spec.bundled else spec.hub_id)
        tokenizer = processor.tokenizer
        positions = int(loaded.model.config.text_config.max_position_embeddings)
        limit = int(getattr(tokenizer, "model_max_length", positions) or positions)
        ip = processor.image_processor
        loaded.memo["blip"] = Prepared(processor, tokenizer, min(positions, limit),
                                       np.array(ip.image_mean, np.float32), np.array(ip.image_std, np.float32))
    return loaded.memo["blip"]


class BlipPipeline(Pipeline):
    """What the three BLIP pipelines share: the processor, tokens, pixels and the image encoder."""

    def __init__(self, loaded: LoadedModel):
        super().__init__(loaded)
        self.prepared = prepared_for(loaded)
        self.key = loaded.spec.key
        text = self.model.config.text_config
        self.bos, self.sep, self.pad = text.bos_token_id, text.sep_token_id, text.pad_token_id

    def tokenize(self, texts: list[str]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """[CLS] text [SEP] tokens cut to the context (end token kept), and the texts that were cut."""
        tok = self.prepared.tokenizer
        with self.prepared.lock:  # a fast tokenizer keeps its padding/truncation settings between calls
            longer = tok(texts, truncation=True, max_length=self.prepared.context + 1)["input_ids"]
            tokens = tok(texts, padding=True, truncation=True, max_length=self.prepared.context, return_tensors="pt")
        cut = [t for t, ids in zip(texts, longer) if len(ids) > self.prepared.context]
        return {k: tokens[k] for k in ("input_ids", "attention_mask")}, cut

    def cut_note(self, cut: list[str]) -> list[Text]:
        if not cut:
            return []
        n = self.prepared.context
        return [Text(f"The text was too long for the text encoder, which reads at most {n} tokens, so the end was cut "
                     f"off: '{cut[0][:60]}...'.",
                     f"这段文字对文本编码器来说太长了（它最多读 {n} 个 token），所以结尾被截掉了：“{cut[0][:60]}...”。")]

    def pixel_values(self, picture) -> torch.Tensor:
        """An RGB picture -> (1, 3, S, S) normalised, through the model's image processor."""
        return self.prepared.processor.image_processor(images=[picture], return_tensors="pt")["pixel_values"]

    def seen(self, pixel_values: torch.Tensor) -> np.ndarray:
        """(1, 3, S, S) normalised -> (S, S, 3) uint8: what the image encoder saw."""
        x = pixel_values[0].float().permute(1, 2, 0).numpy() * self.prepared.std + self.prepared.mean  # [S, S, 3]
        return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)

    def grid(self, pixel_values: torch.Tensor) -> tuple[int, int]:
        p = self.model.config.vision_config.patch_size
        return pixel_values.shape[-2] // p, pixel_values.shape[-1] // p

    def vision(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The image encoder's output: (1, 1 + P, D) vision tokens, [CLS] first."""
        return self.model.vision_model(pixel_values=pixel_values.to(self.device, self.dtype)).last_hidden_state

    def generate(self, memory: torch.Tensor, num_beams: int, max_new_tokens: int):
        """The text decoder writing from [DEC] while cross-attending to `memory` (1, M, D), as BLIP's
        own `generate` calls it; returns the generate output and each token's log-probability."""
        decoder = self.model.text_decoder
        start = torch.full((1, 1), self.bos, dtype=torch.long, device=memory.device)
        out = decoder.generate(input_ids=start, eos_token_id=self.sep, pad_token_id=self.pad,
                               encoder_hidden_states=memory,
                               encoder_attention_mask=torch.ones(memory.shape[:2], dtype=torch.long,
                                                                 device=memory.device),
                               num_beams=num_beams, do_sample=False, max_new_tokens=max_new_tokens,
                               output_scores=True, return_dict_in_generate=True)
        if num_beams == 1:
            steps = decoder.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        else:
            steps = decoder.compute_transition_scores(out.sequences, out.scores, out.beam_indices)
        return out, steps[0, :out.sequences.shape[1] - 1]  # [T]: one per generated token

    def cross_attention(self, memory: torch.Tensor, sequence: torch.Tensor) -> torch.Tensor:
        """(T, L, M): the decoder's cross-attention, averaged over heads, as it chose each of the T
        generated tokens in `sequence` (1, 1 + T) (a teacher-forced pass: the decoder is causal)."""
        out = self.model.text_decoder(input_ids=sequence[:, :-1], encoder_hidden_states=memory,
                                      encoder_attention_mask=torch.ones(memory.shape[:2], dtype=torch.long,
                                                                        device=memory.device),
                                      output_attentions=True)
        return torch.stack([a[0].float().mean(0) for a in out.cross_attentions], 1)  # L x [H, T, M] -> [T, L, M]

    def decoded(self, sequence: torch.Tensor, logp: torch.Tensor, score: float | None = None) -> Decoded:
        ids = sequence[0, 1:].tolist()
        logp = logp.float()
        pieces = self.prepared.tokenizer.convert_ids_to_tokens(ids)
        tokens = tuple(Token(str(t), int(i), float(np.exp(lp))) for t, i, lp in zip(pieces, ids, logp.tolist()))
        text = self.prepared.tokenizer.decode(ids, skip_special_tokens=True).strip()
        total = float(logp.sum())
        return Decoded(text, tokens, total, total if score is None else float(score))


class CaptionPipeline(BlipPipeline):
    """A `BlipForConditionalGeneration`: greedy and beam captions, the greedy tokens' cross-attention."""

    def preprocess(self, image, num_beams: int = 3, max_new_tokens: int = CAPTION_TOKENS, **params) -> dict[str, Any]:
        return {"pixel_values": self.pixel_values(load_image(image)), "num_beams": num_beams,
                "max_new_tokens": max_new_tokens}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        memory = self.vision(inputs["pixel_values"])                                   # [1, 1 + P, D]
        greedy, greedy_logp = self.generate(memory, 1, inputs["max_new_tokens"])
        if inputs["num_beams"] > 1:
            beam, beam_logp = self.generate(memory, inputs["num_beams"], inputs["max_new_tokens"])
            score = beam.sequences_scores[0]
        else:  # one beam is greedy decoding
            beam, beam_logp, score = greedy, greedy_logp, greedy_logp.sum()
        return {"greedy": greedy.sequences, "greedy_logp": greedy_logp, "beam": beam.sequences,
                "beam_logp": beam_logp, "beam_score": score,
                "attention": self.cross_attention(memory, greedy.sequences)}            # [T, L, 1 + P]

    def postprocess(self, inputs, outputs, timings: Timings, **params) -> CaptionResult:
        greedy = self.decoded(outputs["greedy"], outputs["greedy_logp"])
        beam = self.decoded(outputs["beam"], outputs["beam_logp"], float(outputs["beam_score"]))
        return CaptionResult(greedy.text, greedy, beam, inputs["num_beams"], outputs["attention"].numpy(),
                             self.grid(inputs["pixel_values"]), self.seen(inputs["pixel_values"]), self.key,
                             self.loaded.requested.key, str(self.device), self.loaded.notice, timings)


class AnswerPipeline(BlipPipeline):
    """A `BlipForQuestionAnswering`: the greedy answer and where it looked, through the question."""

    def preprocess(self, image, question: str = "", max_new_tokens: int = ANSWER_TOKENS, notes=(),
                   **params) -> dict[str, Any]:
        tokens, cut = self.tokenize([question])
        return {"pixel_values": self.pixel_values(load_image(image)), "tokens": tokens,
                "max_new_tokens": max_new_tokens, "notes": list(notes) + self.cut_note(cut)}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        memory = self.vision(inputs["pixel_values"])                                   # [1, 1 + P, D]
        tokens = {k: v.to(self.device) for k, v in inputs["tokens"].items()}
        read = self.model.text_encoder(**tokens, encoder_hidden_states=memory,
                                       encoder_attention_mask=torch.ones(memory.shape[:2], dtype=torch.long,
                                                                         device=memory.device),
                                       output_attentions=True)
        question = read.last_hidden_state                                               # [1, Q, D]
        out, logp = self.generate(question, 1, inputs["max_new_tokens"])
        to_picture = torch.stack([a[0].float().mean(0) for a in read.cross_attentions]).mean(0)  # [Q, 1 + P]
        to_question = self.cross_attention(question, out.sequences).mean(1)          # [T, L, Q] -> [T, Q]
        return {"sequence": out.sequences, "logp": logp, "to_question": to_question, "to_picture": to_picture}

    def postprocess(self, inputs, outputs, timings: Timings, **params) -> AnswerResult:
        answer = self.decoded(outputs["sequence"], outputs["logp"])
        ids = inputs["tokens"]["input_ids"][0].tolist()
        tok = self.prepared.tokenizer
        to_question, to_picture = outputs["to_question"].numpy(), outputs["to_picture"].numpy()
        return AnswerResult(tok.decode(ids, skip_special_tokens=True).strip(), tuple(tok.convert_ids_to_tokens(ids)),
                            answer.text, answer.tokens, answer.probability, to_question, to_picture,
                            (to_question @ to_picture).astype(np.float32), self.grid(inputs["pixel_values"]),
                            self.seen(inputs["pixel_values"]), self.key, self.loaded.requested.key, str(self.device),
                            tuple(inputs["notes"]), self.loaded.notice, timings)


class MatchPipeline(BlipPipeline):
    """A `BlipForImageTextRetrieval`: ITM probability and ITC cosine for each sentence."""

    def preprocess(self, image, sentences: list[str] = (), notes=(), **params) -> dict[str, Any]:
        tokens, cut = self.tokenize(list(sentences))
        return {"pixel_values": self.pixel_values(load_image(image)), "tokens": tokens, "sentences": list(sentences),
                "notes": list(notes) + self.cut_note(cut)}

    def _forward(self, inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        m = self.model
        memory = self.vision(inputs["pixel_values"])                                   # [1, 1 + P, D]
        tokens = {k: v.to(self.device) for k, v in inputs["tokens"].items()}
        n = tokens["input_ids"].shape[0]
        seen = memory.expand(n, -1, -1)                                                 # [N, 1 + P, D]
        fused = m.text_encoder(**tokens, encoder_hidden_states=seen,
                               encoder_attention_mask=torch.ones(seen.shape[:2], dtype=torch.long,
                                                                 device=seen.device)).last_hidden_state
        itm = m.itm_head(fused[:, 0]).float().softmax(-1)[:, 1]                        # [N]
        alone = m.text_encoder(**tokens).last_hidden_state                             # [N, T, D]
        image_feat = torch.nn.functional.normalize(m.vision_proj(memory[:, 0]), dim=-1)  # [1, E]
        text_feat = torch.nn.functional.normalize(m.text_proj(alone[:, 0]), dim=-1)      # [N, E]
        return {"itm": itm, "itc": (image_feat @ text_feat.T)[0]}                      # [N], [N]

    def postprocess(self, inputs, outputs, timings: Timings, **params) -> MatchResult:
        scores = tuple(MatchScore(s, float(p), float(c)) for s, p, c in
                       zip(inputs["sentences"], outputs["itm"].tolist(), outputs["itc"].tolist()))
        return MatchResult(scores, self.key, self.loaded.requested.key, str(self.device), tuple(inputs["notes"]),
                           self.loaded.notice, timings)


# ---- entry points: checks here, model work behind the device boundary ----

def caption(image: ImageLike, model: str = "shapes-blip-caption-tiny", num_beams: int = 3,
            max_new_tokens: int = CAPTION_TOKENS) -> CaptionResult:
    """Caption a picture with registry model `model` (a BLIP captioner): greedy, and beam search
    with `num_beams` beams, each at most `max_new_tokens` tokens."""
    num_beams = budget.number(num_beams, BEAMS, 1, MAX_BEAMS, whole=True)
    max_new_tokens = budget.number(max_new_tokens, LENGTH, 1, MAX_NEW_TOKENS, whole=True)
    return _caption_on_device(np.asarray(load_image(image)), model, num_beams, max_new_tokens)


@gpu_task(duration=10)
def _caption_on_device(picture: np.ndarray, model: str, num_beams: int, max_new_tokens: int) -> CaptionResult:
    return CaptionPipeline(load_model(model))(picture, num_beams=num_beams, max_new_tokens=max_new_tokens)


def ask(image: ImageLike, question: str, model: str = "shapes-blip-vqa-tiny",
        max_new_tokens: int = ANSWER_TOKENS) -> AnswerResult:
    """Answer `question` about a picture with registry model `model` (a BLIP VQA model)."""
    question, notes = clean_question(question)
    max_new_tokens = budget.number(max_new_tokens, LENGTH, 1, MAX_NEW_TOKENS, whole=True)
    return _answer_on_device(np.asarray(load_image(image)), question, model, max_new_tokens, tuple(notes))


@gpu_task(duration=5)
def _answer_on_device(picture: np.ndarray, question: str, model: str, max_new_tokens: int,
                      notes: tuple[Text, ...]) -> AnswerResult:
    return AnswerPipeline(load_model(model))(picture, question=question, max_new_tokens=max_new_tokens, notes=notes)


def match(image: ImageLike, sentences: str | list[str], model: str = "shapes-blip-itm-tiny") -> MatchResult:
    """Score sentences (one per line) against a picture with registry model `model` (a BLIP
    image-text matcher): ITM probability and ITC cosine."""
    texts, notes = clean_sentences(sentences)
    return _match_on_device(np.asarray(load_image(image)), texts, model, tuple(notes))


@gpu_task(duration=5)
def _match_on_device(picture: np.ndarray, sentences: list[str], model: str, notes: tuple[Text, ...]) -> MatchResult:
    return MatchPipeline(load_model(model))(picture, sentences=sentences, notes=notes)
