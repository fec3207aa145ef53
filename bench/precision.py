"""Half precision, `torch.inference_mode` and text batching, checked at real size on this CPU.

    python -m bench.precision [--repeats 3] [--threads 2]

Random weights of the real architectures (transformers' default configs are the base
checkpoints: CLIPConfig() is CLIP ViT-B/32, OwlViTConfig() is OWL-ViT B/32). Each row is
compared with the first row of its model:

- OWL-ViT B/32 at 768 px, 4 queries; CLIP B/32 image encoder: a forward with autograd on (what
  forgetting the context costs), under `no_grad`, under `inference_mode` (what the pipelines
  use), and in bfloat16 under `inference_mode` (CPU half precision; float16 on a CPU is slower
  still). "max diff" is the largest difference from the float32 answer (logits / features), as a share
  of the float32 answer's largest value.
- CLIP B/32 text encoder, 32 labels: one label per forward against all 32 in one batch (what
  the zero-shot pipeline does, in batches of TEXT_BATCH).

Times are measured round-robin in one process (median of --repeats); the memory a call adds
over the loaded model is measured in a fresh process per case.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = 32           # the text-batching case encodes this many labels
QUERIES = 4           # the detector's text queries
TOKENS = 8            # tokens per label / query (synthetic ids)

CASES = [("owlvit-b32", m) for m in ("inference_mode", "grad", "no_grad", "bf16")] + \
        [("clip-b32-image", m) for m in ("inference_mode", "grad", "no_grad", "bf16")] + \
        [("clip-b32-text", m) for m in ("batched", "one_by_one")]


def build(model: str):
    """(module, inputs dict) with random weights and a fixed seed, so every case sees the same."""
    import torch
    from transformers import CLIPConfig, CLIPModel, OwlViTConfig, OwlViTForObjectDetection

    torch.manual_seed(0)
    if model == "owlvit-b32":
        net = OwlViTForObjectDetection(OwlViTConfig()).eval()
        return net, {"pixel_values": torch.randn(1, 3, 768, 768),                               # [1, 3, 768, 768]
                     "input_ids": torch.randint(1, 1000, (QUERIES, TOKENS)),                    # [Q, T]
                     "attention_mask": torch.ones(QUERIES, TOKENS, dtype=torch.long)}
    net = CLIPModel(CLIPConfig()).eval()
    if model == "clip-b32-image":
        return net, {"pixel_values": torch.randn(1, 3, 224, 224)}
    return net, {"input_ids": torch.randint(1, 1000, (LABELS, TOKENS)),                         # [M, T]
                 "attention_mask": torch.ones(LABELS, TOKENS, dtype=torch.long)}


def forward(net, model: str, inputs: dict):
    """The tensor a pipeline reads: detector logits (1, patches, Q), image or text features (N, D)."""
    if model == "owlvit-b32":
        return net(**inputs).logits
    if model == "clip-b32-image":
        return net.get_image_features(**inputs).pooler_output     # projected [CLS] features, as the pipeline
    if model == "clip-b32-text":
        return net.get_text_features(**inputs).pooler_output
    raise ValueError(model)


def call(net, model: str, mode: str, inputs: dict):
    """One call of `model` in `mode` (see the module doc); returns the answer as float32."""
    import contextlib

    import torch

    context = {"grad": contextlib.nullcontext, "no_grad": torch.no_grad}.get(mode, torch.inference_mode)
    with context():
        if mode == "one_by_one":
            out = torch.cat([forward(net, model, {k: v[i:i + 1] for k, v in inputs.items()}) for i in range(LABELS)])
        else:
            out = forward(net, model, inputs)
    return out.detach().float()


def prepared(model: str, mode: str):
    """(module, inputs) for the mode: a bfloat16 copy of the weights and inputs for "bf16"."""
    import torch

    net, inputs = build(model)
    if mode == "bf16":
        net = net.to(torch.bfloat16)
        inputs = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in inputs.items()}
    return net, inputs


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: resident now, VmHWM: peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_child(model: str, mode: str, threads: int) -> dict:
    """In a fresh process: MB the call adds on top of the loaded model (the peak during the call,
    the peak counter reset just before it, minus what was resident then)."""
    import torch

    torch.set_num_threads(threads)
    net, inputs = prepared(model, mode)
    Path("/proc/self/clear_refs").write_text("5")     # Linux: reset VmHWM to the current VmRSS
    before = status_mb("VmRSS")
    call(net, model, mode, inputs)
    return {"extra_mb": status_mb("VmHWM") - before}


def timed(model: str, modes: list[str], repeats: int, threads: int) -> list[dict]:
    """Seconds per call for each mode, measured round-robin in one process (mode A, B, C, A, B, C,
    ...: a busy machine slows them alike), median of `repeats`; and each answer's largest
    difference from the first mode's, as a share of that answer's largest value."""
    import statistics

    import torch

    torch.set_num_threads(threads)
    nets = {mode: prepared(model, mode) for mode in modes}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    answers = {}
    for _ in range(repeats + 1):                   # the first round warms up and is not counted
        for mode in modes:
            net, inputs = nets[mode]
            t0 = time.perf_counter()
            answers[mode] = call(net, model, mode, inputs)
            times[mode].append(time.perf_counter() - t0)
    ref = answers[modes[0]]
    return [{"model": model, "mode": mode, "seconds": statistics.median(times[mode][1:]),
             "max_diff": float((answers[mode] - ref).abs().max() / ref.abs().max())} for mode in modes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(peak_child(*args.child, args.threads)))
        return
    rows = []
    for model in dict.fromkeys(m for m, _ in CASES):
        modes = [mode for m, mode in CASES if m == model]
        for row in timed(model, modes, args.repeats, args.threads):
            done = subprocess.run([sys.executable, "-m", "bench.precision", "--threads", str(args.threads),
                                   "--child", model, row["mode"]], cwd=ROOT, capture_output=True, text=True,
                                  check=True)
            row.update(json.loads(done.stdout.strip().splitlines()[-1]))
            row["time_ratio"] = row["seconds"] / next(r["seconds"] for r in [*rows, row] if r["model"] == model)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print("\n| model | mode | s per call (median) | x first row | MB the call adds | max diff / max of first row |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['mode']} | {r['seconds']:.3f} | {r['time_ratio']:.2f} | {r['extra_mb']:.0f} | "
              f"{r['max_diff']:.3g} |")


if __name__ == "__main__":
    main()
