"""The fine-tuning tab through gradio_client: train on a ShapesWorld task, then classify with the
run id; another client (another page) cannot use that run; bad input gets a sentence."""

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_fine_tune_then_classify_mine(client, app_url):
    out = client.predict("round-or-pointed", "shapes-resnet-tiny", "linear-probe", 10, 16, 0.02, 16, True, 0, 10,
                         60, False, api_name="/fine_tune")
    status, _, _, _, config, config_file, history, run_id = out
    assert len(history["history"]) == 10 and history["history"][-1]["val_accuracy"] >= 0.9
    assert history["run_id"] == run_id and history["stopped_by"] == "epochs"
    assert "lr = base_lr x batch_size / base_batch_size = 0.02 x 16 / 16 = 0.02" in status
    assert "[optimizer]" in config and open(config_file, encoding="utf-8").read().strip() == config.strip()
    scores, said = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png")), run_id,
                                  api_name="/classify_mine")
    assert scores["label"] == "pointed" and run_id in said
    stranger = Client(app_url, verbose=False)  # another page: its own session
    with pytest.raises(Exception, match="no trained model with that run id"):
        stranger.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png")), run_id,
                         api_name="/classify_mine")


def test_own_pictures_and_bad_input(client, tmp_path):
    from PIL import Image

    files = []
    for i, colour in enumerate([(220, 30, 30), (30, 30, 220)] * 3):
        path = tmp_path / f"p{i}.png"
        Image.new("RGB", (40 + i, 30), colour).save(path)
        files.append(handle_file(str(path)))
    with pytest.raises(Exception, match="at least 2 classes"):
        client.predict("my-pictures", "shapes-resnet-tiny", "linear-probe", 3, 16, 0.02, 16, True, 0, 10, 60, False,
                       "red", files[0::2], "", None, "", None, api_name="/fine_tune")
    out = client.predict("my-pictures", "shapes-resnet-tiny", "full", 3, 16, 0.02, 16, True, 0, 10, 60, False,
                         "red", files[0::2], "blue", files[1::2], "", None, api_name="/fine_tune")
    assert out[6]["classes"] == ["red", "blue"] and len(out[6]["history"]) == 3
    with pytest.raises(Exception, match="maximum value 50|at most 50 epochs"):
        client.predict("size", "shapes-resnet-tiny", "linear-probe", 500, api_name="/fine_tune")


def test_stop_ends_a_run_between_epochs_and_keeps_the_curves(app_url):
    import time

    c = Client(app_url, verbose=False)
    job = c.submit("colour", "shapes-resnet-tiny", "scratch", 50, 16, 0.02, 16, True, 0, 10, 60, False,
                   api_name="/fine_tune")
    deadline = time.time() + 60
    while not job.outputs() and time.time() < deadline:  # the first point on the curve
        time.sleep(0.05)
    with pytest.raises(Exception, match="already training"):  # one run per page at a time
        c.predict("size", api_name="/fine_tune")
    t0 = time.time()
    c.predict(api_name="/stop_fine_tune")
    out = job.result(timeout=60)
    took = time.time() - t0
    history = out[6]
    assert history["stopped_by"] == "stop" and 1 <= len(history["history"]) < 50
    # the epoch in progress ends, then the last picture: within a second plus that epoch (a few
    # hundredths of a second on a quiet 2-core CPU; more when the machine is busy)
    assert took < 1 + 2 * max(e["seconds"] for e in history["history"]), (took, history["history"])
    assert c.predict("size", "shapes-resnet-tiny", "linear-probe", 2, api_name="/fine_tune")[6]["stopped_by"] == "epochs"


def test_two_pages_train_at_once_and_keep_their_own_runs(app_url):
    from concurrent.futures import ThreadPoolExecutor

    def train(task):
        c = Client(app_url, verbose=False)
        out = c.predict(task, "shapes-resnet-tiny", "linear-probe", 5, api_name="/fine_tune")
        scores, _ = c.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "red-circle.png")), out[7],
                              api_name="/classify_mine")
        return out[6]["classes"], sorted(c["label"] for c in scores["confidences"])

    with ThreadPoolExecutor(2) as pool:
        (a_classes, a_scores), (b_classes, b_scores) = pool.map(train, ["colour", "count"])
    assert a_classes == ["red", "green", "blue", "yellow"] and a_scores == sorted(a_classes)
    assert b_classes == ["one", "two", "three"] and b_scores == sorted(b_classes)
