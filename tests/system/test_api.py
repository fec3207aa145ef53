"""The app as users reach it: launched with `python app.py`, called through gradio_client."""

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_classify_with_only_the_image(client):
    label, seen, card, notice = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png")),
                                               api_name="/classify")
    assert label["label"] == "star"
    assert len(label["confidences"]) == 5
    assert "Parameters" in card and "GFLOPs" in card
    assert "Answered by" in notice
    assert seen  # the picture the model saw comes back as a file


def test_hub_model_offline_falls_back_with_a_notice(client):
    label, _, card, notice = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "green-ring.png")),
                                            "convnext-tiny", 3, api_name="/classify")
    assert label["label"] == "ring" and len(label["confidences"]) == 3
    assert "ConvNeXt-T is not available" in notice and "Tiny ResNet" in notice


def test_bad_input_gets_a_sentence_and_the_server_keeps_serving(client, tmp_path):
    junk = tmp_path / "homework.png"
    junk.write_bytes(b"this is not a picture")
    with pytest.raises(Exception, match="not a picture VisionLab can read"):
        client.predict(handle_file(str(junk)), api_name="/classify")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "red-circle.png")), "../../secret",
                       api_name="/classify")
    label = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "red-circle.png")), api_name="/classify")[0]
    assert label["label"] == "circle"
