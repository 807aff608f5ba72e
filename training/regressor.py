"""The AuE-IPA pain intensity regressor (paper, Sec. III-D and V-C) and the PSPI baseline.

The model is the app's :class:`PainRegressor`: input = the k core-AU intensities (0-5)
multiplied element-wise by their engagement levels (normalised so the top AU is 1; all ones
for the unweighted variants), hidden 3 with ReLU and dropout, 1 output on the 0-10 scale.
Paper hyperparameters (defaults of :class:`RegParams`): Adam lr 0.01, SmoothL1Loss, batch 8,
100 epochs. Predicted scores become pain levels with :meth:`PainLevel.from_score`.

As for the CNN (:mod:`training.cnn`): with validation data the weights of the epoch with the
lowest validation SmoothL1 loss are kept (else the last epoch's), and the learning rate follows
``schedule`` (cosine by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from auepa_monitor.core.records import PainLevel
from auepa_monitor.core.scoring import pspi
from auepa_monitor.nets.pain_regressor import PainRegressor

from .cnn import TrainResult, make_scheduler
from .extract import AU_ORDER
from .logs import BestEpoch, EpochLog


@dataclass(frozen=True)
class RegParams:
    """Hyperparameters of the regressor (paper defaults; dropout is not stated in the paper)."""

    epochs: int = 100
    lr: float = 0.01
    batch: int = 8
    hidden: int = 3
    dropout: float = 0.2
    schedule: str = "cosine"  # cosine | step | none


def au_matrix(au: np.ndarray, aus: Sequence[int]) -> np.ndarray:
    """Columns ``aus`` of an (N, A) AU array whose columns are :data:`AU_ORDER` -> (N, k) float32."""
    cols = [AU_ORDER.index(a) for a in aus]
    return np.asarray(au, dtype=np.float32)[:, cols]


def fit_regressor(x: np.ndarray, y: np.ndarray, aus: Sequence[int], engagement: Sequence[float],
                  params: RegParams, seed: int, val: tuple[np.ndarray, np.ndarray] | None = None,
                  log: EpochLog | None = None) -> PainRegressor:
    """Train a :class:`PainRegressor` on (N, k) AU intensities ``x`` and pain targets ``y`` (0-10);
    see :func:`train_regressor`."""
    return train_regressor(x, y, aus, engagement, params, seed, val, log)[0]


def train_regressor(x: np.ndarray, y: np.ndarray, aus: Sequence[int], engagement: Sequence[float],
                    params: RegParams, seed: int, val: tuple[np.ndarray, np.ndarray] | None = None,
                    log: EpochLog | None = None) -> tuple[PainRegressor, TrainResult]:
    """Train a :class:`PainRegressor`; with ``val`` = (x, y) validation data the best validation
    epoch's weights are kept. Returns the model (eval mode) and its per-epoch history."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = PainRegressor(aus, engagement, hidden=params.hidden, dropout=params.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=params.lr)
    sched = make_scheduler(opt, params.schedule, params.epochs)
    loss_fn = nn.SmoothL1Loss()
    X = torch.from_numpy(np.asarray(x, np.float32))
    Y = torch.from_numpy(np.asarray(y, np.float32))
    has_val = val is not None and len(val[0]) > 0
    if has_val:
        XV = torch.from_numpy(np.asarray(val[0], np.float32))
        YV = torch.from_numpy(np.asarray(val[1], np.float32))
    keeper = BestEpoch("min")
    history: list[dict[str, float]] = []
    for epoch in range(1, params.epochs + 1):
        model.train()
        lr = opt.param_groups[0]["lr"]
        perm = torch.randperm(len(X), generator=gen)
        tot = 0.0
        for i in range(0, len(X), params.batch):
            b = perm[i:i + params.batch]
            opt.zero_grad()
            loss = loss_fn(model(X[b]), Y[b])
            loss.backward()
            opt.step()
            tot += float(loss.item()) * len(b)
        if sched is not None:
            sched.step()
        rec = {"train_loss": tot / max(len(X), 1), "lr": lr}
        if has_val:
            model.eval()
            with torch.no_grad():
                rec["val_loss"] = float(loss_fn(model(XV), YV))
            keeper.update(epoch, rec["val_loss"], model)
        history.append(rec)
        if log is not None:
            log(epoch, **rec)
    if has_val:
        keeper.restore(model)
        res = TrainResult(int(keeper.epoch), history, "validation loss")
    else:
        res = TrainResult(params.epochs, history)
    model.eval()
    return model, res


@torch.no_grad()
def predict_scores(model: PainRegressor, x: np.ndarray) -> np.ndarray:
    """(N,) pain scores 0-10 (clamped, as the app does)."""
    model.eval()
    return model(torch.from_numpy(np.asarray(x, np.float32))).clamp(0.0, 10.0).numpy()


@torch.no_grad()
def smooth_l1(model: PainRegressor, x: np.ndarray, y: np.ndarray) -> float:
    """Mean SmoothL1 loss of the (unclamped) output against targets 0-10 (the loss of Fig. 6)."""
    model.eval()
    out = model(torch.from_numpy(np.asarray(x, np.float32)))
    return float(nn.SmoothL1Loss()(out, torch.from_numpy(np.asarray(y, np.float32))))


def levels_of(scores: np.ndarray) -> np.ndarray:
    """Pain levels 0-3 of 0-10 scores."""
    return np.array([int(PainLevel.from_score(float(s))) for s in scores], dtype=int)


def pspi_values(au: np.ndarray) -> np.ndarray:
    """(N,) PSPI 0-16 (Eq. 1, :func:`auepa_monitor.core.scoring.pspi`) from (N, A) AU rows."""
    return np.array([pspi(dict(zip(AU_ORDER, map(float, row), strict=True))) for row in au], dtype=np.float32)


@dataclass(frozen=True)
class PspiMap:
    """PSPI (0-16) -> pain 0-10 by a straight line fitted on training data (least squares).

    The paper compares PSPI without saying how its 0-16 values became pain levels; a line
    fitted on the same training folds the regressor sees is the fairest simple choice.
    """

    slope: float
    intercept: float

    @classmethod
    def fit(cls, p: np.ndarray, y: np.ndarray) -> PspiMap:
        p = np.asarray(p, np.float64)
        if len(p) < 2 or np.ptp(p) == 0:
            return cls(0.0, float(np.mean(y)) if len(y) else 0.0)
        slope, intercept = np.polyfit(p, np.asarray(y, np.float64), 1)
        return cls(float(slope), float(intercept))

    def scores(self, p: np.ndarray) -> np.ndarray:
        return np.clip(self.slope * np.asarray(p, np.float64) + self.intercept, 0.0, 10.0)
