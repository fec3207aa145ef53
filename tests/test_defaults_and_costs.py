"""Tab defaults follow the device; the expected-wait sentence says a prior, then what this server measured."""

import subprocess
import sys

import pytest

from visionlab.models import REGISTRY, costs, defaults


@pytest.fixture
def cpu(monkeypatch):
    monkeypatch.setattr(defaults, "device_class", lambda: "cpu")
    monkeypatch.setattr(costs, "device_class", lambda: "cpu")


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.setattr(defaults, "device_class", lambda: "gpu")
    monkeypatch.setattr(costs, "device_class", lambda: "gpu")


@pytest.fixture(autouse=True)
def fresh_measurements(monkeypatch):
    monkeypatch.setattr(costs, "_measured", {})


def test_every_default_is_a_registry_model_of_its_tab():
    tasks = {"grad-cam": "classification", "attention": ("attention", "classification")}
    for task in {*defaults.DEFAULTS, *defaults.BY_DEVICE}:
        keys = [defaults.BY_DEVICE[task][d] for d in ("cpu", "gpu")] if task in defaults.BY_DEVICE else [
            defaults.DEFAULTS[task]]
        for key in keys:
            wanted = tasks.get(task, task)
            assert REGISTRY[key].task in ((wanted,) if isinstance(wanted, str) else wanted), (task, key)


def test_detector_default_follows_the_device(cpu):
    assert defaults.default_for("detection") == "owlvit-base-32"
    assert defaults.default_reason("detection", "owlvit-base-32").en.startswith("On a CPU")
    assert defaults.default_reason("detection", "owlv2-base") is None  # not the default here: no reason to give


def test_detector_default_with_a_gpu(gpu):
    assert defaults.default_for("detection") == "owlv2-base"
    assert "GPU" in defaults.default_reason("detection", "owlv2-base").en


@pytest.mark.parametrize("asked, kind", [("cpu", "cpu"), ("cuda", "gpu"), ("mps", "gpu")])
def test_device_class_reads_the_request_without_importing_torch(asked, kind):
    code = ("import sys; from visionlab.models.defaults import device_class; "
            "print(device_class(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"VISIONLAB_DEVICE": asked, "PATH": ""}).stdout.split()
    assert out == [kind, "False"]


def test_prior_then_what_this_server_measured(cpu):
    assert costs.expected_seconds("owlv2-base", "detect") == (costs.PRIORS[("owlv2-base", "detect", "cpu")], False)
    assert costs.expected_wait("owlv2-base", "detect").en == "about 6.0 s on a 2-core CPU"
    costs.record("owlv2-base", "detect", 4.0)
    costs.record("owlv2-base", "detect", 2.0)
    assert costs.expected_seconds("owlv2-base", "detect") == (3.0, True)  # running average
    wait = costs.expected_wait("owlv2-base", "detect")
    assert wait.en == "about 3.0 s on this CPU (measured here)"
    assert wait.zh == "在这台机器的 CPU 上约 3.0 秒（本机实测）"


def test_nothing_is_said_without_a_prior_or_a_measurement(gpu):
    assert costs.expected_wait("owlv2-base", "detect") is None  # no GPU figure was measured for VisionLab
    assert costs.new_picture_note("owlv2-base", "detect") is None
    costs.record("owlv2-base", "detect", float("nan"))
    assert costs.expected_wait("owlv2-base", "detect") is None
    costs.record("owlv2-base", "detect", 0.05)
    assert costs.new_picture_note("owlv2-base", "detect").en == (
        "A new picture takes the detector about 0.05 s on this GPU (measured here).")


def test_detection_tab_says_cost_and_reason_in_both_languages(cpu):
    from demos.detection import cost_note

    note = cost_note("owlvit-base-32")
    assert note.en.startswith("A new picture takes the detector about 0.7 s on a 2-core CPU. On a CPU VisionLab")
    assert "双核 CPU 上约 0.7 秒" in note.zh and "OWL-ViT B/32" in note.zh
    assert cost_note("shapes-detector-tiny") == ""        # bundled: nothing measured yet, nothing said
    assert cost_note("<b>not a model</b>") == ""


def test_on_zero_gpu_the_lists_hold_only_the_models_loaded_at_start(monkeypatch):
    from demos.common import model_choices
    from visionlab.models import loader

    monkeypatch.setattr(loader, "_offered", {"resnet50": None, "shapes-resnet-tiny": None, "owlvit-base-32": None})
    choices, default = model_choices("classification", "resnet50")
    assert [key for _, key in choices] in (["resnet50", "shapes-resnet-tiny"], ["shapes-resnet-tiny", "resnet50"])
    assert default in ("resnet50", "shapes-resnet-tiny")   # the hub model online, its stand-in offline
    choices, default = model_choices("detection", "owlv2-base")
    assert [key for _, key in choices] == ["owlvit-base-32"] and default == "owlvit-base-32"
    monkeypatch.setattr(loader, "_offered", None)        # off ZeroGPU: every model is listed
    assert len(model_choices("detection", "owlv2-base")[0]) == 4


def test_segmentation_tab_says_a_new_picture_then_instant_clicks(cpu):
    from demos.segmentation import cost_note

    note = cost_note("edgetam")
    assert note.en.startswith("A new picture takes the image encoder about ")
    assert " on a 2-core CPU. Clicks after that are instant. On a CPU VisionLab starts on EdgeTAM" in note.en
    assert "之后的点击立刻就有结果。在 CPU 上 VisionLab 默认用 EdgeTAM" in note.zh
    assert cost_note("sam-vit-l") == ""          # no figure for it yet, and not the default: nothing to say
