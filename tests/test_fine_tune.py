"""Fine-tuning (issue 18): quality on bundled backbones (CPU), the scaling rule, divergence,
determinism, bad input, and the tab's per-page runs."""

import math

import numpy as np
import pytest
import torch

from visionlab.pipelines.fine_tune import (DEFAULT_TIME_BUDGET_S, FineTuneError, Settings, config_text, fine_tune,
                                           shapes_examples, train_epoch)
from visionlab.toy.fine_tune_tasks import TASKS, task_pictures


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Other work shares this machine's cores: keep to one (the figures below are from 1 thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_tasks_draw_every_class_reproducibly():
    for name, task in TASKS.items():
        pictures, labels, names = task_pictures(name, 3, seed=1)
        assert pictures.shape == (3 * len(task.classes), 64, 64, 3) and pictures.dtype == np.uint8
        assert names == task.classes and np.bincount(labels).tolist() == [3] * len(names)
        again, _, _ = task_pictures(name, 3, seed=1)
        assert np.array_equal(pictures, again)
        fresh, _, _ = task_pictures(name, 3, seed=1, start=3)
        assert not np.array_equal(pictures, fresh)


def test_linear_probe_reaches_90_percent_with_10_pictures_per_class_and_beats_scratch():
    """A task the backbone never learned (it named shapes; this asks round or pointed), 10 pictures
    per class, default settings and budget."""
    probe, scratch = [], []
    for seed in range(3):
        examples = shapes_examples("round-or-pointed", per_class=10, seed=seed)
        a = fine_tune(examples, "shapes-resnet-tiny", mode="linear-probe", seed=seed)
        b = fine_tune(examples, "shapes-resnet-tiny", mode="scratch", seed=seed)
        assert sum(e.seconds for e in a.history) < DEFAULT_TIME_BUDGET_S and a.stopped_by == "epochs"
        probe.append(a.history[-1].val_accuracy)
        scratch.append(b.history[-1].val_accuracy)
    assert min(probe) >= 0.9, probe
    assert np.mean(probe) > np.mean(scratch), (probe, scratch)


def test_the_scaling_rule_keeps_the_loss_and_ten_times_the_lr_diverges():
    examples = shapes_examples("colour", per_class=40)
    small = fine_tune(examples, epochs=5, batch_size=16, base_lr=0.02, base_batch_size=16)
    big = fine_tune(examples, epochs=5, batch_size=64, base_lr=0.02, base_batch_size=16)
    unscaled = fine_tune(examples, epochs=5, batch_size=64, base_lr=0.02, base_batch_size=16, scale_lr=False)
    assert big.settings.lr == pytest.approx(0.08) and "0.02 x 64 / 16 = 0.08" in big.lr_formula.en
    l16, l64, l64u = (r.history[-1].train_loss for r in (small, big, unscaled))
    assert abs(l64 - l16) <= 0.2 * l16, (l16, l64)
    assert l64u > 1.2 * l16, (l16, l64u)  # without the rule the big batch lags behind
    assert not small.diverged and not big.diverged
    too_high = fine_tune(examples, epochs=5, batch_size=16, base_lr=0.2, base_batch_size=16)
    assert too_high.diverged, [e.train_loss for e in too_high.history]


def test_same_seed_same_data_same_settings_same_curves():
    examples = shapes_examples("size", per_class=6)
    for mode in ("linear-probe", "last-stage"):
        a = fine_tune(examples, mode=mode, epochs=3, seed=3)
        b = fine_tune(examples, mode=mode, epochs=3, seed=3)
        assert [(e.train_loss, e.val_accuracy) for e in a.history] == [(e.train_loss, e.val_accuracy)
                                                                       for e in b.history]


