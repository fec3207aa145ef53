"""Train a ShapesWorld model from a TOML config: ``python -m visionlab.toy.train CONFIG``.

The loop is generic (seeding, AdamW, linear learning-rate scaling with the batch size,
warm-up then cosine decay, a progress bar, validation, a checkpoint in the model family's
standard format); what is task-specific (data, loss, saving) lives in a `Task` looked up by
the config's ``task`` key. Tasks for the other tabs plug in the same way.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm


class Task(Protocol):
    """What the generic loop needs from one kind of model."""

    def build(self) -> torch.nn.Module: ...
    def train_arrays(self) -> tuple[torch.Tensor, ...]: ...
    def loss(self, model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor: ...
    def validate(self, model: torch.nn.Module) -> dict[str, float]: ...
    def save(self, model: torch.nn.Module, out_dir: Path) -> None: ...


@dataclass(frozen=True)
class OptimConfig:
    base_lr: float
    base_batch_size: int
    batch_size: int
    epochs: int
    warmup_epochs: float = 1.0
    weight_decay: float = 0.05
    label_smoothing: float = 0.0

    @property
    def lr(self) -> float:
        """Linear scaling rule (Goyal et al.): the learning rate grows with the batch."""
        return self.base_lr * self.batch_size / self.base_batch_size


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to `peak`, then cosine decay to 0."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def load_config(path: str | Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


# config `task` -> "module:Class" implementing `Task`; imported only when used.
TASKS: dict[str, str] = {
    "classification": "visionlab.toy.tasks:ClassificationTask",
    "detection": "visionlab.toy.detection_task:DetectionTask",
    "clip": "visionlab.toy.clip_task:ClipTask",  # zero-shot CLIP tab
    "mae": "visionlab.toy.masked_tasks:MAETask", "simmim": "visionlab.toy.masked_tasks:SimMIMTask",  # masked tab
    "blip": "visionlab.toy.blip_task:BlipTask",  # ask-the-picture tab (captions, VQA, matching)
}


def make_task(cfg: dict[str, Any]) -> Task:
    kind = cfg.get("task", "classification")
    if kind not in TASKS:
        raise ValueError(f"unknown task {kind!r} in config; known: {sorted(TASKS)}")
    module, name = TASKS[kind].split(":")
    return getattr(importlib.import_module(module), name)(cfg)


def train(cfg: dict[str, Any], out_dir: Path | None = None, quiet: bool = False) -> dict[str, Any]:
    """Train the model a config describes, save it, and return a summary dict."""
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed)
    started = time.time()  # total_seconds: with the task's own data making and any stage it runs first
    task = make_task(cfg)
    opt_cfg = OptimConfig(**cfg["optim"])
    model = task.build()
    arrays = task.train_arrays()
    n = len(arrays[0])
    steps_per_epoch = n // opt_cfg.batch_size
    total = steps_per_epoch * opt_cfg.epochs
    warmup = int(opt_cfg.warmup_epochs * steps_per_epoch)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(("pos_embed", "cls_token")) else decay).append(p)
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt_cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=opt_cfg.lr,
    )
    gen = torch.Generator().manual_seed(seed)
    step, t0 = 0, time.time()
    bar = tqdm(total=total, desc=cfg.get("name", "train"), disable=quiet, unit="step")
    for epoch in range(opt_cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for i in range(steps_per_epoch):
            idx = order[i * opt_cfg.batch_size:(i + 1) * opt_cfg.batch_size]
            for group in optim.param_groups:
                group["lr"] = lr_at(step, total, warmup, opt_cfg.lr)
            loss = task.loss(model, tuple(a[idx] for a in arrays))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            step += 1
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.3f}")
            bar.update()
        model.eval()
        metrics = task.validate(model)
        bar.write(f"epoch {epoch}: " + json.dumps(metrics))
    bar.close()
    out = Path(out_dir or cfg["out_dir"])
    task.save(model, out)
    summary = {"name": cfg.get("name"), "out_dir": str(out), "lr": opt_cfg.lr, "steps": total,
               "train_seconds": round(time.time() - t0, 1),
               "total_seconds": round(time.time() - started, 1), **task.validate(model)}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="TOML file under configs/")
    parser.add_argument("--out", help="output folder (default: the config's out_dir)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = train(load_config(args.config), Path(args.out) if args.out else None)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
