"""Training and inference of the end-to-end pain CNN (paper, Sec. V-A, Table III).

The network is :func:`auepa_monitor.nets.pain_cnn.build_pain_cnn` (4 pain-level outputs) fed
the cached aligned crops through :func:`pain_cnn.preprocess`'s normalisation. Paper
hyperparameters (the defaults of :class:`CnnParams`): Adam, lr 1e-3, weight decay 5e-4,
batch 8, 25 epochs, all layers trained.

Training practice around them (each switchable, stated in the report):

- **best epoch**: with validation samples (subjects held out of the training fold, see
  ``training.run``), the weights of the epoch with the lowest validation loss are kept (``select``:
  ``loss``, or ``ua``/``wa`` for the highest validation accuracy, ties broken by the loss);
  without them the last epoch's weights are kept;
- **augmentation** (``augment``): horizontal flip (p 0.5), rotation up to +-10 degrees and scale
  0.9-1.1 about the crop centre, colour jitter (brightness, contrast, saturation +-20 %), drawn per
  image on the training batches only;
- **learning-rate schedule** (``schedule``): ``cosine`` (cosine annealing from lr to 1 % of it over the
  epochs, stepped per epoch), ``step`` (x 0.1 after every third of the epochs) or ``none``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, build_pain_cnn, crops_to_tensor

from .extract import SampleSet
from .logs import BestEpoch, EpochLog


@dataclass(frozen=True)
class CnnParams:
    """Hyperparameters of the end-to-end CNN (paper defaults)."""

    epochs: int = 25
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch: int = 8
    augment: bool = True
    schedule: str = "cosine"  # cosine | step | none
    select: str = "loss"  # best epoch by validation: loss | ua | wa


@dataclass
class TrainResult:
    """What :func:`train_cnn` returns besides the model: the per-epoch history and the kept epoch."""

    best_epoch: int  # 1-based; the last epoch when there was no validation data
    history: list[dict[str, float]] = field(default_factory=list)
    selected_by: str = "last epoch"



def _is_cuda(device: str) -> bool:
    """True for "cuda" and "cuda:N" alike (bf16 autocast and channels_last apply to any CUDA device)."""
    return str(device).split(":", 1)[0] == "cuda"

def augment_batch(t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random flip, rotation (+-10 deg), scale (0.9-1.1) and colour jitter (+-20 %) of a (B, 3, H, W)
    RGB batch in [0, 1], drawn per image from ``gen`` (CPU generator)."""
    b = t.shape[0]
    r = lambda lo, hi: (torch.rand(b, generator=gen) * (hi - lo) + lo).to(t.device)  # noqa: E731
    ang = r(-10.0, 10.0) * math.pi / 180.0
    sc = r(0.9, 1.1)
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0).to(t.device)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.zeros(b, 2, 3, device=t.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin
    theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos
    grid = torch.nn.functional.affine_grid(theta, list(t.shape), align_corners=False)
    t = torch.nn.functional.grid_sample(t, grid, mode="bilinear", padding_mode="border", align_corners=False)
    bright, contrast, sat = r(0.8, 1.2).view(b, 1, 1, 1), r(0.8, 1.2).view(b, 1, 1, 1), r(0.8, 1.2).view(b, 1, 1, 1)
    t = t * bright
    mean = t.mean(dim=(1, 2, 3), keepdim=True)
    t = (t - mean) * contrast + mean
    gray = (0.299 * t[:, 0:1] + 0.587 * t[:, 1:2] + 0.114 * t[:, 2:3])
    t = (t - gray) * sat + gray
    return t.clamp_(0.0, 1.0)


def batch_tensor(samples: SampleSet, idx: Sequence[int], device: str,
                 augment: torch.Generator | None = None) -> torch.Tensor:
    """(B, 3, 224, 224) normalised RGB float tensor of the samples' BGR crops (augmented when a
    generator is given)."""
    crops = np.stack([samples.crop(int(i)) for i in idx])
    return crops_to_tensor(crops, device, channels_last=_is_cuda(device),
                           augment=None if augment is None else (lambda t: augment_batch(t, augment)))


def weights_file(weights_dir: Path | None, arch: str) -> Path | None:
    """``<weights_dir>/<arch>.pth`` when it exists (torchvision's ImageNet state dict), else None."""
    if weights_dir is None:
        return None
    for name in (f"{arch}.pth", f"{arch}.pt"):
        p = Path(weights_dir) / name
        if p.is_file():
            return p
    return None


def make_scheduler(opt: torch.optim.Optimizer, schedule: str, epochs: int):
    """Per-epoch learning-rate schedule (see the module doc); None for ``none``."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1),
                                                          eta_min=0.01 * opt.param_groups[0]["lr"])
    if schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, math.ceil(epochs / 3)), gamma=0.1)
    if schedule == "none":
        return None
    raise ValueError(f"unknown learning-rate schedule {schedule!r} (cosine, step or none)")


def train_cnn(arch: str, samples: SampleSet, train_idx: np.ndarray, params: CnnParams, device: str,
              seed: int, weights_path: Path | None = None, desc: str = "", progress: bool = True,
              val_idx: np.ndarray | None = None, log: EpochLog | None = None,
              labels: np.ndarray | None = None) -> tuple[nn.Module, TrainResult]:
    """Train ``arch`` on the samples ``train_idx`` (labels = pain levels 0-3, or ``labels``).

    With ``val_idx`` the model of the best validation epoch is returned (``params.select``),
    otherwise the last epoch's; in eval mode, with the per-epoch history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    model = build_pain_cnn(arch, num_classes=len(PAIN_CLASSES), weights_path=weights_path).to(device)
    if _is_cuda(device):
        model = model.to(memory_format=torch.channels_last)
    levels = samples.levels if labels is None else np.asarray(labels)
    opt = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    sched = make_scheduler(opt, params.schedule, params.epochs)
    loss_fn = nn.CrossEntropyLoss()
    has_val = val_idx is not None and len(val_idx) > 0
    keeper = BestEpoch("min" if params.select == "loss" else "max")
    steps = params.epochs * int(np.ceil(len(train_idx) / params.batch))
    bar = tqdm(total=steps, desc=desc or f"train {arch}", unit="batch", disable=not progress, leave=False)
    history: list[dict[str, float]] = []
    for epoch in range(1, params.epochs + 1):
        model.train()
        order = rng.permutation(train_idx)
        tot, n_seen, correct = 0.0, 0, 0
        lr = opt.param_groups[0]["lr"]
        for i in range(0, len(order), params.batch):
            b = order[i:i + params.batch]
            if len(b) < 2 and len(order) > 1:
                continue  # a batch of one breaks BatchNorm statistics; it is reshuffled next epoch
            x = batch_tensor(samples, b, device, gen if params.augment else None)
            y = torch.as_tensor(levels[b], device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=_is_cuda(device)):
                out = model(x)
                loss = loss_fn(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.item()) * len(b)
            n_seen += len(b)
            correct += int((out.argmax(1) == y).sum())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if sched is not None:
            sched.step()
        rec = {"train_loss": tot / max(n_seen, 1), "train_acc": 100.0 * correct / max(n_seen, 1), "lr": lr}
        if has_val:
            _, probs = predict(model, samples, np.asarray(val_idx), device)
            yv = levels[np.asarray(val_idx)]
            rec["val_loss"] = float(-np.log(np.clip(probs[np.arange(len(yv)), yv], 1e-12, 1.0)).mean())
            pv = probs.argmax(1)
            rec["val_wa"] = float(100.0 * (pv == yv).mean())
            present = np.unique(yv)
            rec["val_ua"] = float(100.0 * np.mean([(pv[yv == c] == c).mean() for c in present]))
            value = rec["val_loss"] if params.select == "loss" else rec[f"val_{params.select}"]
            keeper.update(epoch, value, model, tie=rec["val_loss"])
        history.append(rec)
        if log is not None:
            log(epoch, **rec)
    bar.close()
    if has_val:
        keeper.restore(model)
        res = TrainResult(int(keeper.epoch), history, f"validation {params.select}")
    else:
        res = TrainResult(params.epochs, history)
    if log is not None:
        log.note("best_epoch", f"kept epoch {res.best_epoch} ({res.selected_by})")
    model.eval()
    return model, res


@torch.no_grad()
def predict(model: nn.Module, samples: SampleSet, idx: np.ndarray, device: str,
            batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(predicted levels (n,), class probabilities (n, 4)) for the samples ``idx``."""
    model.eval()
    preds, probs = [], []
    for i in range(0, len(idx), batch):
        x = batch_tensor(samples, idx[i:i + batch], device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=_is_cuda(device)):
            logits = model(x).float()
        p = torch.softmax(logits, dim=1).cpu().numpy()
        probs.append(p)
        preds.append(p.argmax(1))
    if not preds:
        return np.zeros(0, int), np.zeros((0, len(PAIN_CLASSES)), np.float32)
    return np.concatenate(preds).astype(int), np.concatenate(probs).astype(np.float32)
