"""Questions, answers and captions about ShapesWorld scenes, and the tiny BLIP's offline tokenizer.

A scene (`shapes.make_scene`: one to five coloured shapes on a noisy background) is read as a
list of `Thing`s: shape, colour and the centre of its visible part. Everything the tiny BLIP
learns follows from that ground truth:

- a caption naming every object ("a yellow star above a purple cross", "a red circle, a blue
  ring and an orange star" from left to right);
- questions of five kinds with one right answer each: colour ("what colour is the star?"),
  shape ("what shape is the red one?"), count ("how many shapes are there?", "how many
  crosses are there?"), existence ("is there a blue ring?") and position ("what is left of the
  square?"). A question is only asked when its answer is unambiguous (the star is the only
  star; exactly one object lies clearly left of the square and none is level with it);
- sentences to match against a picture (true or false), for the matching head (ITM) and the
  contrastive loss (ITC). A sentence is *true* of a scene when every object it names is there
  (as many times as named) and the relation it states holds.

Some colour-shape pairs can be held out of the questions (never asked about, never answered):
`involved` says which pairs a question touches. Everything here is a pure function of its
inputs and a numpy Generator.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass

import numpy as np

from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, Scene

KINDS = ("colour", "shape", "count", "exist", "position")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars",
           "cross": "crosses", "ring": "rings"}
RELATIONS = ("left of", "right of", "above", "below")
MARGIN = 0.06     # centres closer than this (share of the picture side) on an axis are "level"
MAX_THINGS = 5    # make_scene's largest scene

COLOUR_QUESTIONS = ("what colour is the {shape}?", "what color is the {shape}?", "which colour is the {shape}?")
SHAPE_QUESTIONS = ("what shape is the {colour} one?", "what is the {colour} shape?", "which shape is {colour}?")
COUNT_ALL = ("how many shapes are there?", "how many objects are there?", "how many shapes are in the picture?")
COUNT_SHAPE = ("how many {plural} are there?",)
COUNT_COLOUR = ("how many {colour} shapes are there?",)
EXIST_QUESTIONS = ("is there {a} {colour} {shape}?",)
POSITION_QUESTIONS = {"left of": ("what is left of the {shape}?", "what is to the left of the {shape}?"),
                      "right of": ("what is right of the {shape}?", "what is to the right of the {shape}?"),
                      "above": ("what is above the {shape}?",),
                      "below": ("what is below the {shape}?",)}


@dataclass(frozen=True)
class Thing:
    """One object of a scene: indices into SHAPES and COLOUR_NAMES, and the centre (x, y) of its
    visible part as shares of the picture side (0 = left / top, 1 = right / bottom)."""

    shape: int
    colour: int
    x: float
    y: float

    @property
    def pair(self) -> tuple[str, str]:
        return COLOUR_NAMES[self.colour], SHAPES[self.shape]

    @property
    def words(self) -> str:
        return f"{COLOUR_NAMES[self.colour]} {SHAPES[self.shape]}"


@dataclass(frozen=True)
class QA:
    """One question with its answer. kind: one of KINDS. involved: the (colour, shape) pairs the
    question asks about or answers with (the object it refers to included)."""

    kind: str
    question: str
    answer: str
    involved: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Claim:
    """What a sentence says: the objects it names, as (colour, shape) pairs, and optionally a
    relation "names[0] <relation> names[1]" (one of RELATIONS)."""

    names: tuple[tuple[str, str], ...]
    relation: str | None = None


def things_of(scene: Scene) -> list[Thing]:
    """The objects of a scene, centres from their visible boxes."""
    side = scene.image.shape[1]
    return [Thing(int(s), int(c), float(b[0] + b[2]) / 2 / side, float(b[1] + b[3]) / 2 / side)
            for s, c, b in zip(scene.shape_ids, scene.colour_ids, scene.boxes)]


def things_to_rows(things: list[Thing]) -> np.ndarray:
    """(MAX_THINGS, 4) float32 rows (shape, colour, x, y); unused rows are -1."""
    rows = np.full((MAX_THINGS, 4), -1, np.float32)
    for i, t in enumerate(things):
        rows[i] = t.shape, t.colour, t.x, t.y
    return rows


def rows_to_things(rows: np.ndarray) -> list[Thing]:
    return [Thing(int(r[0]), int(r[1]), float(r[2]), float(r[3])) for r in np.asarray(rows) if r[0] >= 0]


def flip(things: list[Thing], horizontal: bool, vertical: bool) -> list[Thing]:
    """The objects of the mirrored picture (left and right, or top and bottom, swap)."""
    return [Thing(t.shape, t.colour, 1 - t.x if horizontal else t.x, 1 - t.y if vertical else t.y) for t in things]


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def named(pair: tuple[str, str]) -> str:
    """("orange", "square") -> "an orange square"."""
    return f"{article(pair[0])} {pair[0]} {pair[1]}"


def holds(a: Thing, b: Thing, relation: str, margin: float = 0.0) -> bool:
    """Whether `a` is `relation` `b` ("left of", ...), by more than `margin` of the picture side."""
    if relation == "left of":
        return a.x < b.x - margin
    if relation == "right of":
        return a.x > b.x + margin
    if relation == "above":
        return a.y < b.y - margin
    return a.y > b.y + margin


def level(a: Thing, b: Thing, relation: str) -> bool:
    """Whether `a` is too close to `b` on the relation's axis to say."""
    gap = a.x - b.x if relation in ("left of", "right of") else a.y - b.y
    return abs(gap) <= MARGIN


