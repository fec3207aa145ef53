"""A bounded LRU cache of loaded models with one lock per key.

Two requests for the same model wait for one load; requests for different models load
in parallel; the least recently used model is dropped when the cache is full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    def __init__(self, max_items: int, on_evict: Callable[[V], None] | None = None):
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()  # guards _items and _key_locks, never held while loading
        self._on_evict = on_evict

    def get_or_load(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value for `key`, calling `load()` (once, even under concurrency) if absent."""
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
        """Store `value`, dropping the least recently used entries beyond `max_items`."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            evicted = []
            while len(self._items) > self.max_items:
                old_key, old_value = self._items.popitem(last=False)
                self._key_locks.pop(old_key, None)  # per-user keys come and go: keep no lock for them
                evicted.append(old_value)
        for v in evicted:
            if self._on_evict:
                self._on_evict(v)

    @property
    def size(self) -> int:
        """The most entries the cache holds."""
        return self.max_items

    def keys(self) -> list:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
