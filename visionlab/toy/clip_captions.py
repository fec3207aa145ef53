"""Captions for ShapesWorld pictures, the tiny CLIP's word list and its offline tokenizer.

A picture of one object has five attributes: shape, colour, size, horizontal and vertical
position. A caption mentions some of them ("a small red circle on the left", "the star is
blue"); it is *true* of a picture when every attribute it mentions matches. The trainer uses
that to count every true caption in a batch as a positive (many pictures share a caption).

Attribute arrays are (B, 5) int64 in the order of `ATTRIBUTES`; in a caption, -1 means "not
mentioned". Everything here is a pure function of its inputs and a numpy Generator.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, Scene, ShapeSpec, random_spec, render, rng_for

ATTRIBUTES = ("shape", "colour", "size", "hpos", "vpos")
SIZES = ("small", "medium", "large")
HPOS = ("left", "centre", "right")
VPOS = ("top", "middle", "bottom")
RADIUS_RANGE = (0.16, 0.40)  # as in shapes.make_single: radius as a share of the picture side

# Training templates. {obj} = "[size] [colour] shape-word", {where} = a position phrase.
TRAIN_TEMPLATES: tuple[str, ...] = (
    "a {obj}.",
    "a photo of a {obj}.",
    "a picture of a {obj} {where}.",
    "a {obj} {where}.",
    "there is a {obj} {where}.",
    "{obj}",
    "a drawing of a {obj}.",
    "the {shape} is {colour}.",
    "this {shape} is {colour}.",
)
# Never used in training: the zero-shot evaluation asks with this one.
UNSEEN_TEMPLATE = "this is a {}."

# Extra words the tokenizer keeps whole (they are never trained; anything else is spelt in letters).
EXTRA_WORDS = ("an", "object", "thing", "picture", "image", "photo", "of", "the", "with", "and", "cat",
               "dog", "car", "tree", "house", "person", "bird", "flower", "cup", "coffee", "rocket")


@dataclass(frozen=True)
class Attributes:
    """One picture's ground truth, as indices into SHAPES, COLOUR_NAMES, SIZES, HPOS, VPOS."""

    shape: int
    colour: int
    size: int
    hpos: int
    vpos: int

    def as_row(self) -> list[int]:
        return [self.shape, self.colour, self.size, self.hpos, self.vpos]


def attributes_of(spec: ShapeSpec, side: int) -> Attributes:
    """Size and position words from an object's radius and centre (thirds of the picture)."""
    r = spec.radius / side
    size = 0 if r < 0.24 else (2 if r > 0.32 else 1)

    def third(v: float) -> int:
        return 0 if v < 0.4 else (2 if v > 0.6 else 1)

    return Attributes(spec.shape, spec.colour, size, third(spec.cx / side), third(spec.cy / side))


def make_captioned(seed: int, index: int, size: int = 64, shape: int | None = None,
                   colour: int | None = None) -> tuple[Scene, Attributes]:
    """The same picture as `shapes.make_single(seed, index, size, shape, colour)`, with its attributes."""
    rng = rng_for(seed, index)
    spec = random_spec(rng, size, RADIUS_RANGE, shape, colour)
    return render(rng, size, [spec]), attributes_of(spec, size)


