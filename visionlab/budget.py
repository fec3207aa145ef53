"""What one request may ask of the server, in one place, checked before any work is done.

A classroom shares one machine: whatever one client sends, every other student's request must
still be answered in its usual time. So every request has a budget (counts, sizes, pixels,
steps, wall time), checked in the process that received it before any model runs, and every
refusal is a sentence in English and Chinese that names the limit's number and the parameter.

    labels = budget.text(labels, budget.LABELS)           # text, at most MAX_TEXT_CHARS
    top_k = budget.number(top_k, budget.Setting("top_k", "Top-k", "Top-k"), 1, 10, whole=True)

Numbers from the page or the API may be NaN, infinite, a string or a list: `number` says which
parameter is wrong and what it takes. JSON prompts are read by `json_value`, which refuses deep
nesting (before parsing), NaN and Infinity, and more items than the cap.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from visionlab.errors import VisionLabError
from visionlab.text import Text

# ---- text ---------------------------------------------------------------------------------
MAX_BODY_BYTES = 2 << 20    # a request's body, uploads aside (their cap is 10 MB, in app.py)
MAX_TEXT_CHARS = 20_000    # one text box: labels, templates, captions, a query, queries, a prompt
MAX_LINE_CHARS = 300       # one label, template, caption or query (CLIP reads 77 tokens at most)
MAX_LABELS = 500           # zero-shot labels in one request
MAX_TEMPLATES = 80         # zero-shot templates in one request (CLIP's ImageNet ensemble has 80)
MAX_SENTENCES = 4000       # labels x templates: sentences the text encoder reads for one request
MAX_CAPTIONS = 64          # texts (columns) of the similarity matrix
MAX_QUERIES = 32           # what an open-vocabulary detector looks for in one request
TEXT_SECONDS = 30.0        # wall time the text encoder may take for one request
EVERYTHING_SECONDS = 60.0  # wall time "segment everything" may take for one request
# ---- prompts and pictures -----------------------------------------------------------------
MAX_POINTS = 64            # Segment Anything points in one request
MAX_BOXES = 100            # Segment Anything boxes in one request
MAX_JSON_DEPTH = 4         # nesting of a JSON prompt ([[x, y, label]] is 2; boxes as dicts 3)
MAX_GRID_SIDE = 32         # "segment everything": points per side (32 x 32 = 1024 prompts)
MAX_BRUSH_LAYERS = 4       # brush layers of the masked-modeling editor
MAX_LAYER_SIDE = 2048      # a brush layer's pixels: at most 2048 x 2048 (the editor draws at most 1024)
MAX_LAYER_PIXELS = MAX_LAYER_SIDE * MAX_LAYER_SIDE
# ---- the NMS player -----------------------------------------------------------------------
MAX_NMS_STEPS = 300        # steps the NMS player plays (and the step slider reaches)


class OverBudget(VisionLabError, ValueError):
    """A request asks for more than one request may: the sentence names the limit."""


class BadValue(VisionLabError, ValueError):
    """A setting that is not what its parameter takes (NaN, a string for a number, bad JSON)."""


@dataclass(frozen=True)
class Setting:
    """A parameter as people know it: its API name and its label in the page, in both languages."""

    api: str
    en: str
    zh: str

    def named(self) -> Text:
        """"Top-k (top_k)": the page's name, then the API's."""
        return Text(f"{self.en} ({self.api})", f"{self.zh}（{self.api}）")


# Text boxes, as the refusals name them.
LABELS = Setting("labels", "The labels", "标签")
TEMPLATES = Setting("templates", "The templates", "模板")
CAPTIONS = Setting("captions", "The texts", "文字")
QUERY = Setting("query", "The search", "搜索的句子")
QUERIES = Setting("queries", "What to look for", "要找的东西")
POINTS = Setting("points", "The points", "点")
BOX = Setting("box", "The box", "框")
BOXES = Setting("boxes", "The boxes", "框")


def _shown(value: Any) -> str:
    """A bad value as it can be shown in a sentence: short, one line, its type when not a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(value: Any, setting: Setting, lo: float, hi: float, whole: bool = False) -> int | float:
    """`value` as an int (whole=True) or float in [lo, hi]; anything else (NaN, infinity, text, a
    list, True/False, a fraction where a whole number is needed, out of range) is refused with a
    sentence naming the parameter and what it takes."""
    kind = Text("a whole number", "整数") if whole else Text("a number", "数")
    takes = Text(f"{setting.en} ({setting.api}) must be {kind.en} from {lo:g} to {hi:g}",
                 f"{setting.zh}（{setting.api}）必须是 {lo:g} 到 {hi:g} 之间的{kind.zh}")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and lo <= value <= hi and (not whole or value.is_integer())
    if not ok:
        raise BadValue(takes + Text(f"; it got {_shown(value)}.", f"；收到的是 {_shown(value)}。"))
    return int(value) if whole else value