# ---- captions ----

def caption(things: list[Thing]) -> str:
    """The caption that names every object: one object alone; two with the relation along the axis
    where they are farther apart ("a yellow star above a purple cross"); three or more from left
    to right ("a red circle, a blue ring and an orange star"). See `caption_claim`."""
    if not things:
        return "nothing"
    if len(things) == 1:
        return named(things[0].pair)
    return sentence(caption_claim(things))


def caption_claim(things: list[Thing]) -> Claim:
    """What the caption says, as a Claim: one object alone; two with the relation along the axis where
    they are farther apart (unless they are level on both); more from left to right."""
    if len(things) < 2:
        return Claim(tuple(t.pair for t in things))
    a, b = things[0], things[-1]
    if len(things) == 2 and max(abs(a.y - b.y), abs(a.x - b.x)) > MARGIN:  # else: too close to say
        if abs(a.y - b.y) > abs(a.x - b.x):
            top, bottom = (a, b) if a.y < b.y else (b, a)
            return Claim((top.pair, bottom.pair), "above")
        left, right = (a, b) if a.x < b.x else (b, a)
        return Claim((left.pair, right.pair), "left of")
    return Claim(tuple(t.pair for t in sorted(things, key=lambda t: t.x)))


NAME_PAIRS = [(c, s) for c in COLOUR_NAMES for s in SHAPES]


def pairs_named(text: str) -> Counter:
    """The (colour, shape) pairs a caption names, counted ("a red star and a red star" -> 2)."""
    words = text.lower().replace(",", " ").replace(".", " ").split()
    found = Counter()
    for a, b in zip(words, words[1:]):
        if a in COLOUR_NAMES and b in SHAPES:
            found[(a, b)] += 1
    return found


def names_every_object(text: str, things: list[Thing]) -> bool:
    """Whether a caption names exactly the scene's objects (each colour and shape, as often as they
    occur, and nothing else)."""
    return pairs_named(text) == Counter(t.pair for t in things)


# ---- truth of a sentence ----

def true_of(claim: Claim, things: list[Thing]) -> bool:
    """Every named object is in the scene (as often as named) and the relation, if any, holds
    between some two distinct objects that fit the first and second names."""
    if Counter(claim.names) - Counter(t.pair for t in things):
        return False
    if claim.relation is None:
        return True
    first, second = claim.names[0], claim.names[1]
    return any(a.pair == first and b.pair == second and holds(a, b, claim.relation)
               for i, a in enumerate(things) for j, b in enumerate(things) if i != j)


