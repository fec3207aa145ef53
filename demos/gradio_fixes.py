"""Work-arounds for gradio behaviour that breaks a classroom, applied once by app.py.

Atomic cache writes: gradio saves every output picture under a name made from its content
and rewrites the file on every request. When two students get the same picture at once (the
same example, the same settings), the second write truncates the file while the first is
still being sent, and the browser gets a broken response ("Too little data for declared
Content-Length"; gradio issues 8351 and 8878). Writing to a temporary name and renaming it
into place makes each reader see a whole file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def _write_atomically(target: Path, data: bytes) -> None:
    if target.exists() and target.stat().st_size == len(data):
        return  # same name = same content hash: it is already there, whole
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def atomic_cache_writes() -> None:
    """Replace gradio's two cache writers (pictures, raw bytes) with atomic ones. Idempotent."""
    from gradio import processing_utils as pu

    if getattr(pu.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = pu.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        target = (folder / f"{name}.{format}").resolve()
        _write_atomically(target, data)
        return str(target)

    def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        if not Path(file_name).suffix:
            file_name += pu.detect_audio_format(data)
        target = (folder / Path(file_name).name).resolve()
        _write_atomically(target, data)
        return str(target)

    save_pil_to_cache.atomic = True
    pu.save_pil_to_cache = save_pil_to_cache
    pu.save_bytes_to_cache = save_bytes_to_cache
