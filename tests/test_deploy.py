"""The Hugging Face Space deploys from the README: LFS rules, requirements, the upload command."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HUB_LIMIT = 1_000_000  # bytes: the Hub refuses larger binary files unless they are LFS/Xet files
PYTHONS = ("3.10", "3.11")  # the Space (ZeroGPU documents 3.10) and where VisionLab is tested


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_every_large_binary_is_stored_with_lfs():
    """Each git-tracked binary over 1 MB has `filter=lfs` from .gitattributes."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("git or the repository's .git is not available")
    large = []
    for name in _git("ls-files", "-z").split("\0"):
        path = ROOT / name
        if name and path.is_file() and path.stat().st_size > HUB_LIMIT:
            with open(path, "rb") as f:
                if b"\0" in f.read(8000):  # git's own test for a binary file
                    large.append(name)
    assert large, "expected the bundled weights/*/model.safetensors"
    attrs = _git("check-attr", "filter", "--", *large).splitlines()
    not_lfs = [line.split(":")[0] for line in attrs if not line.endswith(": filter: lfs")]
    assert not not_lfs, f"binary files over 1 MB need an LFS rule in .gitattributes: {not_lfs}"


def _pins(python: str) -> dict[str, list[str]]:
    """requirements.txt as {package: [specifiers]} for the lines whose marker holds on `python`."""
    env = {"python_version": python, "python_full_version": python + ".0"}
    pins = defaultdict(list)
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                pins[canonicalize_name(req.name)].append(str(req.specifier))
    return pins


@pytest.mark.parametrize("python", PYTHONS)
def test_requirements_pin_each_package_once_per_python(python):
    pins = _pins(python)
    assert {"torch", "torchvision", "gradio", "numpy", "transformers"} <= set(pins)
    for name, specs in pins.items():
        assert len(specs) == 1, f"{name} has {len(specs)} pins on Python {python}: {specs}"
        assert re.fullmatch(r"==[\w.]+", specs[0]), f"{name} is not pinned exactly on Python {python}: {specs[0]}"
    assert set(_pins("3.10")) == set(_pins("3.11")), "both Pythons install the same packages"


def _readme_deploy_command() -> list[str]:
    """The `hf upload` command in README.md's "Hugging Face Spaces" section, as argv."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Hugging Face Spaces", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    commands = [b.replace("\\\n", " ") for b in blocks if "hf upload" in b]
    assert len(commands) == 1, "one `hf upload` command in the README's Spaces section"
    argv = shlex.split(commands[0].strip())
    assert Path(argv[0]).name == "hf", argv[0]
    return argv[1:]


def test_readme_deploy_command_uploads_the_app_and_leaves_out_local_files(monkeypatch):
    """Run the README's command through the installed `hf` CLI with a stand-in for the Hub,
    then filter this repository's paths with the patterns it hands to `upload_folder`."""
    from huggingface_hub.cli import hf, upload
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

    calls = {}

    class Hub:  # records instead of uploading
        def create_repo(self, **kwargs):
            calls["create_repo"] = kwargs
            return type("Repo", (), {"repo_id": kwargs["repo_id"]})()

        def upload_folder(self, **kwargs):
            calls["upload_folder"] = kwargs
            return "https://huggingface.co/spaces/recorded"

    monkeypatch.setattr(upload, "get_hf_api", lambda token=None: Hub())
    monkeypatch.chdir(ROOT)
    hf.app(_readme_deploy_command(), standalone_mode=False)
    assert calls["create_repo"]["repo_type"] == "space" and calls["create_repo"]["space_sdk"] == "gradio"
    args = calls["upload_folder"]
    assert Path(args["folder_path"]).resolve() == ROOT and args["allow_patterns"] is None
    ignore = list(args["ignore_patterns"]) + DEFAULT_IGNORE_PATTERNS  # as upload_folder adds them

    def uploaded(path: str) -> bool:
        return bool(list(filter_repo_objects([path], ignore_patterns=ignore)))

    for left_out in (".venv/bin/python", ".venv/lib/python3.11/site-packages/torch/__init__.py",
                     "test-output/app.png", ".gradio/cached_examples/1/image.webp",
                     "demos/__pycache__/common.cpython-311.pyc", "weights/sam_vit_b_01ec64.pth"):
        assert not uploaded(left_out), left_out
    for shipped in ("app.py", "README.md", "requirements.txt", "packages.txt", ".gitattributes",
                    "weights/shapes-vit-tiny/model.safetensors", "examples/photos/chelsea.png"):
        assert uploaded(shipped), shipped