def sentence(claim: Claim, rng: np.random.Generator | None = None) -> str:
    """A sentence saying `claim` (several wordings when `rng` is given)."""
    names = [named(p) for p in claim.names]
    if claim.relation is not None:
        rel = "to the left of" if claim.relation == "left of" else (
            "to the right of" if claim.relation == "right of" else claim.relation)
        return f"{names[0]} {rel} {names[1]}"
    if len(names) == 1:
        forms = ("{}", "there is {}", "a picture of {}")
        form = forms[int(rng.integers(len(forms)))] if rng is not None else forms[0]
        return form.format(names[0])
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def true_claim(things: list[Thing], rng: np.random.Generator) -> Claim:
    """A random true claim: the whole caption, one object, or a clear relation between two."""
    roll = rng.random()
    if roll < 0.5 or len(things) == 1 and roll < 0.75:
        return caption_claim(things)
    if roll < 0.75 or len(things) == 1:
        return Claim((things[int(rng.integers(len(things)))].pair,))
    i, j = rng.choice(len(things), 2, replace=False)
    a, b = things[i], things[j]
    clear = [r for r in RELATIONS if holds(a, b, r, MARGIN)]
    if not clear:
        return Claim((a.pair,))
    return Claim((a.pair, b.pair), clear[int(rng.integers(len(clear)))])


OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def false_claim(claim: Claim, things: list[Thing], rng: np.random.Generator, others: list[Claim]) -> Claim:
    """A claim that is false of `things`: one name changed to an absent colour or shape, two colours
    swapped, the relation turned round, or another scene's caption."""
    roll = rng.random()
    names = list(claim.names)
    if roll < 0.2 and claim.relation is not None:
        turned = Claim(claim.names, OPPOSITE[claim.relation])
        if not true_of(turned, things):
            return turned
    if roll < 0.35 and len(names) >= 2:
        i, j = rng.choice(len(names), 2, replace=False)
        (ci, si), (cj, sj) = names[i], names[j]
        names[i], names[j] = (cj, si), (ci, sj)
        swapped = Claim(tuple(names), claim.relation)
        if not true_of(swapped, things):
            return swapped
        names = list(claim.names)
    if roll < 0.5 and others:
        other = others[int(rng.integers(len(others)))]
        if not true_of(other, things):
            return other
    for _ in range(20):
        i = int(rng.integers(len(names)))
        colour, shape = names[i]
        if rng.random() < 0.5:
            colour = COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))]
        else:
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
        changed = names[:i] + [(colour, shape)] + names[i + 1:]
        edited = Claim(tuple(changed), claim.relation)
        if not true_of(edited, things):
            return edited
    absent = [p for p in NAME_PAIRS if p not in {t.pair for t in things}]
    return Claim((absent[int(rng.integers(len(absent)))],))


# ---- questions ----

