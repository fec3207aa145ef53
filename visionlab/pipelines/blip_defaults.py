"""What the ask-the-picture tab suggests for each BLIP model, without importing a model library
(the page is built before any model loads).

The bundled ShapesWorld BLIP knows five kinds of question about shapes; the real BLIP models were
trained on everyday photos (COCO, VQA v2) and take everyday questions. Both read English only.
"""

from __future__ import annotations

import json
import re

SHAPES_QUESTIONS = ("what colour is the star?", "what shape is the red one?", "how many shapes are there?",
                    "how many crosses are there?", "is there a blue ring?", "what is left of the square?",
                    "is there a green circle?")
EVERYDAY_QUESTIONS = ("what is in the picture?", "what animal is this?", "what colour is the cat?",
                      "how many people are there?", "is there a dog?", "where is this?", "what is the man doing?")

# Colour words that can trade places in a sentence (to make a near miss for the matching panel).
COLOUR_WORDS = ("red", "green", "blue", "yellow", "purple", "orange", "black", "white", "brown", "pink", "grey",
                "gray")


def shapesworld_info(model: str) -> dict:
    """shapesworld.json beside a bundled BLIP's folders ({} for hub models)."""
    from visionlab.models import get_spec

    spec = get_spec(model)
    if not spec.bundled:
        return {}
    path = spec.local_dir.parent / "shapesworld.json"
    return json.loads(path.read_text()) if path.exists() else {}


def example_questions(model: str) -> tuple[str, ...]:
    """Questions that suit `model`: shape questions for the bundled one, everyday ones otherwise."""
    from visionlab.models import get_spec

    if get_spec(model).labels != "shapesworld":
        return EVERYDAY_QUESTIONS
    return tuple(shapesworld_info(model).get("example_questions", SHAPES_QUESTIONS))


def never_asked(model: str) -> tuple[tuple[str, str], ...]:
    """The (colour, shape) pairs a bundled BLIP was never asked about in training (() otherwise)."""
    return tuple(tuple(p) for p in shapesworld_info(model).get("held_out_pairs", []))


def never_asked_in(model: str, text: str) -> list[str]:
    """The held-out pairs of `model` ("red star") that `text` (a question and its answer) names by
    both their colour and their shape."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    return [f"{c} {s}" for c, s in never_asked(model) if c in words and (s in words or s + "s" in words)]


def swapped_colours(sentence: str) -> str | None:
    """The sentence with its first two different colour words swapped ("a red star above a blue
    ring" -> "a blue star above a red ring"), or None when it has fewer than two. Same words, other
    meaning: a contrastive score of the words alone (ITC) hardly moves, a matcher that reads them
    with the picture (ITM) should."""
    words = re.findall(r"[A-Za-z]+|[^A-Za-z]+", sentence)
    spots = [i for i, word in enumerate(words) if word.lower() in COLOUR_WORDS]
    for j in spots[1:]:
        if words[j].lower() != words[spots[0]].lower():
            i = spots[0]
            words[i], words[j] = words[j], words[i]
            return "".join(words)
    return None


def sentences_for(caption: str) -> str:
    """The matching panel's sentences after a caption: the caption, and its colour swap if any."""
    swapped = swapped_colours(caption)
    return caption if swapped is None else f"{caption}\n{swapped}"
