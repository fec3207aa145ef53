"""A bounded LRU cache with one lock per key, bounded by entries or by bytes.

Two requests for the same key wait for one load; requests for different keys load in
parallel; the least recently used entries are dropped when the cache is over its bound.
Caches of big things (models, picture embeddings) are bounded by bytes (`max_bytes` with a
`weigh` function), so a class that picks big models cannot run the machine out of memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


def nbytes(value: Any) -> int:
    """Bytes held by arrays and tensors in `value` (numpy arrays, torch tensors and modules,
    dataclasses, tuples, lists, dicts), counted once each; other objects count 0."""
    seen: set[int] = set()

    def size(v: Any) -> int:
        if id(v) in seen:
            return 0
        seen.add(id(v))
        if hasattr(v, "nbytes") and hasattr(v, "dtype"):                # numpy array
            return int(v.nbytes)
        if hasattr(v, "element_size") and hasattr(v, "nelement"):     # torch tensor
            return int(v.element_size() * v.nelement())
        if hasattr(v, "parameters") and hasattr(v, "buffers"):         # torch module
            return sum(size(t) for t in (*v.parameters(), *v.buffers()))
        if isinstance(v, dict):
            return sum(size(x) for x in v.values())
        if isinstance(v, (list, tuple)):
            return sum(size(x) for x in v)
        if hasattr(v, "__dataclass_fields__"):
            return sum(size(getattr(v, name)) for name in v.__dataclass_fields__)
        return 0

    return size(value)


class LRUCache(Generic[V]):
    """At most `max_items` entries and, with `max_bytes`, at most that many bytes as measured by
    `weigh(value)` (default `nbytes`); the newest entry is kept even when it alone is over."""

    def __init__(self, max_items: int | None = None, on_evict: Callable[[V], None] | None = None,
                 max_bytes: int | None = None, weigh: Callable[[V], int] = nbytes):
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be at least 1")
        if max_items is None and max_bytes is None:
            raise ValueError("give max_items or max_bytes")
        self.max_items, self.max_bytes, self._weigh = max_items, max_bytes, weigh
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._weights: dict[Hashable, int] = {}
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts, never held while loading
        self._on_evict = on_evict

    def get_or_load(self, key: Hashable, load: Callable[[], V], keep: Callable[[V], bool] | None = None) -> V:
        """The cached value for `key`, calling `load()` (once, even under concurrency) if absent.
        With `keep`, a loaded value is stored only if `keep(value)` is true."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have loaded it while we waited
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            value = load()
            if keep is None or keep(value):
                self.put(key, value)
            return value

    def get(self, key: Hashable) -> V | None:
        """The cached value for `key` (now the most recently used), or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        """Store `value`, dropping the least recently used entries beyond the bounds."""
        weight = self._weigh(value) if self.max_bytes is not None else 0
        with self._lock:
            self._items[key], self._weights[key] = value, weight
            self._items.move_to_end(key)
            evicted = []
            while len(self._items) > 1 and self._over():
                old_key, old_value = self._items.popitem(last=False)
                self._weights.pop(old_key, None)
                self._key_locks.pop(old_key, None)  # per-user keys come and go: keep no lock for them
                evicted.append(old_value)
        for v in evicted:
            if self._on_evict:
                self._on_evict(v)

    def _over(self) -> bool:
        return ((self.max_items is not None and len(self._items) > self.max_items)
                or (self.max_bytes is not None and sum(self._weights.values()) > self.max_bytes))

    @property
    def size(self) -> int | None:
        """The most entries the cache holds (None: bounded by bytes only)."""
        return self.max_items

    @property
    def bytes(self) -> int:
        """Bytes held now, as weighed (0 for a cache bounded by entries only)."""
        with self._lock:
            return sum(self._weights.values())

    def keys(self) -> list:
        with self._lock:
            return list(self._items)

    def snapshot(self) -> dict:
        """A plain copy of the entries (key -> value), least recently used first."""
        with self._lock:
            return dict(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._weights.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
