"""Lazy example caching: the first time an example picture is run with given settings, the
answer is kept; every later click on it (by anyone) with the same settings, language,
drawing style and answering models is answered at once, without the model.

Thirty students clicking the same example is the common case in class: one computes, the
others wait for that one answer (one lock per key) instead of queueing thirty model calls.
Pictures that are not examples always run live. The cache is bounded (least recently used
answers are dropped) and lives as long as the process.

(Why not gradio's own `gr.Examples(cache_examples=True, cache_mode="lazy")`: each tab re-runs
whenever its picture changes, so gradio's cached outputs would be computed again at once, and
they would ignore the tab's current settings.)
"""

from __future__ import annotations

import functools
import hashlib
import pickle
from pathlib import Path
from typing import Any, Callable

from demos import presenter
from demos.i18n import language
from visionlab.models.cache import LRUCache

MAX_ANSWERS = 64  # a masked-modeling answer holds about 1 MB of pictures


def _file_hash(path: str | Path) -> str | None:
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def example_hashes() -> frozenset[str]:
    """Content hashes of the files under examples/ (gradio hands handlers a copy, not the path)."""
    from demos.common import EXAMPLES_DIR

    return frozenset(h for p in EXAMPLES_DIR.rglob("*") if p.is_file() and (h := _file_hash(p)))


_answers: LRUCache[Any] = LRUCache(MAX_ANSWERS)


def cached_for_examples(fn: Callable) -> Callable:
    """Wrap an endpoint whose first argument is the picture's file path (see the module doc)."""
    @functools.wraps(fn)
    def wrapper(image, *args, **kwargs):
        picture = _file_hash(image) if isinstance(image, (str, Path)) else None
        if picture is None or picture not in example_hashes():
            return fn(image, *args, **kwargs)
        try:
            settings = hashlib.sha1(pickle.dumps((args, sorted(kwargs.items())))).hexdigest()
        except (pickle.PicklingError, TypeError, AttributeError):
            return fn(image, *args, **kwargs)
        models = answering_models((*args, *kwargs.values()))
        key = (fn.__module__, fn.__qualname__, picture, settings, language(), presenter.style(), models)
        # Kept only if the same models would still answer: a stand-in's answer, given while a
        # hub model failed to load, is not served once the real model is back.
        return _answers.get_or_load(key, lambda: fn(image, *args, **kwargs),
                                    keep=lambda _: answering_models((*args, *kwargs.values())) == models)
    return wrapper


def answering_models(values) -> tuple[str, ...]:
    """For each registry key among `values`, the key of the model that would answer for it now."""
    from visionlab.models import REGISTRY
    from visionlab.models.loader import answering_key

    return tuple(answering_key(v) for v in values if isinstance(v, str) and v in REGISTRY)
