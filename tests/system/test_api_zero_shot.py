"""The zero-shot tab as API users reach it: `python app.py --offline`, called through gradio_client."""

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR

SHAPES = EXAMPLES_DIR / "shapes"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_zero_shot_with_only_the_image(client):
    ranking, table, scale, seen, notice = client.predict(handle_file(str(SHAPES / "yellow-star.png")),
                                                         api_name="/zero_shot")
    assert ranking["label"] == "yellow star"
    assert len(ranking["confidences"]) == 6  # the bundled model's suggested labels
    assert sum(c["confidence"] for c in ranking["confidences"]) == pytest.approx(1.0, abs=1e-3)
    assert "Logit scale" in scale
    assert len(table["data"]) == 6 and table["data"][0][1] == "yellow star"
    assert "a photo of a yellow star." in table["data"][0][2]
    assert "Answered by" in notice and "Tiny CLIP" in notice
    assert seen


def test_a_hub_clip_offline_falls_back_and_labels_are_free_text(client):
    ranking, _, _, _, notice = client.predict(handle_file(str(SHAPES / "green-ring.png")),
                                              "blue ring, green ring, green square", "clip-vit-b32",
                                              "a photo of a {}.\n{}",
                                              api_name="/zero_shot")
    assert ranking["label"] == "green ring"  # a pair the bundled model never saw in training
    assert "not available" in notice and "Tiny CLIP" in notice and "never saw a green ring" in notice


def test_bad_labels_get_a_sentence_and_the_server_keeps_serving(client):
    star = handle_file(str(SHAPES / "yellow-star.png"))
    with pytest.raises(Exception, match="at least one label"):
        client.predict(star, " , ,", api_name="/zero_shot")
    with pytest.raises(Exception, match="exactly one"):
        client.predict(star, "star, ring", "shapes-clip-tiny", "no slot here", api_name="/zero_shot")
    ranking, _, _, _, notice = client.predict(star, "star", api_name="/zero_shot")
    assert ranking["confidences"][0]["confidence"] == pytest.approx(1.0) and "softmax" in notice


def test_similarity_matrix_and_retrieval_endpoints(client):
    files = [{"image": handle_file(str(p)), "caption": None} for p in sorted(SHAPES.glob("*.png"))]
    picture, legend, text = client.predict(files, "a photo of a red circle.\na photo of a yellow star.",
                                           "shapes-clip-tiny", api_name="/similarity_matrix")
    assert picture and len(legend["data"]) == 2 and "6 pictures (rows) × 2 texts" in text
    results, text = client.predict(files, "a photo of a yellow star", "shapes-clip-tiny", api_name="/retrieve")
    assert len(results) == 6 and "1. cos" in results[0]["caption"]
    assert results[0]["image"].endswith("yellow-star.png")
