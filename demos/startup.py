"""What happens before (or just after) the app starts serving: which models to load, loading
them, and computing the example pictures' embeddings so the first students wait less.

Off ZeroGPU models load lazily (a warm-up thread loads the tabs' defaults while the server
starts; `--preload` does it first). On ZeroGPU they must load in the main thread before launch
and never inside a GPU worker: `serve_on_zero_gpu` loads the Space's models (VISIONLAB_MODELS)
there and then refuses any other with a sentence.
"""

from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)


def sam_default() -> str:
    """Segment Anything's default on this kind of device (EdgeTAM on a CPU, SAM ViT-B with a GPU)."""
    from visionlab.models.defaults import default_for

    return default_for("segmentation")


def default_keys() -> list[str]:
    """Each tab's default model (offline: its bundled stand-in)."""
    from demos.common import default_model_keys

    return default_model_keys()


def models_to_offer() -> list[str]:
    """The registry keys a ZeroGPU Space loads at start: VISIONLAB_MODELS (comma-separated), else
    each tab's default model and Segment Anything's (SAM ViT-B, as a ZeroGPU Space has a GPU)."""
    from visionlab.models import get_spec

    chosen = [k.strip() for k in os.environ.get("VISIONLAB_MODELS", "").split(",") if k.strip()]
    keys = chosen or [*default_keys(), sam_default()]
    return [get_spec(k).key for k in dict.fromkeys(keys)]  # an unknown key stops the start with its sentence


def load(keys: list[str], quiet: bool = False) -> None:
    """Load each model in this thread (a SAM checkpoint is downloaded first when it is missing and
    the hub is reachable; without it GrabCut answers); print what answers for what."""
    from visionlab.models import get_spec
    from visionlab.models.loader import load_model, preload
    from visionlab.pipelines.segmentation import sam_unavailable

    sam = [k for k in keys if get_spec(k).task == "segmentation"]
    for key in sam:
        why = sam_unavailable(key)
        if why is None:
            load_model(key)
        elif not quiet:
            print(f"not loading {key}: {why.en}")
    rest = [k for k in keys if k not in sam]
    for key, loaded in zip(rest, preload(rest)):
        if not quiet:
            print(f"preloaded {loaded.spec.key}" + (f" (standing in for {key})" if loaded.spec.key != key else ""))


def warm_examples() -> None:
    """The example pictures' embeddings for the default CLIP and (when its checkpoint is here)
    SAM, computed once into the shared caches, so the first click on an example is fast."""
    from demos.common import example_paths
    from visionlab.models.loader import answering_key
    from visionlab.pipelines.segmentation import embedding_for, sam_unavailable
    from visionlab.ops.images import load_image
    from visionlab.pipelines.zero_shot import MAX_GALLERY, similarity_matrix

    clip = answering_key(next(k for k in default_keys() if k.startswith(("clip", "shapes-clip"))))
    pictures = example_paths()
    for i in range(0, len(pictures), MAX_GALLERY):
        similarity_matrix(pictures[i:i + MAX_GALLERY], "a photo.", clip)
    sam = sam_default()
    if sam_unavailable(sam) is None:
        for path in example_paths(("scenes", "photos")):
            embedding_for(np.asarray(load_image(path)), sam)


def warm_up() -> None:
    """The defaults and the examples' embeddings, in a background thread while the server
    starts. A request that arrives sooner waits only for what is left (loads are locked)."""
    try:
        load(default_keys(), quiet=True)
        warm_examples()
    except Exception:  # noqa: BLE001 - the tab says what is wrong when it is used
        log.exception("warm-up failed")


def serve_on_zero_gpu() -> None:
    """ZeroGPU: import every pipeline, load the Space's models on the CPU in this (main) thread,
    read their processors, then fix the set: nothing loads inside a GPU worker. (The examples'
    embeddings are not computed here: that would need the GPU before the first visitor.)"""
    from visionlab.models.loader import loaded_keys, offer_only_loaded, load_model
    from visionlab.pipelines import attention, classification, detection, masked, segmentation, zero_shot  # noqa: F401
    from visionlab.pipelines.detection import processor_for
    from visionlab.pipelines.sam_transformers import parts as sam_parts
    from visionlab.pipelines.zero_shot import prepared_for

    load(models_to_offer())
    for key in loaded_keys():
        loaded = load_model(key)
        if loaded.spec.task == "zero-shot":
            prepared_for(loaded)
        elif loaded.spec.task == "detection" and loaded.spec.library == "transformers":
            processor_for(loaded)
        elif loaded.spec.task == "segmentation" and loaded.spec.library == "transformers":
            sam_parts(key)
    offer_only_loaded()
    print("ZeroGPU: serving " + ", ".join(loaded_keys()))
