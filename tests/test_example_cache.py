"""Lazy example caching: an example picture with the same settings is computed once."""

import shutil
import threading

import pytest

from demos import example_cache
from demos.common import EXAMPLES_DIR

STAR = EXAMPLES_DIR / "shapes" / "yellow-star.png"


@pytest.fixture
def counted(monkeypatch):
    monkeypatch.setattr(example_cache, "_answers", example_cache.LRUCache(8))
    calls = []

    @example_cache.cached_for_examples
    def answer(image, model, top_k=5):
        calls.append((image, model, top_k))
        return f"{model} {top_k}"

    return answer, calls


def test_an_example_is_computed_once_per_settings_even_as_a_copy(counted, tmp_path):
    answer, calls = counted
    copy = tmp_path / "upload.png"
    shutil.copy(STAR, copy)  # gradio hands handlers a copy of the example file
    assert answer(str(STAR), "m", 5) == answer(str(copy), "m", 5) == "m 5"
    assert len(calls) == 1
    assert answer(str(STAR), "m", top_k=3) == "m 3" and len(calls) == 2


def test_other_pictures_always_run_live(counted, tmp_path):
    answer, calls = counted
    mine = tmp_path / "mine.png"
    mine.write_bytes(STAR.read_bytes() + b"\0")  # not byte-identical to any example
    answer(str(mine), "m"), answer(str(mine), "m"), answer(None, "m")
    assert len(calls) == 3


def test_thirty_students_at_once_cost_one_model_call(counted):
    answer, calls = counted
    threads = [threading.Thread(target=answer, args=(str(STAR), "m")) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_errors_are_not_cached(monkeypatch):
    monkeypatch.setattr(example_cache, "_answers", example_cache.LRUCache(8))
    calls = []

    @example_cache.cached_for_examples
    def failing(image):
        calls.append(1)
        raise RuntimeError("model failed")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            failing(str(STAR))
    assert len(calls) == 2


def test_the_key_holds_the_language_the_style_and_the_answering_model(counted, monkeypatch):
    """The answer depends on the asker's language and presenter style and on which model
    answers: each is in the key (break any of them and a wrong answer is served)."""
    from visionlab.ops import style

    answer, calls = counted
    state = {"lang": "en", "style": style.NORMAL, "answering": "resnet50"}
    monkeypatch.setattr(example_cache, "language", lambda: state["lang"])
    monkeypatch.setattr(example_cache.presenter, "style", lambda: state["style"])
    monkeypatch.setattr("visionlab.models.loader.answering_key", lambda key: state["answering"])
    answer(str(STAR), "resnet50")
    state["lang"] = "zh"
    answer(str(STAR), "resnet50")
    state["style"] = style.HIGH_CONTRAST
    answer(str(STAR), "resnet50")
    assert len(calls) == 3
    state["answering"] = "shapes-resnet-tiny"                     # the hub model is gone: its stand-in answers
    answer(str(STAR), "resnet50")
    assert len(calls) == 4
    state["answering"] = "resnet50"                               # back: the real model's answer, not the stand-in's
    answer(str(STAR), "resnet50")
    assert len(calls) == 4


def test_a_stand_in_answer_given_in_place_of_the_asked_model_is_not_kept(monkeypatch):
    """The hub model is expected to answer but fails while loading, so its stand-in answers:
    that answer is not stored under the real model's key."""
    monkeypatch.setattr(example_cache, "_answers", example_cache.LRUCache(8))
    state = {"answering": "resnet50"}
    monkeypatch.setattr("visionlab.models.loader.answering_key", lambda key: state["answering"])
    calls = []

    @example_cache.cached_for_examples
    def answer(image, model):
        calls.append(state["answering"])
        if len(calls) == 1:
            state["answering"] = "shapes-resnet-tiny"   # the download failed: the stand-in answers
        return state["answering"]

    assert answer(str(STAR), "resnet50") == "shapes-resnet-tiny"
    state["answering"] = "resnet50"                        # the real model is back
    assert answer(str(STAR), "resnet50") == "resnet50" and len(calls) == 2
    assert answer(str(STAR), "resnet50") == "resnet50" and len(calls) == 2
