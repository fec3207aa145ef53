"""The Segment Anything pipeline's transformers backend: SlimSAM (`SamModel`), SAM 2.1 (`Sam2Model`)
and EdgeTAM (`EdgeTamModel`), used exactly as transformers documents them.

    processor(images=picture)                  -> pixel_values (resized, normalised, padded)
    model.get_image_embeddings(pixel_values)   -> the embedding, once per picture (the slow part)
    processor(prompt in picture pixels)        -> input_points / input_labels / input_boxes
    model(image_embeddings=..., prompt)        -> low-resolution mask logits and predicted IoU
    processor.post_process_masks(...)          -> masks at the picture's size

SAM's embedding is one (1, 256, 64, 64) map; SAM 2's and EdgeTAM's are three, finest first: two
high-resolution maps the mask decoder adds back while upsampling, then the (1, 256, 64, 64) one.
They travel as numpy arrays in a `SamEmbedding` (features = the last, high_res = the others), so
the shared per-picture cache and the device boundary see plain values.

These functions run inside the segmentation pipeline's boundary functions (see `segmentation`).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from visionlab.models import load_model
from visionlab.models.loader import IMPORT_LOCK

# model class -> its processor class, as in each model's documentation. (AutoProcessor would give
# SAM 2.1's hub repo a video processor: that checkpoint is saved as a video model.)
PROCESSORS = {"SamModel": "SamProcessor", "Sam2Model": "Sam2Processor", "EdgeTamModel": "Sam2Processor"}
MASK_THRESHOLD = 0.0      # post_process_masks' default: a pixel is in the mask where its logit is above this


_prepare_lock = threading.Lock()


def parts(model: str):
    """(torch model, processor) of a registry model (loaded once, cached by the loader)."""
    loaded = load_model(model)
    if "processor" not in loaded.memo:
        with _prepare_lock:
            if "processor" not in loaded.memo:
                with IMPORT_LOCK:  # transformers' lazy imports are not thread-safe
                    import transformers

                    cls = getattr(transformers, PROCESSORS[loaded.spec.arch])
                processor = cls.from_pretrained(loaded.spec.hub_id)
                for_cpu(loaded.model)
                loaded.memo["processor"] = processor
    return loaded.model, loaded.memo["processor"]


def for_cpu(net) -> None:
    """EdgeTAM on a CPU, in place: RepViT's conv + batch-norm pairs folded into single convs (timm's
    `reparameterize_model`, what RepViT is designed for at inference) and the backbone's tensors in
    channels-last memory. The same embedding to about 1e-9 (float rounding); 1.94 -> 1.24 s per
    1024-px picture on 2 threads here (`python -m bench.sam_family --variants float32,fused+channels-last`)."""
    import torch

    if type(net).__name__ != "EdgeTamModel" or net.device.type != "cpu":
        return
    from timm.utils.model import reparameterize_model

    backbone = reparameterize_model(net.vision_encoder.backbone, inplace=True)
    net.vision_encoder.backbone = backbone.to(memory_format=torch.channels_last)


def _sizes(embedding) -> dict:
    """post_process_masks' size arguments for this embedding's processor."""
    sizes = {"original_sizes": [list(embedding.original_size)]}
    if not embedding.high_res:   # SAM: also undo the padding to a square
        sizes["reshaped_input_sizes"] = [list(embedding.input_size)]
    return sizes


def encode(picture: np.ndarray, model: str):
    """The picture's embedding: processor, then `get_image_embeddings` (picture: (H, W, 3) uint8 RGB)."""
    import torch

    from visionlab.pipelines.segmentation import SamEmbedding

    t0 = time.perf_counter()
    net, processor = parts(model)
    inputs = processor(images=picture, return_tensors="pt")
    pixels = inputs["pixel_values"].to(net.device)                                     # [1, 3, S, S]
    with torch.inference_mode():
        maps = net.get_image_embeddings(pixels)
    maps = [m.float().cpu().numpy() for m in (maps if isinstance(maps, (list, tuple)) else [maps])]
    reshaped = inputs.get("reshaped_input_sizes")
    input_size = tuple(int(v) for v in (reshaped[0] if reshaped is not None else pixels.shape[-2:]))
    return SamEmbedding(model, maps[-1], tuple(int(v) for v in inputs["original_sizes"][0]), input_size,
                        (time.perf_counter() - t0) * 1e3, tuple(maps[:-1]))


