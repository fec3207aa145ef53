"""Faults: a model whose weights are broken, and requests that arrive while a model loads."""

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR
from tests.conftest import ROOT, serve_app

SCENE = str(EXAMPLES_DIR / "scenes" / "scene-1.png")
STAR = str(EXAMPLES_DIR / "shapes" / "yellow-star.png")


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory, output_dir):
    """The app over a copy of weights/ in which the tiny ResNet's weights are garbage."""
    weights = tmp_path_factory.mktemp("weights") / "weights"
    shutil.copytree(ROOT / "weights", weights, ignore=shutil.ignore_patterns("*.pth"))
    (weights / "shapes-resnet-tiny" / "model.safetensors").write_bytes(b"not a safetensors file")
    with serve_app(output_dir / "app-server-broken.log", {"VISIONLAB_WEIGHTS": str(weights)}) as (url, _):
        yield url


def test_a_model_that_fails_to_load_gives_a_sentence_and_the_rest_works(broken_app):
    client = Client(broken_app, verbose=False)
    with pytest.raises(Exception, match="Tiny ResNet .* failed to load"):
        client.predict(handle_file(STAR), "shapes-resnet-tiny", 3, api_name="/classify")
    label = client.predict(handle_file(STAR), "shapes-vit-tiny", 3, api_name="/classify")[0]
    assert label["label"] == "star"
    _, boxes, _ = client.predict(handle_file(SCENE), api_name="/detect")
    assert boxes
    with pytest.raises(Exception, match="failed to load"):               # asked again: still a sentence
        client.predict(handle_file(STAR), "shapes-resnet-tiny", 3, api_name="/classify")


def test_requests_arriving_while_a_model_loads_wait_and_succeed(output_dir):
    with serve_app(output_dir / "app-server-cold.log") as (url, _):
        clients = [Client(url, verbose=False) for _ in range(4)]        # nothing loaded yet
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda c: c.predict(handle_file(SCENE), api_name="/detect")[1], clients))
    assert all(boxes and boxes == results[0] for boxes in results)
