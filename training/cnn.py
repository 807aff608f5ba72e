"""Training and inference of the end-to-end pain CNN (paper, Sec. V-A, Table III).

The network is :func:`auepa_monitor.nets.pain_cnn.build_pain_cnn` (4 pain-level outputs) fed
the cached aligned crops through :func:`pain_cnn.preprocess`'s normalisation. Paper
hyperparameters (the defaults of :class:`CnnParams`): Adam, lr 1e-3, weight decay 5e-4,
batch 8, 25 epochs, all layers trained. No augmentation (the paper names none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from auepa_monitor.nets.pain_cnn import IMAGENET_MEAN, IMAGENET_STD, PAIN_CLASSES, build_pain_cnn

from .extract import SampleSet


@dataclass(frozen=True)
class CnnParams:
    """Hyperparameters of the end-to-end CNN (paper defaults)."""

    epochs: int = 25
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch: int = 8


def batch_tensor(samples: SampleSet, idx: Sequence[int], device: str) -> torch.Tensor:
    """(B, 3, 224, 224) normalised RGB float tensor of the samples' BGR crops."""
    arr = np.stack([samples.crop(int(i)) for i in idx])[:, :, :, ::-1]  # BGR -> RGB
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    t = (t - mean) / std
    if device == "cuda":
        t = t.contiguous(memory_format=torch.channels_last)
    return t


def weights_file(weights_dir: Path | None, arch: str) -> Path | None:
    """``<weights_dir>/<arch>.pth`` when it exists (torchvision's ImageNet state dict), else None."""
    if weights_dir is None:
        return None
    for name in (f"{arch}.pth", f"{arch}.pt"):
        p = Path(weights_dir) / name
        if p.is_file():
            return p
    return None


def train_cnn(arch: str, samples: SampleSet, train_idx: np.ndarray, params: CnnParams, device: str,
              seed: int, weights_path: Path | None = None, desc: str = "", progress: bool = True) -> nn.Module:
    """Train ``arch`` on the samples ``train_idx`` (labels = pain levels 0-3); returns it in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_pain_cnn(arch, num_classes=len(PAIN_CLASSES), weights_path=weights_path).to(device)
    if device == "cuda":
        model = model.to(memory_format=torch.channels_last)
    levels = samples.levels
    opt = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    steps = params.epochs * int(np.ceil(len(train_idx) / params.batch))
    bar = tqdm(total=steps, desc=desc or f"train {arch}", unit="batch", disable=not progress, leave=False)
    model.train()
    for _ in range(params.epochs):
        order = rng.permutation(train_idx)
        for i in range(0, len(order), params.batch):
            b = order[i:i + params.batch]
            if len(b) < 2 and len(order) > 1:
                continue  # a batch of one breaks BatchNorm statistics; it is reshuffled next epoch
            x = batch_tensor(samples, b, device)
            y = torch.as_tensor(levels[b], device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                loss = loss_fn(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    return model


@torch.no_grad()
def predict(model: nn.Module, samples: SampleSet, idx: np.ndarray, device: str,
            batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(predicted levels (n,), class probabilities (n, 4)) for the samples ``idx``."""
    model.eval()
    preds, probs = [], []
    for i in range(0, len(idx), batch):
        x = batch_tensor(samples, idx[i:i + batch], device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            logits = model(x).float()
        p = torch.softmax(logits, dim=1).cpu().numpy()
        probs.append(p)
        preds.append(p.argmax(1))
    if not preds:
        return np.zeros(0, int), np.zeros((0, len(PAIN_CLASSES)), np.float32)
    return np.concatenate(preds).astype(int), np.concatenate(probs).astype(np.float32)
