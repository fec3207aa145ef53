"""Text that people typed, shown as typed: one escape for Markdown and one for HTML.

Labels, templates, queries and captions are data. Written into a Markdown caption as they are,
"<img src=x>" becomes a picture, "![i](http://host/)" makes the reader's browser fetch that
address, "**" turns the rest bold and "$$" starts LaTeX. `escape` makes every such character
literal; `escape_html` does the same for plain text shown as HTML (gradio's error toasts).
"""

from __future__ import annotations

import html
import string

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Every other ASCII punctuation character takes a backslash, which CommonMark reads as "this
# character, literally": no emphasis, link, picture, heading, list, table, autolink or LaTeX.
_TABLE = {ord(c): _ENTITIES.get(c, "\\" + c) for c in string.punctuation}


def escape(text: object) -> str:
    """`text` (a label, a query, a caption) for inline Markdown: every character shown as typed,
    runs of white space (new lines too) as one space."""
    return " ".join(str(text).split()).translate(_TABLE)


def escape_html(text: object) -> str:
    """`text` for a place that renders HTML but not Markdown (an error toast): <, > and & shown
    as typed; quotes stay (they are harmless outside attributes and read better)."""
    return html.escape(str(text), quote=False)
