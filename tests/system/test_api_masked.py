"""The masked image modeling tab as API users reach it: /reconstruct through gradio_client."""

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR

N_PANEL = 6  # five pictures and a caption per method


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_reconstruct_with_only_the_image(client):
    out = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png")), api_name="/reconstruct")
    assert len(out) == 2 * N_PANEL + 1
    pictures, text, losses = out[:5], out[5], out[-1]
    assert all(pictures)                                   # five pictures come back as files
    assert "MAE" in text and "baseline" in text and "Tiny MAE" in text
    mae = losses["MAE"]
    assert mae["loss"] == "MSE" and mae["hidden_patches"] == 48 and mae["patches"] == 64
    assert mae["model"] < mae["baseline"]
    assert out[N_PANEL] is None                            # no second panel unless "Both"


def test_both_methods_share_the_mask_and_simmim_uses_l1(client):
    out = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "green-ring.png")),
                         "Both side by side (same mask)", "shapes-mae-tiny", "shapes-simmim-tiny", 0.5, 16, 3,
                         api_name="/reconstruct")
    losses = out[-1]
    assert losses["MAE"]["hidden_patches"] == losses["SimMIM"]["hidden_patches"] == 32
    assert losses["SimMIM"]["loss"] == "L1" and out[N_PANEL + 5]


def test_bad_ratios_and_bad_files_get_sentences_and_the_server_keeps_serving(client, tmp_path):
    star = handle_file(str(EXAMPLES_DIR / "shapes" / "yellow-star.png"))
    # the slider's own range (0.05-0.95) is enforced with a sentence naming the parameter; the
    # pipeline's clamping of 0 and 1 is tested in tests/test_masked.py
    for ratio in (0.0, 1.0):
        with pytest.raises(Exception, match=r"The mask ratio \(ratio\) must be a number from 0.05 to 0.95"):
            client.predict(star, "MAE", "shapes-mae-tiny", "shapes-simmim-tiny", ratio, api_name="/reconstruct")
    out = client.predict(star, "SimMIM", "shapes-mae-tiny", "shapes-simmim-tiny", 0.95, 16, api_name="/reconstruct")
    assert out[-1]["SimMIM"]["ratio"] == 1.0   # ceil(0.95 x 16) = 16 squares of 16 px, as SimMIM's generator
    junk = tmp_path / "homework.png"
    junk.write_bytes(b"not a picture at all")
    with pytest.raises(Exception, match="not a picture VisionLab can read"):
        client.predict(handle_file(str(junk)), api_name="/reconstruct")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(star, "MAE", "../../secret", api_name="/reconstruct")
    # an empty brush falls back to random squares, with a sentence
    out = client.predict(star, "MAE", "shapes-mae-tiny", "shapes-simmim-tiny", 0.75, 8, 0, "My brush strokes",
                         api_name="/reconstruct")
    assert "brush layer is empty" in out[5] and out[-1]["MAE"]["hidden_patches"] == 48
