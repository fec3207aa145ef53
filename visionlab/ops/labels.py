"""The one parser for labels and queries that students type (CLIP labels, detector queries).

    split_labels("猫，狗、杯子; Cat, cat") -> Labels(items=["猫", "狗", "杯子", "Cat"], repeats=["cat"])

Rules, the same in every tab:
- separators: comma, new line, semicolon, and their full-width forms (，；) and the Chinese
  enumeration comma (、), so "猫，狗、杯子" is three labels everywhere;
- inside a label, runs of white space become one space; blank labels are dropped;
- repeats are dropped case-insensitively (Unicode casefold), keeping the first spelling, so
  "Cat, cat" is one label everywhere;
- a list is taken as the labels themselves (each item is one label, even with commas in it).

Pure: no model, no error; each tab decides what an empty list means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SEPARATORS = ",\n;，；、"
_SPLIT = re.compile("[" + re.escape(SEPARATORS) + "\r]")


@dataclass(frozen=True)
class Labels:
    """items: the labels, in the order typed, each once. repeats: the ones dropped as repeats."""

    items: list[str]
    repeats: list[str] = field(default_factory=list)


def split_labels(text: str | list[str] | tuple[str, ...] | None) -> Labels:
    """Labels from typed text (see the module's rules) or from a list of labels."""
    parts = list(text) if isinstance(text, (list, tuple)) else _SPLIT.split(text or "")
    items: list[str] = []
    repeats: list[str] = []
    seen: set[str] = set()
    for part in parts:
        label = " ".join(str(part).split())
        if not label:
            continue
        if label.casefold() in seen:
            repeats.append(label)
            continue
        seen.add(label.casefold())
        items.append(label)
    return Labels(items, repeats)
