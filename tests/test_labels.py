"""One label parser for every tab: CLIP labels and detector queries split and deduplicate alike."""

import pytest

from visionlab.ops.labels import split_labels
from visionlab.pipelines.detection import parse_queries
from visionlab.pipelines.zero_shot import LabelError, parse_labels


@pytest.mark.parametrize("text,expected", [
    ("猫，狗、杯子", ["猫", "狗", "杯子"]),                       # full-width comma and the enumeration comma
    ("Cat, cat, CAT", ["Cat"]),                                  # repeats, case-insensitively, first spelling kept
    ("red  cup;\nblue\tstar；  ,", ["red cup", "blue star"]),    # semicolons, new lines, inner white space
    ("Straße, STRASSE", ["Straße"]),                             # Unicode casefold
    ("", []),
])
def test_every_tab_reads_labels_the_same_way(text, expected):
    assert split_labels(text).items == expected
    assert parse_queries(text) == expected                       # the detection tab (and Grounded-SAM)
    if expected:
        assert parse_labels(text)[0] == expected                 # the zero-shot tab
    else:
        with pytest.raises(LabelError):
            parse_labels(text)


def test_repeats_are_reported_and_lists_are_taken_as_they_are():
    parsed = split_labels("cat, Cat, dog, cat")
    assert parsed.items == ["cat", "dog"] and parsed.repeats == ["Cat", "cat"]
    assert split_labels(["a photo of a cat, sitting", "A photo of a cat, sitting"]).items == \
        ["a photo of a cat, sitting"]
    assert split_labels(("x", " y ")).items == ["x", "y"]
    notes = parse_labels("cat, Cat, dog")[1]
    assert "'Cat'" in notes[0].en
