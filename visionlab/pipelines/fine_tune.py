"""Fine-tuning: teach a pretrained backbone new classes, one epoch at a time.

    from visionlab.pipelines.fine_tune import fine_tune, shapes_examples
    run = fine_tune(shapes_examples("colour", per_class=10), "shapes-resnet-tiny", mode="linear-probe")
    run.history[-1].val_accuracy, run.lr_formula.en
    run.classify(picture).label

Four modes, from the most frozen to the least (see `MODES`):
- "linear-probe": the backbone is frozen; only a new linear head learns, on its pooled features.
- "last-stage": the backbone's last stage (ResNet layer4, the ViT's last block) and the head learn.
- "full": every layer learns; the pretrained ones with a 10x smaller learning rate than the head.
- "scratch": the same network with random weights, every layer at the head's learning rate.

The learning rate follows the linear scaling rule: lr = base_lr x batch_size / base_batch_size
(k times the batch, k times the learning rate). The optimizer is SGD with momentum 0.9, at a
constant learning rate, as in the seed notes' configs; no augmentation (a flip would swap left
and right). A validation split (30% of each class, at least one picture) is held out.

The device boundary is `train_epoch`: plain values in (pictures as uint8 arrays, labels,
settings, the run's weights so far as CPU tensors), plain values out (the new weights, one row
of history, the validation confusion matrix). A run is a loop of such calls, so a page can draw
its curve after every epoch and stop between two of them; `fine_tune` is that loop.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from visionlab.errors import VisionLabError
from visionlab.models.gpu import gpu_task
from visionlab.ops.images import ImageLike, load_image
from visionlab.text import Text

MODES = ("linear-probe", "last-stage", "full", "scratch")
BACKBONES = ("shapes-resnet-tiny", "shapes-vit-tiny", "resnet50", "vit-base-16", "dino-vit-s16")
DEFAULT_BACKBONE = "shapes-resnet-tiny"
BACKBONE_LR_FACTOR = 0.1  # pretrained layers learn 10x slower than the new head
MOMENTUM, WEIGHT_DECAY = 0.9, 1e-4
VAL_FRACTION = 0.3

# Budgets, checked before any work.
MAX_CLASSES, MAX_PER_CLASS, MAX_PICTURES = 10, 100, 400
MAX_EPOCHS, MAX_BATCH = 100, 256
DEFAULT_TIME_BUDGET_S, MAX_TIME_BUDGET_S = 60.0, 120.0


class FineTuneError(VisionLabError, ValueError):
    """Examples or settings a run cannot use (too few classes or pictures, over a budget)."""


@dataclass(frozen=True)
class Settings:
    """One run's settings. lr: the learning rate used (see `lr_formula`)."""

    backbone: str = DEFAULT_BACKBONE
    mode: str = "linear-probe"
    epochs: int = 20
    batch_size: int = 16
    base_lr: float = 0.02
    base_batch_size: int = 16
    scale_lr: bool = True
    seed: int = 0
    time_budget_s: float = DEFAULT_TIME_BUDGET_S

    @property
    def lr(self) -> float:
        """The linear scaling rule: lr = base_lr x batch_size / base_batch_size (when scale_lr)."""
        return self.base_lr * self.batch_size / self.base_batch_size if self.scale_lr else self.base_lr

    @property
    def lr_formula(self) -> Text:
        if not self.scale_lr:
            return Text(f"lr = base_lr = {self.lr:g} (scaling rule off: the batch size does not change it)",
                        f"lr = base_lr = {self.lr:g}（缩放规则关闭：批大小不改变学习率）")
        f = f"lr = base_lr x batch_size / base_batch_size = {self.base_lr:g} x {self.batch_size} / " \
            f"{self.base_batch_size} = {self.lr:g}"
        return Text(f, f)


@dataclass(frozen=True)
class Dataset:
    """Pictures ready for one backbone, split once.

    pictures: (N, S, S, 3) uint8 RGB at the backbone's input size S. labels: (N,) int64 indices
    into `names`. train, val: indices into pictures (each class in both)."""

    pictures: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    train: np.ndarray
    val: np.ndarray

    @property
    def split(self) -> Text:
        return Text(f"{len(self.train)} pictures to train on, {len(self.val)} held out for validation "
                    f"({VAL_FRACTION:.0%} of each class)",
                    f"{len(self.train)} 张用来训练，{len(self.val)} 张留作验证（每类的 {VAL_FRACTION:.0%}）")


