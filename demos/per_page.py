"""What the server remembers about each open page (its language, presenter mode), keyed by
gradio's session hash, which every event from that page carries. Bounded: the oldest pages
are forgotten first, and a forgotten page simply gets the defaults again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from gradio.context import LocalContext


class PerPage:
    """page session -> one value, for at most `size` pages."""

    def __init__(self, size: int = 4096):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def set(self, session: str | None, value: Any) -> None:
        if not session:
            return
        with self._lock:
            self._items[session] = value
            self._items.move_to_end(session)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def get(self, session: str | None, default: Any = None) -> Any:
        with self._lock:
            return self._items.get(session, default) if session else default


def current_request():
    """The gr.Request being answered in this thread (None outside an event, e.g. in tests)."""
    return LocalContext.request.get(None)


def session_of(request) -> str | None:
    return getattr(request, "session_hash", None)
