"""Download a hub model's files before it loads, saying how many MB have come.

A hub model's first use fetches hundreds of MB; the loader's own call (timm / transformers
`from_pretrained`) says nothing while it does. `fetch` does the download first, in the request
that asked (never inside a GPU worker), and reports bytes as they arrive:

    fetch("resnet50", lambda done, total: print(f"{done >> 20} of {total >> 20} MB"))

Afterwards the loader finds the files in the Hugging Face cache. Only the files a PyTorch
loader reads are fetched (configs, safetensors weights, tokenizer files); a repository without
safetensors weights gets its other weights from the loader itself, without a progress line.
"""

from __future__ import annotations

from typing import Callable

from visionlab.models.registry import ModelSpec, get_spec

FILES = ["*.json", "*.safetensors", "*.txt", "*.model"]  # configs, weights, vocabularies, sentencepiece
Report = Callable[[int, int], None]                       # (bytes done, bytes in all; 0 while unknown)


def needs_download(spec: ModelSpec) -> bool:
    """Whether using `spec` now would download it: a hub model, the hub reachable, not in the cache."""
    from visionlab.models.hub import hub_status
    from visionlab.models.loader import in_local_cache

    if spec.bundled or spec.hub_repo is None or spec.library not in ("timm", "transformers"):
        return False
    return hub_status().online and not in_local_cache(spec)


def reporting_tqdm(report: Report):
    """A tqdm class for huggingface_hub that draws nothing and passes its byte counts to `report`
    (huggingface_hub sums every file's bytes into one bar whose unit is "B")."""
    from tqdm.auto import tqdm

    class Reporting(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)           # huggingface_hub's own bars take a logger name
            self.bytes = kwargs.get("unit") == "B"
            self.done = int(kwargs.get("initial") or 0)
            super().__init__(*args, **{**kwargs, "disable": True})

        def update(self, n=1):
            self.done += int(n or 0)
            if self.bytes:
                report(self.done, int(self.total or 0))

    return Reporting


def fetch(key: str, report: Report) -> bool:
    """Download model `key`'s files into the Hugging Face cache if they are not there and the
    hub is reachable, calling report(done, total) as bytes arrive. Returns whether it downloaded.
    A failed download is left to the loader, which says why and lets a stand-in answer."""
    spec = get_spec(key)
    if not needs_download(spec):
        return False
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(spec.hub_repo, allow_patterns=FILES, tqdm_class=reporting_tqdm(report))
    except Exception:  # noqa: BLE001 - the loader tries again and explains the failure in both languages
        return False
    return True
