"""The one base class for errors whose message is written for the person using VisionLab."""

from __future__ import annotations

from visionlab.text import Text, as_text


class VisionLabError(Exception):
    """A plain sentence a student can act on, in English and Chinese (`.text`); str(error) is
    the English. The UI shows it in the language of the person asking."""

    def __init__(self, message: Text | str):
        self.text = as_text(message)
        super().__init__(self.text.en)