def prompt_inputs(processor, embedding, points: np.ndarray | None = None, labels: np.ndarray | None = None,
                  boxes: np.ndarray | None = None) -> dict:
    """The model's prompt tensors, made by the processor from picture pixels: points (N, 2) with
    labels (N,) as one object, boxes (B, 4) XYXY as B objects (or points (B, 2) as B objects when
    labels is (B, 1): the grid of "segment everything")."""
    args = {}
    if points is not None:
        grouped = points.reshape(len(labels), -1, 2) if labels.ndim == 2 else points[None]
        args["input_points"] = [grouped.tolist()]                               # [image, object, point, xy]
        args["input_labels"] = [(labels if labels.ndim == 2 else labels[None]).tolist()]
    if boxes is not None:
        args["input_boxes"] = [boxes.tolist()]                                  # [image, box, xyxy]
    if hasattr(processor, "_normalize_and_convert"):
        # SamProcessor's __call__ needs the picture itself to learn its size; these are the steps it
        # takes with the prompts once it knows it (no resizing of the picture again at every click).
        from transformers import BatchFeature

        pts, lbl, box = processor._check_and_preprocess_points(**args)
        return dict(processor._normalize_and_convert(BatchFeature(), [embedding.original_size], input_points=pts,
                                                     input_labels=lbl, input_boxes=box, return_tensors="pt"))
    inputs = processor(original_sizes=[list(embedding.original_size)], return_tensors="pt", **args)
    return {k: v for k, v in inputs.items() if k != "original_sizes"}


def _run(embedding, prompt: dict, multimask: bool, binarize: bool = True):
    """The mask decoder on the embedding: (masks (objects, K, H, W) at the picture's size, bool or
    logits; predicted IoU (objects, K))."""
    import torch

    net, processor = parts(embedding.model)
    maps = [torch.as_tensor(m, device=net.device) for m in (*embedding.high_res, embedding.features)]
    with torch.inference_mode():
        out = net(image_embeddings=maps if embedding.high_res else maps[0], multimask_output=multimask,
                  **{k: v.to(net.device) for k, v in prompt.items()})
        masks = processor.post_process_masks(out.pred_masks.float().cpu(), mask_threshold=MASK_THRESHOLD,
                                             binarize=binarize, **_sizes(embedding))[0]
    return masks, out.iou_scores[0].float().cpu()


def predict(embedding, points: np.ndarray, labels: np.ndarray, box: np.ndarray | None,
            multimask: bool) -> tuple[np.ndarray, np.ndarray]:
    """Masks (K, H, W) bool and predicted IoU (K,) float32 for one prompt, in the model's order."""
    _, processor = parts(embedding.model)
    prompt = prompt_inputs(processor, embedding, points if len(points) else None, labels if len(points) else None,
                           None if box is None else box[None])
    masks, scores = _run(embedding, prompt, multimask)
    return masks[0].numpy(), scores[0].numpy()


def predict_boxes(embedding, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One mask per box (N, 4) XYXY: masks (N, H, W) bool, predicted IoU (N,)."""
    _, processor = parts(embedding.model)
    masks, scores = _run(embedding, prompt_inputs(processor, embedding, boxes=boxes.astype(np.float32)), False)
    return masks[:, 0].numpy(), scores[:, 0].numpy()


def grid_logits(embedding, points: np.ndarray):
    """Each point (B, 2) as its own one-point prompt: mask logits (3B, H, W) at the picture's size,
    predicted IoU (3B,), and the logit threshold of a mask (torch tensors)."""
    _, processor = parts(embedding.model)
    prompt = prompt_inputs(processor, embedding, points, np.ones((len(points), 1), np.int64))
    logits, iou = _run(embedding, prompt, True, binarize=False)                      # [B, 3, H, W], [B, 3]
    return logits.flatten(0, 1), iou.flatten(0, 1), MASK_THRESHOLD