def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def ask(kind: str, things: list[Thing], rng: np.random.Generator, avoid: frozenset = frozenset(),
        must: frozenset | None = None) -> QA | None:
    """A random question of `kind` about the scene with its one right answer, touching none of the
    `avoid` pairs (and, when `must` is given, touching one of them). None if the scene allows no
    such question."""
    def allowed(*pairs) -> bool:
        touched = set(pairs)
        return not (touched & avoid) and (must is None or bool(touched & must))

    shapes = Counter(t.shape for t in things)
    colours = Counter(t.colour for t in things)
    if kind == "colour":
        unique = [t for t in things if shapes[t.shape] == 1 and allowed(t.pair)]
        if not unique:
            return None
        t = _pick(unique, rng)
        return QA(kind, _pick(COLOUR_QUESTIONS, rng).format(shape=SHAPES[t.shape]), COLOUR_NAMES[t.colour],
                  frozenset({t.pair}))
    if kind == "shape":
        unique = [t for t in things if colours[t.colour] == 1 and allowed(t.pair)]
        if not unique:
            return None
        t = _pick(unique, rng)
        return QA(kind, _pick(SHAPE_QUESTIONS, rng).format(colour=COLOUR_NAMES[t.colour]), SHAPES[t.shape],
                  frozenset({t.pair}))
    if kind == "count":
        if must is not None:  # a count names no colour-shape pair
            return None
        roll = rng.random()
        if roll < 0.4:
            return QA(kind, _pick(COUNT_ALL, rng), str(len(things)))
        if roll < 0.75:
            s = int(rng.integers(len(SHAPES))) if rng.random() < 0.4 else _pick(things, rng).shape
            return QA(kind, _pick(COUNT_SHAPE, rng).format(plural=PLURALS[SHAPES[s]]), str(shapes[s]))
        c = int(rng.integers(len(COLOUR_NAMES))) if rng.random() < 0.4 else _pick(things, rng).colour
        return QA(kind, _pick(COUNT_COLOUR, rng).format(colour=COLOUR_NAMES[c]), str(colours[c]))
    if kind == "exist":
        present = {t.pair for t in things}
        yes = [p for p in present if allowed(p)]
        if rng.random() < 0.5 and yes:
            pair = _pick(yes, rng)
        else:
            roll, t = rng.random(), _pick(things, rng)
            if roll < 1 / 3:     # the same shape in another colour
                options = [(c, t.pair[1]) for c in COLOUR_NAMES]
            elif roll < 2 / 3:   # the same colour on another shape
                options = [(t.pair[0], s) for s in SHAPES]
            else:
                options = NAME_PAIRS
            options = ([p for p in options if p not in present and allowed(p)]
                       or [p for p in NAME_PAIRS if p not in present and allowed(p)])
            if not options:
                return None
            pair = _pick(options, rng)
        question = _pick(EXIST_QUESTIONS, rng).format(a=article(pair[0]), colour=pair[0], shape=pair[1])
        return QA(kind, question, "yes" if pair in present else "no", frozenset({pair}))
    if kind == "position":
        options = []
        for ref in things:
            if shapes[ref.shape] != 1:
                continue
            for relation in RELATIONS:
                others = [t for t in things if t is not ref]
                if any(level(t, ref, relation) for t in others):
                    continue
                fits = [t for t in others if holds(t, ref, relation, MARGIN)]
                if len(fits) == 1 and allowed(ref.pair, fits[0].pair):
                    options.append((ref, relation, fits[0]))
        if not options:
            return None
        ref, relation, answer = _pick(options, rng)
        question = _pick(POSITION_QUESTIONS[relation], rng).format(shape=SHAPES[ref.shape])
        return QA(kind, question, answer.words, frozenset({ref.pair, answer.pair}))
    raise ValueError(f"unknown question kind {kind!r}")


def ask_any(things: list[Thing], rng: np.random.Generator, avoid: frozenset = frozenset(),
            weights: dict[str, float] | None = None, tries: int = 4) -> QA | None:
    """A question of a random kind (drawn by `weights`) that touches none of the `avoid` pairs."""
    kinds = list(KINDS)
    p = np.array([(weights or {}).get(k, 1.0) for k in kinds], np.float64)
    for _ in range(tries):
        qa = ask(kinds[int(rng.choice(len(kinds), p=p / p.sum()))], things, rng, avoid)
        if qa is not None:
            return qa
    return None


# ---- the offline tokenizer ----

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]")
EXTRA_WORDS = ("a", "an", "the", "is", "are", "there", "what", "which", "how", "many", "one", "shape", "shapes",
               "object", "objects", "colour", "color", "in", "picture", "to", "of", "left", "right", "above",
               "below", "and", "yes", "no", "nothing", "this", "photo", "image", "on", "it", "with", "where",
               "top", "bottom", "middle", "next", "cat", "dog", "car", "person", "tree", "house", "bird",
               "flower", "cup", "coffee", "rocket", "man", "woman", "sitting", "standing", "table")


def vocabulary() -> list[str]:
    """Special tokens, whole words, then single characters and their word-piece forms (so any
    English word can be spelt, never [UNK]; Chinese characters are [UNK])."""
    words = list(dict.fromkeys([*COLOUR_NAMES, *SHAPES, *PLURALS.values(), *EXTRA_WORDS,
                                *(str(n) for n in range(10))]))
    chars = string.ascii_lowercase + string.digits
    singles = [c for c in chars + string.punctuation if c not in words]
    return [*SPECIAL, *words, *singles, *(f"##{c}" for c in chars)]


def build_tokenizer(context: int):
    """A BERT word-piece tokenizer made offline, as BLIP uses (its [DEC] starts the decoder)."""
    from transformers import BertTokenizer

    vocab = {token: i for i, token in enumerate(vocabulary())}
    return BertTokenizer(vocab=vocab, bos_token="[DEC]", model_max_length=context,
                         extra_special_tokens={"enc_token": "[ENC]"})
