"""Sentences in the two languages VisionLab speaks, English and Chinese (no gradio here).

Pipelines say what went wrong, or which model answered, as a `Text`; the UI picks the language
of the person asking (demos/i18n.py). str(text) is the English, so logs and the API stay English.
"""

from __future__ import annotations

from dataclasses import dataclass

LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Text:
    """One sentence (or a few) written in English and in Chinese. `+` joins two texts (or a text
    and a plain string, which then reads the same in both languages)."""

    en: str
    zh: str

    def __str__(self) -> str:
        return self.en

    def in_language(self, lang: str) -> str:
        """The sentence in `lang` ("zh..." gives Chinese, anything else English)."""
        return self.zh if lang.startswith("zh") else self.en

    def __add__(self, other: Text | str) -> Text:
        other = as_text(other)
        return Text(self.en + other.en, self.zh + other.zh)

    def __radd__(self, other: str) -> Text:
        return as_text(other) + self


def as_text(message: Text | str) -> Text:
    """A Text as it is; a plain string (a model title, a number) the same in both languages."""
    return message if isinstance(message, Text) else Text(message, message)
