"""The app as users reach it: launched with `python app.py`, called through gradio_client."""

import json

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


def test_odd_uploads_classify(client, tmp_path):
    import numpy as np
    from PIL import Image

    sixteen = Image.fromarray((np.linspace(0, 65535, 40 * 50).reshape(40, 50)).astype(np.uint16))
    cases = {
        "sixteen.png": sixteen,
        "rgba.png": Image.new("RGBA", (30, 20), (255, 0, 0, 128)),
        "grey.png": Image.new("L", (30, 20), 90),
        "one.png": Image.new("RGB", (1, 1), (0, 0, 255)),
        "huge.jpg": Image.new("RGB", (6000, 4000), (30, 160, 60)),
    }
    for name, img in cases.items():
        path = tmp_path / name
        img.save(path)
        label = client.predict(handle_file(str(path)), api_name="/classify")[0]
        assert len(label["confidences"]) == 5, name


def test_two_users_at_once_get_their_own_answers(app_url):
    from concurrent.futures import ThreadPoolExecutor

    jobs = [("red-circle", "shapes-resnet-tiny"), ("blue-cross", "shapes-vit-tiny")] * 3

    def ask(job):
        shape, model = job
        c = Client(app_url, verbose=False)
        label, _, card, _ = c.predict(handle_file(str(EXAMPLES_DIR / "shapes" / f"{shape}.png")), model, 2,
                                      api_name="/classify")
        return label["label"], model in card

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, jobs))
    assert answers == [("circle", True), ("cross", True)] * 3


def test_attention_with_only_the_image(client):
    picture, caption = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "blue-cross.png")),
                                      api_name="/attention")
    assert picture and "rollout" in caption.lower() and "cross" in caption


def test_attention_views_and_the_patch_twin(client):
    star = handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png"))
    _, caption = client.predict(star, "shapes-resnet-tiny", "Grad-CAM (CNNs)", api_name="/attention")
    assert "Grad-CAM for 'star'" in caption
    with pytest.raises(Exception, match="is a CNN"):
        client.predict(star, "shapes-resnet-tiny", api_name="/attention")
    picture, caption = client.predict(star, "shapes-vit-tiny", 27, api_name="/attention_patch")
    assert picture and "Patch 28" in caption


def test_detect_with_only_the_image(client):
    from visionlab.ops.boxes import box_iou
    from visionlab.toy.examples import EXAMPLE_SEED
    from visionlab.toy.shapes import SHAPES, make_scene

    picture, boxes, summary = client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-1.png")),
                                             api_name="/detect")
    truth = make_scene(EXAMPLE_SEED, 0, 128)            # scene-1 is the first example scene
    for box, shape in zip(truth.boxes, truth.shape_ids):  # every object found, with its label
        assert any(b["label"] == SHAPES[shape] and box_iou(b["box"], box)[0, 0] >= 0.5 for b in boxes), SHAPES[shape]
    for b in boxes:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128 and 0.3 <= b["score"] <= 1
    assert "After per-class NMS" in summary and picture


def test_detect_no_boxes_is_a_sentence_not_an_error(client):
    _, boxes, summary = client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-2.png")),
                                       "shapes-detector-tiny", "", 1.0, 0.5, "Per-class NMS", api_name="/detect")
    assert boxes == [] and "No box scores above the threshold" in summary
    with pytest.raises(Exception, match="not an NMS mode|not in the list of choices"):
        client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-2.png")),
                       "shapes-detector-tiny", "", 0.3, 0.5, "sometimes", api_name="/detect")


def test_segment_with_only_the_image_uses_the_centre(client):
    picture, annotated, masks, summary = client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-3.png")),
                                                        api_name="/segment")
    assert "point at the centre" in summary and picture and len(masks) == 1


def test_segment_a_box_offline_falls_back_to_grabcut(client):
    from visionlab.toy.examples import EXAMPLE_SEED
    from visionlab.toy.shapes import make_scene

    truth = make_scene(EXAMPLE_SEED, 0, 128)
    box = json.dumps(truth.boxes[0].tolist())
    picture, annotated, masks, summary = client.predict(
        handle_file(str(EXAMPLES_DIR / "scenes" / "scene-1.png")), "", box, api_name="/segment")
    assert "GrabCut" in summary and "EdgeTAM" in summary      # the CPU default, never downloaded here
    assert picture and len(masks) == 1
    *_, summary = client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-1.png")), "", box, "sam-vit-b",
                                 api_name="/segment")
    assert "GrabCut" in summary and "sam_vit_b_01ec64.pth" in summary
    with pytest.raises(Exception, match="outside the picture"):
        client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-1.png")), "[[999, 5]]", "",
                       api_name="/segment")
