"""The device boundary (`gpu_task`): plain values cross it, user errors cross as values and
come out as the same error with both languages, and nothing in the app runs a model around it."""

import ast
import inspect
from pathlib import Path

import pytest

from visionlab.errors import VisionLabError
from visionlab.models import gpu
from visionlab.models.gpu import Crash, Refused, gpu_task
from visionlab.models.registry import UnknownModel
from visionlab.text import Text

ROOT = Path(__file__).resolve().parents[1]


class Picky(VisionLabError, ValueError):
    pass


def test_a_user_error_crosses_as_a_value_and_keeps_both_languages():
    seen = []

    @gpu_task(duration=3)
    def refuse(x):
        seen.append(x)
        raise Picky(Text("Pick a shape.", "选一个形状。"))

    with pytest.raises(Picky) as caught:
        refuse(7)
    assert seen == [7] and caught.value.text == Text("Pick a shape.", "选一个形状。")
    # subclasses whose own __init__ takes other arguments come back whole too
    assert Refused(UnknownModel, Text("'x' is not one", "“x” 不是")).error().text.zh == "“x” 不是"


def test_inside_a_worker_an_unexpected_error_becomes_a_value_and_is_raised_outside(monkeypatch):
    """On ZeroGPU an exception would make spaces discard the worker (and reload every model):
    everything crosses as a value; off ZeroGPU unexpected errors simply propagate."""
    def broken():
        raise KeyError("oops")

    with pytest.raises(KeyError):
        gpu_task(broken)()
    import spaces  # imported without the platform's variables: its GPU would leave functions alone

    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    inside = []
    monkeypatch.setattr(spaces, "GPU", lambda **kw: (lambda f: inside.append(f) or f))
    wrapped = gpu_task(broken)
    assert isinstance(inside[0](), gpu.Crashed)                      # what the worker sends back
    with pytest.raises(Crash) as caught:
        wrapped()
    assert caught.value.kind == "KeyError"


def test_plain_values_pass_through_unchanged():
    @gpu_task
    def double(x, *, times=2):
        return x * times

    assert double(4) == 8 and double(4, times=3) == 12 and double.on_device(2) == 4 and double.duration == 15


def boundary_functions():
    """(module, name) of every function decorated with gpu_task under visionlab/."""
    found = []
    for path in (ROOT / "visionlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any("gpu_task" in ast.unparse(d) for d in node.decorator_list):
                found.append((path.relative_to(ROOT).with_suffix("").as_posix().replace("/", "."), node.name))
    return found


def test_every_model_entry_point_is_behind_the_boundary_and_demos_hold_none():
    names = {name for _, name in boundary_functions()}
    assert {"classify", "attention_maps", "grad_cam_map", "reconstruct", "reconstruct_pair", "detect",
            "encode_picture", "decode_prompt", "decode_boxes", "decode_grid", "_rank_on_device",
            "_matrix_on_device", "dino_attention", "train_epoch", "predict"} <= names
    for path in (ROOT / "demos").glob("*.py"):
        text = path.read_text()
        assert "gpu_task" not in text, f"{path.name} puts its own code behind the boundary"
        if path.name != "startup.py":  # loading (not running) the models before serving is its job
            assert "load_model" not in text, f"{path.name} loads a model itself"


def test_boundary_functions_take_no_request_and_no_callbacks():
    import importlib

    for module, name in boundary_functions():
        fn = getattr(importlib.import_module(module), name).on_device
        for p in inspect.signature(fn).parameters.values():
            assert p.name not in ("request", "progress", "download", "session"), f"{module}.{name}({p.name})"