@dataclass(frozen=True)
class Epoch:
    """One row of history: the epoch's mean training loss and accuracy (on the batches as they
    were trained), validation loss and accuracy (after the epoch), the lr used, and seconds."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class RunState:
    """What one epoch hands to the next: the trainable weights and buffers (CPU tensors; the
    head alone for a linear probe), SGD's momentum buffers, the steps taken, the model that answered."""

    weights: dict
    momentum: dict
    steps: int
    answered_by: str
    notice: Text | None = None
    device: str = "cpu"
    features: Any = None  # linear probe: the frozen backbone's features of every picture, [N, D] (read once)


@dataclass(frozen=True)
class EpochResult:
    state: RunState
    epoch: Epoch
    confusion: np.ndarray  # (C, C) int64: rows true class, columns predicted, on the validation split


def check(n_classes: int, counts: Sequence[int], settings: Settings) -> None:
    """Refuse, with a sentence, what a run cannot use; before any work."""
    if n_classes < 2:
        raise FineTuneError(Text("A classifier needs at least 2 classes: add a second class.",
                                 "分类器至少需要 2 个类别：请再加一个类别。"))
    if n_classes > MAX_CLASSES:
        raise FineTuneError(Text(f"At most {MAX_CLASSES} classes per run (got {n_classes}).",
                                 f"每次最多 {MAX_CLASSES} 个类别（现在有 {n_classes} 个）。"))
    if min(counts) < 2:
        raise FineTuneError(Text("Each class needs at least 2 pictures: one to learn from and one to check on.",
                                 "每个类别至少需要 2 张图片：一张用来学习，一张用来检验。"))
    if max(counts) > MAX_PER_CLASS or sum(counts) > MAX_PICTURES:
        raise FineTuneError(Text(f"At most {MAX_PER_CLASS} pictures per class and {MAX_PICTURES} in all.",
                                 f"每类最多 {MAX_PER_CLASS} 张图片，总共最多 {MAX_PICTURES} 张。"))
    if settings.mode not in MODES:
        raise FineTuneError(Text(f"Unknown mode '{settings.mode}'; pick one of {', '.join(MODES)}.",
                                 f"没有“{settings.mode}”这种模式；请从 {', '.join(MODES)} 中选择。"))
    if not 1 <= settings.epochs <= MAX_EPOCHS or not 1 <= settings.batch_size <= MAX_BATCH:
        raise FineTuneError(Text(f"Epochs must be 1 to {MAX_EPOCHS} and the batch size 1 to {MAX_BATCH}.",
                                 f"轮数必须在 1 到 {MAX_EPOCHS} 之间，批大小在 1 到 {MAX_BATCH} 之间。"))
    if not (0 < settings.base_lr <= 100 and 1 <= settings.base_batch_size <= 4096):
        raise FineTuneError(Text("The base learning rate must be above 0 (and at most 100).",
                                 "基础学习率必须大于 0（且不超过 100）。"))
    if not 0 < settings.time_budget_s <= MAX_TIME_BUDGET_S:
        raise FineTuneError(Text(f"The time budget must be above 0 and at most {MAX_TIME_BUDGET_S:.0f} s.",
                                 f"时间预算必须大于 0 且不超过 {MAX_TIME_BUDGET_S:.0f} 秒。"))


def input_size(backbone: str) -> int:
    """The side in pixels of the pictures the model that would answer for `backbone` takes."""
    from visionlab.models.loader import answering_key
    from visionlab.models.registry import get_spec

    return get_spec(answering_key(backbone)).input_size


def prepare(examples: Sequence[tuple[ImageLike, str]], settings: Settings) -> Dataset:
    """Check the examples (any picture mode and size) and settings, resize every picture to the
    backbone's input size, and hold out a validation split (seeded, stratified)."""
    names = tuple(dict.fromkeys(str(label).strip() for _, label in examples))
    by_name = {n: i for i, n in enumerate(names)}
    labels = np.array([by_name[str(label).strip()] for _, label in examples], np.int64)
    check(len(names), np.bincount(labels, minlength=len(names)).tolist() if len(labels) else [0], settings)
    size = input_size(settings.backbone)
    pictures = np.stack([fit(p, size) for p, _ in examples])  # [N, S, S, 3]
    rng = np.random.default_rng(settings.seed)
    train, val = [], []
    for c in range(len(names)):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(len(idx) * VAL_FRACTION)))
        val += idx[:k].tolist()
        train += idx[k:].tolist()
    return Dataset(pictures, labels, names, np.array(sorted(train)), np.array(sorted(val)))


