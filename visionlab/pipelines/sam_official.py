"""The Segment Anything pipeline's segment-anything backend: Meta's official ViT-B/L/H checkpoints
through the library's own `SamPredictor` (`set_image` once per picture, then `predict` per click).

The same four functions as `sam_transformers`; they run inside the segmentation pipeline's
boundary functions (see `segmentation`).
"""

from __future__ import annotations

import time

import numpy as np

from visionlab.models import load_model


def _sam_predictor(model: str):
    from segment_anything import SamPredictor

    return SamPredictor(load_model(model).model)


def encode(picture: np.ndarray, model: str):
    """SamPredictor.set_image on an (H, W, 3) uint8 RGB picture: its embedding."""
    from visionlab.pipelines.segmentation import SamEmbedding

    t0 = time.perf_counter()
    predictor = _sam_predictor(model)
    predictor.set_image(picture)
    return SamEmbedding(model, predictor.features.float().cpu().numpy(), tuple(predictor.original_size),
                        tuple(predictor.input_size), (time.perf_counter() - t0) * 1e3)


def _with_embedding(embedding):
    """A SamPredictor of the embedding's model with the embedding set (no encoder run)."""
    import torch

    predictor = _sam_predictor(embedding.model)
    predictor.features = torch.as_tensor(embedding.features, device=predictor.device)
    predictor.original_size, predictor.input_size = embedding.original_size, embedding.input_size
    predictor.is_image_set = True
    return predictor


def predict(embedding, points: np.ndarray, labels: np.ndarray, box: np.ndarray | None,
            multimask: bool) -> tuple[np.ndarray, np.ndarray]:
    """SamPredictor.predict: masks (K, H, W) bool and predicted IoU (K,), in the model's order."""
    masks, scores, _ = _with_embedding(embedding).predict(
        point_coords=points if len(points) else None, point_labels=labels if len(points) else None,
        box=box, multimask_output=multimask)
    return masks, scores


def predict_boxes(embedding, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One mask per box (N, 4) XYXY picture pixels: masks (N, H, W) bool, predicted IoU (N,)."""
    import torch

    predictor = _with_embedding(embedding)
    stacked = torch.as_tensor(boxes, dtype=torch.float32, device=predictor.device)          # [N, 4]
    with torch.inference_mode():
        masks, scores, _ = predictor.predict_torch(
            None, None, boxes=predictor.transform.apply_boxes_torch(stacked, embedding.original_size),
            multimask_output=False)                                                          # [N, 1, H, W], [N, 1]
    return masks[:, 0].cpu().numpy(), scores[:, 0].float().cpu().numpy()


def grid_logits(embedding, points: np.ndarray):
    """Each point (B, 2) as its own one-point prompt: mask logits (3B, H, W) at the picture's size,
    predicted IoU (3B,), and the logit threshold of a mask (torch tensors, as SamPredictor.predict_torch)."""
    import torch

    predictor = _with_embedding(embedding)
    coords = torch.as_tensor(predictor.transform.apply_coords(points, embedding.original_size),
                             device=predictor.device)                                         # [B, 2]
    labels = torch.ones(len(coords), dtype=torch.int, device=predictor.device)
    with torch.inference_mode():
        logits, iou, _ = predictor.predict_torch(coords[:, None, :], labels[:, None], multimask_output=True,
                                                 return_logits=True)                      # [B, 3, H, W], [B, 3]
    return logits.flatten(0, 1), iou.flatten(0, 1), predictor.model.mask_threshold