def make_captioned_batch(seed: int, start: int, pairs: np.ndarray, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Pictures `start`, `start + 1`, ... of stream `seed`, one per (shape, colour) row of `pairs`.

    Returns images (B, H, W, 3) uint8 RGB and attributes (B, 5) int64.
    """
    made = [make_captioned(seed, start + i, size, int(s), int(c)) for i, (s, c) in enumerate(pairs)]
    return (np.stack([scene.image for scene, _ in made]),
            np.array([a.as_row() for _, a in made], np.int64))


def where_phrase(hpos: int, vpos: int) -> tuple[str, int, int]:
    """A position phrase and the (hpos, vpos) it states (-1: not stated)."""
    h, v = HPOS[hpos], VPOS[vpos]
    if hpos == 1 and vpos == 1:
        return "in the middle", 1, 1
    if hpos == 1:
        return f"at the {v}", -1, vpos
    if vpos == 1:
        return f"on the {h}", hpos, -1
    return f"at the {v} {h}", hpos, vpos


def caption(attrs: np.ndarray, rng: np.random.Generator, mention: tuple[float, float] = (0.85, 0.85)
            ) -> tuple[str, np.ndarray]:
    """A random true caption of a picture with attributes `attrs` (5,), and what it mentions (5,).
    `mention`: the chances that a free-form caption names the shape and the colour (at least one
    is always named; "shape" stands in for an unnamed shape)."""
    template = TRAIN_TEMPLATES[int(rng.integers(len(TRAIN_TEMPLATES)))]
    said = np.full(5, -1, np.int64)
    shape, colour, size, hpos, vpos = (int(a) for a in attrs)
    if "{colour}" in template:  # "the star is blue": shape and colour, nothing else
        said[:2] = shape, colour
        return template.format(shape=SHAPES[shape], colour=COLOUR_NAMES[colour]), said
    say_shape, say_colour = rng.random() < mention[0], rng.random() < mention[1]
    if not (say_shape or say_colour):
        say_shape, say_colour = rng.random() < 0.5, True
    words = []
    if rng.random() < 0.4:
        words.append(SIZES[size])
        said[2] = size
    if say_colour:
        words.append(COLOUR_NAMES[colour])
        said[1] = colour
    words.append(SHAPES[shape] if say_shape else "shape")
    if say_shape:
        said[0] = shape
    where = ""
    if "{where}" in template:
        if rng.random() < 0.5:
            where, said[3], said[4] = where_phrase(hpos, vpos)
        template = template.replace(" {where}", "{where}")
        where = f" {where}" if where else ""
    return template.format(obj=" ".join(words), where=where), said


def captions(attrs: np.ndarray, rng: np.random.Generator, mention: tuple[float, float] = (0.85, 0.85)
             ) -> tuple[list[str], np.ndarray]:
    """One random true caption per row of `attrs` (B, 5): texts and mentioned attributes (B, 5)."""
    pairs = [caption(a, rng, mention) for a in attrs]
    return [t for t, _ in pairs], np.stack([s for _, s in pairs])


def truth(image_attrs: np.ndarray, said: np.ndarray) -> np.ndarray:
    """(B, 5) pictures x (M, 5) captions -> (B, M) bool: caption j is true of picture i."""
    return ((said[None, :, :] == -1) | (said[None, :, :] == image_attrs[:, None, :])).all(-1)  # [B, M]


def vocabulary() -> list[str]:
    """Every whole word the tokenizer knows (the rest is spelt letter by letter)."""
    words = (set(SHAPES) | set(COLOUR_NAMES) | set(SIZES) | set(HPOS) | set(VPOS) | set(EXTRA_WORDS)
             | {"shape", "at", "on", "in", "the"})  # the last four from `where_phrase`
    for t in TRAIN_TEMPLATES + (UNSEEN_TEMPLATE,):
        words |= {w.strip(".,") for w in t.replace("{", " {").split() if not w.startswith("{")}
    words.discard("")
    return sorted(words)


def bpe(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Byte-pair encoding of one word: merge the adjacent pair of lowest rank until none is left."""
    while len(symbols) > 1:
        pairs = [(ranks.get(pair, len(ranks)), i) for i, pair in enumerate(zip(symbols, symbols[1:]))]
        rank, i = min(pairs)
        if rank == len(ranks):
            break
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols


def word_merges(words: list[str]) -> list[tuple[str, str]]:
    """Merges, in priority order, under which byte-pair encoding turns every word of `words` into
    one token. Each word first runs through the merges made so far; where it gets stuck, a new
    merge of its first two pieces is appended. A merge appended last has the lowest priority, so it
    never changes how an earlier word is encoded."""
    ranks: dict[tuple[str, str], int] = {}
    for word in words:
        symbols = bpe(list(word[:-1]) + [word[-1] + "</w>"], ranks)
        while len(symbols) > 1:
            ranks[(symbols[0], symbols[1])] = len(ranks)
            symbols = bpe(symbols, ranks)
    return list(ranks)


def build_tokenizer(context: int):
    """A CLIP byte-pair tokenizer made offline: single characters plus merges that rebuild every
    word of `vocabulary()` as one token. Unknown characters (e.g. Chinese) become <|unk|>;
    sequences are padded with <|endoftext|> and cut to `context` tokens (start and end included)."""
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    chars = string.ascii_lowercase + string.digits + string.punctuation
    merges = word_merges(vocabulary())
    # single characters, then each with the end-of-word mark, then every merged piece
    for token in [*chars, *(c + "</w>" for c in chars), *(a + b for a, b in merges),
                  "<|unk|>", "<|startoftext|>", "<|endoftext|>"]:
        vocab.setdefault(token, len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, unk_token="<|unk|>", model_max_length=context)
