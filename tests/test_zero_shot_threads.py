"""Issue 16, item 5: the zero-shot tokenizer is shared by every request; several threads with long
label lists of different lengths must get exactly what one thread alone gets (a fast tokenizer
keeps its padding and truncation settings between calls, so unguarded calls mix them up:
"expected sequence of length 15 at dim 1 (got 16)")."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from visionlab.pipelines import zero_shot as zs

WORDS = ["red", "green", "blue", "yellow", "purple", "orange", "circle", "square", "triangle", "star", "cross",
         "ring", "very", "small", "large", "shiny", "striped", "photo", "drawing", "of", "a"]


def label_list(seed: int, n: int = 300) -> list[str]:
    """`n` labels of 1 to 12 words: batches of very different padded lengths."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(1, 13))) + f" {i}" for i in range(n)]


@pytest.fixture(scope="module")
def pipe():
    return zs.pipeline_for("shapes-clip-tiny")


def test_threads_tokenise_and_encode_long_label_lists_as_one_thread_does(pipe):
    lists = [label_list(seed, 120 + 60 * seed) for seed in range(8)]
    templates = ["a photo of a {}.", "{}"]
    alone = [pipe.text_inputs(labels, templates)["token_chunks"] for labels in lists]

    def tokenise(k: int):
        return [pipe.text_inputs(lists[k], templates)["token_chunks"] for _ in range(6)]

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(tokenise, range(8)))
    for k, runs in enumerate(together):
        for chunks in runs:
            assert len(chunks) == len(alone[k])
            for got, want in zip(chunks, alone[k]):
                assert set(got) == set(want)
                for name in want:
                    assert got[name].shape == want[name].shape and bool((got[name] == want[name]).all())
    # and the embeddings, end to end through the encoders, match the single-thread ones
    with ThreadPoolExecutor(4) as pool:
        embedded = list(pool.map(lambda k: pipe.label_embeddings(lists[k], templates)[0].embeddings, range(4)))
    for k in range(4):
        np.testing.assert_allclose(embedded[k], pipe.label_embeddings(lists[k], templates)[0].embeddings, atol=1e-5)