def fit(picture: ImageLike, size: int) -> np.ndarray:
    """Any picture -> (size, size, 3) uint8 RGB, squeezed to a square (the whole picture is kept)."""
    import cv2

    arr = np.asarray(load_image(picture))
    if arr.shape[:2] == (size, size):
        return arr
    shrink = max(arr.shape[:2]) > size
    return cv2.resize(arr, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def shapes_examples(task: str, per_class: int = 10, seed: int = 0) -> list[tuple[np.ndarray, str]]:
    """(picture, label) pairs of a ShapesWorld task (see `visionlab.toy.fine_tune_tasks.TASKS`)."""
    from visionlab.toy.fine_tune_tasks import TASKS, task_pictures

    if task not in TASKS:
        raise FineTuneError(Text(f"Unknown task '{task}'; pick one of {', '.join(TASKS)}.",
                                 f"没有“{task}”这个任务；请从 {', '.join(TASKS)} 中选择。"))
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise FineTuneError(Text(f"Pictures per class must be 1 to {MAX_PER_CLASS}.",
                                 f"每类图片数必须在 1 到 {MAX_PER_CLASS} 之间。"))
    pictures, labels, names = task_pictures(task, per_class, seed)
    return [(p, names[y]) for p, y in zip(pictures, labels)]


# ---- inside the boundary -------------------------------------------------------------------

def _net(backbone_model, n_classes: int, mode: str, seed: int):
    """The network one epoch trains: (backbone, new head).

    A linear probe keeps the shared cached backbone untouched (it only reads its features); the
    other modes train a private copy. The head: BatchNorm without learnable scale (features on
    one scale, as in MAE's linear probe) then a linear layer."""
    import torch

    torch.manual_seed(seed)
    dim = backbone_model.num_features
    head = torch.nn.Sequential(torch.nn.BatchNorm1d(dim, affine=False), torch.nn.Linear(dim, n_classes))
    if mode == "linear-probe":
        return backbone_model, head
    body = copy.deepcopy(backbone_model)
    if mode == "scratch":
        for m in body.modules():
            if hasattr(m, "reset_parameters") and m is not body:
                m.reset_parameters()
        for name, p in body.named_parameters():
            if name.endswith(("pos_embed", "cls_token", "reg_token")):
                torch.nn.init.trunc_normal_(p, std=0.02)
    return body, head


def _trainable(body, mode: str) -> list[tuple[str, Any]]:
    """(name, parameter) of the backbone's layers that learn in `mode` (the old classifier never)."""
    classifier = {id(p) for p in body.get_classifier().parameters()} if hasattr(body, "get_classifier") else set()
    named = [(n, p) for n, p in body.named_parameters() if id(p) not in classifier]
    if mode == "last-stage":
        last = body.feature_info[-1]["module"]  # "layer4" (ResNet), "blocks.11" (ViT)
        first = next(i for i, (n, _) in enumerate(named) if n.startswith(last + "."))
        return named[first:]  # the last stage and what follows it (a ViT's final norm)
    return named if mode in ("full", "scratch") else []


def _features(body, x, grad: bool):
    import torch

    with torch.set_grad_enabled(grad):
        return body.forward_head(body.forward_features(x), pre_logits=True)  # [B, D]


def _to_input(pictures: np.ndarray, mean, std):
    import torch

    x = torch.tensor(pictures).permute(0, 3, 1, 2).float() / 255.0  # [B, 3, S, S]
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _batches(order, batch: int) -> list:
    """`order` cut into batches of `batch`; a last batch of one picture joins the one before
    (BatchNorm cannot learn from a single picture)."""
    cuts = [order[i:i + batch] for i in range(0, len(order), batch)]
    if len(cuts) > 1 and len(cuts[-1]) < 2:
        import torch

        cuts[-2:] = [torch.cat(cuts[-2:])]
    return cuts


def _epoch_duration(pictures, labels, train, val, settings, state=None, epoch=0) -> float:
    """What ZeroGPU reserves for one epoch: a little per picture, never more than the run's budget."""
    per_picture = 0.01 if settings.mode == "linear-probe" else 0.05
    return float(min(settings.time_budget_s, 5 + per_picture * len(pictures)))


@gpu_task(duration=_epoch_duration)
def train_epoch(pictures: np.ndarray, labels: np.ndarray, train: np.ndarray, val: np.ndarray,
                settings: Settings, state: RunState | None = None, epoch: int = 0) -> EpochResult:
    """Train one epoch (epoch number `epoch`, from 0) from `state` (None: a fresh head, and for
    "scratch" fresh random weights) and measure the validation split.

    pictures: (N, S, S, 3) uint8 at the backbone's input size; labels: (N,) int64; train, val:
    index arrays. The shuffling is seeded by (seed, epoch), so a run gives the same curves
    however its epochs are split into calls."""
    import torch
    import torch.nn.functional as F

    from visionlab.models import load_model

    t0 = time.perf_counter()
    loaded = load_model(settings.backbone)
    model = loaded.model
    device = next(model.parameters()).device
    cfg = model.pretrained_cfg
    n_classes = int(labels.max()) + 1
    body, head = _net(model, n_classes, settings.mode, settings.seed)
    trainable = _trainable(body, settings.mode)
    head = head.to(device)
    if body is not model:
        body = body.to(device=device, dtype=torch.float32)
    if state is not None:
        head.load_state_dict({k[5:]: v for k, v in state.weights.items() if k.startswith("head.")})
        if body is not model:
            body.load_state_dict({k[5:]: v for k, v in state.weights.items() if k.startswith("body.")}, strict=False)
    lr = settings.lr
    groups = [{"params": list(head.parameters()), "lr": lr}]
    if trainable:
        factor = 1.0 if settings.mode == "scratch" else BACKBONE_LR_FACTOR
        groups.append({"params": [p for _, p in trainable], "lr": lr * factor})
    names = [f"head.{n}" for n, _ in head.named_parameters()] + [f"body.{n}" for n, _ in trainable]
    params = [p for g in groups for p in g["params"]]
    optim = torch.optim.SGD(groups, lr=lr, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    if state is not None:
        for name, p in zip(names, params):
            if name in state.momentum:
                optim.state[p]["momentum_buffer"] = state.momentum[name].to(device).clone()
    trainable_ids = {id(p) for _, p in trainable}
    if body is not model:
        for p in body.parameters():
            p.requires_grad_(id(p) in trainable_ids)

    x_all = _to_input(pictures, cfg["mean"], cfg["std"])
    y_all = torch.from_numpy(labels)
    frozen = settings.mode == "linear-probe"
    if frozen and state is not None and state.features is not None:
        feats = state.features.to(device)
    elif frozen:  # the backbone never changes: read its features once per run
        with torch.inference_mode():
            feats = torch.cat([_features(model, x_all[i:i + 64].to(device, next(model.parameters()).dtype), False)
                               .float() for i in range(0, len(x_all), 64)]).clone()

    def logits(idx, training: bool):
        if frozen:
            return head(feats[idx])
        return head(_features(body, x_all[idx].to(device), training))

    gen = torch.Generator().manual_seed(settings.seed * 100_003 + epoch)
    torch.manual_seed(settings.seed * 100_003 + epoch)
    order = torch.from_numpy(train)[torch.randperm(len(train), generator=gen)]
    batch = min(settings.batch_size, len(train))
    head.train()
    if body is not model:
        body.train(settings.mode in ("full", "scratch"))
        if settings.mode == "last-stage":
            body.eval()
            for n, m in body.named_modules():
                if n.startswith(body.feature_info[-1]["module"]):
                    m.train()
    losses, correct, steps = [], 0, state.steps if state else 0
    for idx in _batches(order, batch):
        out = logits(idx, True)
        loss = F.cross_entropy(out.float(), y_all[idx].to(device))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        steps += 1
        losses.append(float(loss.detach()) * len(idx))
        correct += int((out.argmax(1).cpu() == y_all[idx]).sum())
    seen = len(order)
    head.eval()
    if body is not model:
        body.eval()
    with torch.inference_mode():
        vidx = torch.from_numpy(val)
        vout = logits(vidx, False).float().cpu()
        val_loss = float(F.cross_entropy(vout, y_all[vidx]))
        pred = vout.argmax(1).numpy()
    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (labels[val], pred), 1)
    weights = {f"head.{k}": v.detach().cpu().clone() for k, v in head.state_dict().items()}
    if body is not model:
        weights.update({f"body.{k}": v.detach().cpu().clone() for k, v in body.state_dict().items()})
    momentum = {n: optim.state[p]["momentum_buffer"].detach().cpu().clone()
                for n, p in zip(names, params) if "momentum_buffer" in optim.state[p]}
    train_loss = sum(losses) / max(1, seen)
    row = Epoch(epoch + 1, train_loss if math.isfinite(train_loss) else float("inf"), correct / max(1, seen),
                val_loss if math.isfinite(val_loss) else float("inf"), float((pred == labels[val]).mean()), lr,
                time.perf_counter() - t0)
    kept = feats.detach().cpu() if frozen else None
    return EpochResult(RunState(weights, momentum, steps, loaded.spec.key, loaded.notice, str(device), kept), row,
                       confusion)


@dataclass(frozen=True)
class Prediction:
    """The trained model's answer for one picture: the top label and every class's probability."""

    label: str
    probabilities: dict


@gpu_task(duration=10)
def predict(pictures: np.ndarray, settings: Settings, state: RunState, n_classes: int) -> np.ndarray:
    """Class probabilities (N, C) float32 of a trained run for (N, S, S, 3) uint8 pictures."""
    import torch

    from visionlab.models import load_model

    model = load_model(settings.backbone).model
    device = next(model.parameters()).device
    body, head = _net(model, n_classes, settings.mode, settings.seed)
    head.load_state_dict({k[5:]: v for k, v in state.weights.items() if k.startswith("head.")})
    head = head.to(device).eval()
    if body is not model:
        body.load_state_dict({k[5:]: v for k, v in state.weights.items() if k.startswith("body.")}, strict=False)
        body = body.to(device=device, dtype=torch.float32).eval()
    x = _to_input(pictures, model.pretrained_cfg["mean"], model.pretrained_cfg["std"]).to(device)
    if body is model:
        x = x.to(next(model.parameters()).dtype)
    with torch.inference_mode():
        return head(_features(body, x, False).float()).softmax(-1).cpu().numpy()


def diverged(history: Sequence[Epoch], n_classes: int) -> bool:
    """True when training blew up instead of learning: a loss that is not a number, a later
    epoch's training loss half as large again as the first epoch's, or a last loss still above
    a uniform guess's (ln C, what an untrained head scores)."""
    if not history:
        return False
    losses = [h.train_loss for h in history]
    if not all(math.isfinite(v) for v in losses):
        return True
    return len(losses) >= 2 and (max(losses[1:]) > 1.5 * losses[0] or losses[-1] > math.log(n_classes))


@dataclass(frozen=True)
class FineTuneResult:
    """A finished (or stopped) run: its settings, data, history (one `Epoch` per epoch), the
    validation confusion matrix after the last epoch, and the trained weights."""

    settings: Settings
    data: Dataset = field(repr=False)
    history: tuple[Epoch, ...]
    confusion: np.ndarray
    state: RunState = field(repr=False)
    stopped_by: str  # "epochs", "time budget", "diverged" or "stop"

    @property
    def names(self) -> tuple[str, ...]:
        return self.data.names

    @property
    def lr_formula(self) -> Text:
        return self.settings.lr_formula

    @property
    def diverged(self) -> bool:
        return diverged(self.history, len(self.names))

    def classify(self, picture: ImageLike) -> Prediction:
        """The top label and probabilities of any picture (any mode and size)."""
        arr = fit(picture, self.data.pictures.shape[1])
        probs = predict(arr[None], self.settings, self.state, len(self.names))[0]
        return Prediction(self.names[int(probs.argmax())], {n: float(p) for n, p in zip(self.names, probs)})


def run_epochs(data: Dataset, settings: Settings, should_stop: Callable[[], bool] = lambda: False):
    """Yield an `EpochResult` per epoch until the epochs, the time budget or a blow-up end the run,
    or `should_stop()` says so (checked between epochs); `stop_reason` then says which."""
    state, t0 = None, time.perf_counter()
    for epoch in range(settings.epochs):
        result = train_epoch(data.pictures, data.labels, data.train, data.val, settings, state, epoch)
        state = result.state
        yield result
        if should_stop() or time.perf_counter() - t0 > settings.time_budget_s or \
                not math.isfinite(result.epoch.train_loss):
            return


def stop_reason(history: Sequence[Epoch], settings: Settings, stopped: bool) -> str:
    """Why a run ended: "diverged", "epochs", "stop" (asked to) or "time budget"."""
    if history and not math.isfinite(history[-1].train_loss):
        return "diverged"
    if len(history) >= settings.epochs:
        return "epochs"
    return "stop" if stopped else "time budget"


def fine_tune(examples: Sequence[tuple[ImageLike, str]], backbone: str = DEFAULT_BACKBONE,
              mode: str = "linear-probe", epochs: int = 20, batch_size: int = 16, base_lr: float = 0.02,
              base_batch_size: int = 16, seed: int = 0, time_budget_s: float = DEFAULT_TIME_BUDGET_S,
              scale_lr: bool = True) -> FineTuneResult:
    """Fine-tune `backbone` on `examples`, a list of (picture, label name) pairs with at least 2
    classes of at least 2 pictures each. See the module docstring for the modes."""
    settings = Settings(backbone, mode, int(epochs), int(batch_size), float(base_lr), int(base_batch_size),
                        bool(scale_lr), int(seed), float(time_budget_s))
    data = prepare(examples, settings)
    results = list(run_epochs(data, settings))
    history = tuple(r.epoch for r in results)
    return FineTuneResult(settings, data, history, results[-1].confusion, results[-1].state,
                          stop_reason(history, settings, False))

FREEZES = {"linear-probe": "every backbone layer (only the new head learns)",
           "last-stage": "every backbone layer but the last stage",
           "full": "nothing (pretrained layers learn 10x slower than the head)",
           "scratch": "nothing (random weights, every layer at the head's lr)"}


def config_text(settings: Settings, data: Dataset, source: str, answered_by: str, device: str = "cpu",
                run_id: str = "") -> str:
    """The run as a readable config file (TOML), in the four parts of the seed notes' configs:
    model, data, optimizer and schedule, runtime. Class names are quoted as TOML strings."""
    import json

    def q(s: str) -> str:
        return json.dumps(str(s), ensure_ascii=False)  # a valid TOML basic string

    per_class = np.bincount(data.labels, minlength=len(data.names)).tolist()
    backbone_lr = settings.lr * (1.0 if settings.mode == "scratch" else BACKBONE_LR_FACTOR)
    lines = [
        f"# VisionLab fine-tuning run {run_id}".rstrip(),
        "# Same data, settings and seed give the same curves (on the CPU).",
        "", "[model]",
        f"backbone = {q(settings.backbone)}",
        f"answered_by = {q(answered_by)}",
        f"mode = {q(settings.mode)}",
        f"frozen = {q(FREEZES[settings.mode])}",
        f"head = {q(f'BatchNorm1d (no affine) + Linear -> {len(data.names)} classes')}",
        "", "[data]",
        f"source = {q(source)}",
        f"classes = [{', '.join(q(n) for n in data.names)}]",
        f"pictures_per_class = {per_class}",
        f"train_pictures = {len(data.train)}",
        f"val_pictures = {len(data.val)}  # {VAL_FRACTION:.0%} of each class, held out",
        f"input_size = {data.pictures.shape[1]}",
        'augmentation = "none"  # a flip would swap left and right',
        "", "[optimizer]",
        'type = "SGD"',
        f"momentum = {MOMENTUM}",
        f"weight_decay = {WEIGHT_DECAY:g}",
        f"base_lr = {settings.base_lr:g}",
        f"base_batch_size = {settings.base_batch_size}",
        f"batch_size = {settings.batch_size}",
        f"scale_lr = {str(settings.scale_lr).lower()}",
        f"lr = {settings.lr:g}  # " + (f"= base_lr x batch_size / base_batch_size" if settings.scale_lr
                                      else "= base_lr (scaling rule off)"),
    ]
    if settings.mode != "linear-probe":
        lines.append(f"backbone_lr = {backbone_lr:g}")
    lines += ["", "[schedule]", f"epochs = {settings.epochs}", 'lr_schedule = "constant"',
              "", "[runtime]", f"seed = {settings.seed}", f"device = {q(device)}",
              f"time_budget_s = {settings.time_budget_s:g}", ""]
    return "\n".join(lines)