def text(value: Any, setting: Setting, max_chars: int = MAX_TEXT_CHARS) -> str:
    """`value` as text ("" for None), at most `max_chars` characters; anything else is refused."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue(Text(f"{setting.en} ({setting.api}) must be text; it got {type(value).__name__}.",
                            f"{setting.zh}（{setting.api}）必须是文字；收到的是 {type(value).__name__}。"))
    if len(value) > max_chars:
        raise OverBudget(Text(f"{setting.en} ({setting.api}) run to {len(value):,} characters; one request takes "
                              f"at most {max_chars:,}.",
                              f"{setting.zh}（{setting.api}）有 {len(value):,} 个字符；一次请求最多接受 {max_chars:,} 个。"))
    return value


def count(n: int, cap: int, what: Text) -> None:
    """Refuse `n` things when more than `cap` (`what` is their plural name: "labels", "标签")."""
    if n > cap:
        raise OverBudget(Text(f"That is {n:,} {what.en}; one request takes at most {cap:,}.",
                              f"这里有 {n:,} 个{what.zh}；一次请求最多接受 {cap:,} 个。"))


def lines(items: list[str], what: Text, cap: int = MAX_LINE_CHARS) -> None:
    """Refuse any item (a label, a template, a caption) longer than `cap` characters."""
    for item in items:
        if len(item) > cap:
            raise OverBudget(Text(f"One of the {what.en} is {len(item):,} characters long; each may have at most "
                                  f"{cap:,} (the text encoder reads only the first few dozen words anyway).",
                                  f"有一个{what.zh}长 {len(item):,} 个字符；每个最多 {cap:,} 个"
                                  "（文本编码器反正只读前面几十个词）。"))


def zero_shot(labels: list[str], templates: list[str]) -> None:
    """The zero-shot budget, on parsed labels and templates: counts, lengths, and the sentences
    the text encoder would read (labels x templates)."""
    count(len(labels), MAX_LABELS, Text("labels", "标签"))
    count(len(templates), MAX_TEMPLATES, Text("templates", "模板"))
    lines(labels, Text("labels", "标签"))
    lines(templates, Text("templates", "模板"))
    n = len(labels) * len(templates)
    if n > MAX_SENTENCES:
        raise OverBudget(Text(f"{len(labels)} labels x {len(templates)} templates make {n:,} sentences for the text "
                              f"encoder; one request takes at most {MAX_SENTENCES:,}. Use fewer labels or templates.",
                              f"{len(labels)} 个标签 x {len(templates)} 个模板，文本编码器要读 {n:,} 句话；"
                              f"一次请求最多 {MAX_SENTENCES:,} 句。请减少标签或模板。"))


def captions(sentences: list[str]) -> None:
    """The similarity matrix's budget: at most MAX_CAPTIONS texts of at most MAX_LINE_CHARS."""
    count(len(sentences), MAX_CAPTIONS, Text("texts (one per line)", "段文字（每行一段）"))
    lines(sentences, Text("texts", "文字"))


@dataclass
class Deadline:
    """A wall-time budget for open-ended work (long label lists): `check()` between steps raises a
    sentence once `seconds` have passed. A plain value: it crosses the device boundary."""

    seconds: float
    started: float = 0.0

    def __post_init__(self):
        self.started = self.started or time.monotonic()

    @property
    def expired(self) -> bool:
        return time.monotonic() - self.started > self.seconds

    def check(self, done: int, total: int) -> None:
        if self.expired:
            raise OverBudget(Text(f"This request stopped after {self.seconds:g} s, its time budget, with {done:,} "
                                  f"of {total:,} sentences encoded. Use fewer labels or templates.",
                                  f"这个请求用完了 {self.seconds:g} 秒的时间预算，停了下来：{total:,} 句话里编码了 "
                                  f"{done:,} 句。请减少标签或模板。"))


# ---- JSON prompts -------------------------------------------------------------------------

def json_depth(source: str) -> int:
    """The deepest nesting of [ and { in JSON text (brackets inside strings do not count), found
    without parsing, so a deeply nested text is refused before the parser recurses."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in source:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def json_value(source: Any, setting: Setting, items: Text, max_items: int, example: str,
               max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON prompt (points, a box, boxes) as Python values, or None when blank. Refused with a
    sentence naming the parameter: not text, more than MAX_TEXT_CHARS, nested deeper than
    `max_depth`, unreadable, NaN / Infinity / numbers too large for a float, or a list of more
    than `max_items` `items` ("points", "点")."""
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    if not isinstance(source, str):
        source = json.dumps(source, allow_nan=True)  # API users may send the list itself
    source = text(source, setting)
    if json_depth(source) > max_depth:
        raise BadValue(Text(f"{setting.en} ({setting.api}) are nested more than {max_depth} levels deep. "
                            f"Write them as JSON, for example {example}.",
                            f"{setting.zh}（{setting.api}）嵌套超过了 {max_depth} 层。请写成 JSON，例如 {example}。"))

    def not_a_number(token: str):
        raise BadValue(Text(f"{setting.en} ({setting.api}) must be plain numbers, and {token} is not one. "
                            f"Write them as JSON, for example {example}.",
                            f"{setting.zh}（{setting.api}）必须是普通的数，{token} 不是数。请写成 JSON，例如 {example}。"))

    def finite(token: str) -> float:
        value = float(token)
        return value if math.isfinite(value) else not_a_number(token)

    try:
        value = json.loads(source, parse_constant=not_a_number, parse_float=finite, parse_int=finite)
    except (json.JSONDecodeError, RecursionError):
        raise BadValue(Text(f"{setting.en} ({setting.api}) could not be read. Write them as JSON, for example "
                            f"{example}.", f"无法读取{setting.zh}（{setting.api}）。请写成 JSON，例如 {example}。")) from None
    if isinstance(value, list) and len(value) > max_items and not all(isinstance(v, (int, float)) for v in value):
        count(len(value), max_items, items)
    return value
