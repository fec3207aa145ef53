"""One hub model per tab at its real size (random weights) through the app's own online path,
with no network: the real-size harness (bench/real_size.py). Slow: a few minutes on 2 cores."""

import pytest

from bench import real_size
from visionlab.models import get_spec

ONE_PER_TAB = ["resnet50", "dino-vit-s16", "clip-vit-b32", "mae-vit-base", "owlvit-base-32", "edgetam", "blip-vqa-base"]


@pytest.mark.slow
def test_one_hub_model_per_tab_answers_at_real_size(tmp_path, output_dir):
    import shutil

    hf_home, weights = tmp_path / "hf", tmp_path / "weights"
    shutil.copytree(real_size.ROOT / "weights", weights, ignore=shutil.ignore_patterns("*.pth"))
    for key in ONE_PER_TAB:
        real_size.write_checkpoint(get_spec(key), hf_home, weights)
    rows = real_size.measure(ONE_PER_TAB, hf_home, weights, output_dir / "real-size-app.log")
    assert [r["key"] for r in rows] == ONE_PER_TAB
    for r in rows:
        assert r["asked_for_answered"], f"{r['key']} was answered by {r['answered_by']}"
        assert r["load_s"] is not None and r["warm_answer_s"] > 0