def test_modes_train_what_they_say_and_the_shared_backbone_is_untouched():
    from visionlab.models import load_model

    shared = load_model("shapes-resnet-tiny").model
    before = {k: v.clone() for k, v in shared.state_dict().items()}
    examples = shapes_examples("colour", per_class=4)
    for mode in ("linear-probe", "last-stage", "full", "scratch"):
        run = fine_tune(examples, mode=mode, epochs=2)
        keys = run.state.weights.keys()
        if mode == "linear-probe":
            assert all(k.startswith("head.") for k in keys)
        else:
            assert any(k.startswith("body.layer4") for k in keys)
        assert math.isfinite(run.history[-1].train_loss) and run.confusion.sum() == len(run.data.val)
        probs = run.classify(examples[0][0]).probabilities
        assert set(probs) == set(run.names) and sum(probs.values()) == pytest.approx(1, abs=1e-4)
    after = shared.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_vit_backbone_and_odd_pictures():
    from PIL import Image

    odd = [Image.new("RGBA", (30, 20), (255, 0, 0, 128)), Image.new("L", (300, 200), 90),
           np.zeros((7, 9, 3), np.uint8), Image.new("P", (64, 64))]
    examples = [(p, "a") for p in odd[:2]] + [(p, "b") for p in odd[2:]]
    run = fine_tune(examples, "shapes-vit-tiny", mode="last-stage", epochs=2)
    assert run.data.pictures.shape == (4, 64, 64, 3) and len(run.data.val) == 2
    assert run.classify(Image.new("I;16", (40, 40))).label in ("a", "b")


@pytest.mark.parametrize("examples, words", [
    ([(np.zeros((8, 8, 3), np.uint8), "only")] * 5, "at least 2 classes"),
    ([(np.zeros((8, 8, 3), np.uint8), "a")] * 3 + [(np.zeros((8, 8, 3), np.uint8), "b")], "at least 2 pictures"),
    ([], "at least 2 classes"),
])
def test_bad_input_gets_a_sentence_in_both_languages(examples, words):
    with pytest.raises(FineTuneError) as caught:
        fine_tune(examples)
    assert words in caught.value.text.en and caught.value.text.zh


def test_budgets_are_checked_before_any_work():
    ex = shapes_examples("size", per_class=2)
    for kwargs in ({"epochs": 10_000}, {"batch_size": 0}, {"mode": "everything"}, {"time_budget_s": 1e6},
                   {"base_lr": -1}):
        with pytest.raises(FineTuneError):
            fine_tune(ex, **kwargs)
    with pytest.raises(FineTuneError):
        shapes_examples("size", per_class=10_000)


def test_config_file_names_the_four_parts_and_the_formula():
    import tomllib

    run = fine_tune(shapes_examples("size", per_class=4), epochs=1, batch_size=32)
    text = config_text(run.settings, run.data, "ShapesWorld: size", run.state.answered_by, run_id="x1")
    cfg = tomllib.loads(text)
    assert set(cfg) == {"model", "data", "optimizer", "schedule", "runtime"}
    assert cfg["optimizer"]["lr"] == pytest.approx(0.04) and cfg["data"]["classes"] == ["small", "big"]
    assert "base_lr x batch_size / base_batch_size" in text


def test_the_boundary_takes_and_gives_plain_values():
    import pickle

    ex = shapes_examples("size", per_class=3)
    from visionlab.pipelines.fine_tune import prepare

    s = Settings(epochs=1)
    d = prepare(ex, s)
    out = train_epoch(d.pictures, d.labels, d.train, d.val, s, None, 0)
    back = pickle.loads(pickle.dumps(out))
    assert all(v.device.type == "cpu" for v in back.state.weights.values())
    assert back.epoch.epoch == 1


def test_runs_stay_with_their_page_and_go_when_it_closes():
    from demos.fine_tune import PageRuns, Run, RunRefused

    runs = PageRuns()
    runs.begin("page-a")
    with pytest.raises(RunRefused):
        runs.begin("page-a")          # one run per page at a time
    runs.begin("page-b")              # another page may train at once
    runs.add("page-a", Run("r1", None, None, "x"))
    assert runs.get("page-a", "r1") is not None and runs.get("page-b", "r1") is None
    runs.end("page-a")
    runs.begin("page-a")
    runs.drop("page-a")
    assert runs.get("page-a", "r1") is None
