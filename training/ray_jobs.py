"""The independent jobs of a training run: one CNN per (backbone, fold) and one top-k regressor
sweep per k (and one nested choice of k per outer fold).

Each job is a plain, picklable description plus a function ``run(job, data, out)`` that computes it
and writes its own resume state (``out/<job.state>``, a JSON keyed by a fingerprint, see
:mod:`training.state`) and its files (checkpoint, per-epoch logs) under ``out``. The serial run
calls these functions in its own process on the run folder; ``training.run --ray`` runs the same
functions as Ray tasks on a scratch folder and ships the files back (:mod:`training.ray_run`).
Every job seeds its own random generators, so where and in which order it runs does not change
its result (for a given number of torch threads, see ``RunConfig.threads``).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .logs import EpochLog
from .state import save_done


@dataclass
class CnnFoldJob:
    """Train one backbone on one fold's training subjects; predict its held-out fold and the other data sets."""

    arch: str
    k: int
    n_folds: int
    fp: str
    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray
    params: Any  # CnnParams
    device: str
    seed: int
    weights: Path | None
    save_checkpoint: bool  # the engagement backbone's fold models are kept for Grad-CAM
    card: dict[str, Any] = field(default_factory=dict)  # ModelCard fields of the checkpoint
    tensorboard: bool = True
    progress: bool = False

    @property
    def name(self) -> str:
        return f"cnn {self.arch} fold {self.k}"

    @property
    def state(self) -> str:
        return f"cnn/{self.arch}/fold{self.k}.json"

    #: Ray: a GPU per task when the cluster has one.
    uses_gpu = True


@dataclass
class CnnData:
    """What CNN jobs read: the samples (crops, labels) and the indices of the other data sets."""

    samples: Any  # SampleSet
    other_idx: dict[str, np.ndarray]
    subjects: np.ndarray


def run_cnn_fold(job: CnnFoldJob, data: CnnData, out: Path) -> dict[str, Any]:
    from auepa_monitor.model_card import ModelCard
    from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, save_checkpoint

    from .cnn import predict, train_cnn

    t0 = time.perf_counter()
    log = EpochLog(out.joinpath("logs", "cnn", job.arch, f"fold{job.k}"), tensorboard=job.tensorboard)
    model, tres = train_cnn(job.arch, data.samples, job.fit, job.params, job.device, job.seed, job.weights,
                            desc=f"{job.arch} fold {job.k + 1}/{job.n_folds}", progress=job.progress,
                            val_idx=job.val, log=log)
    log.close()
    pred, _ = predict(model, data.samples, job.test, job.device)
    other = {d: predict(model, data.samples, idx, job.device)[0].tolist() for d, idx in data.other_idx.items()}
    if job.save_checkpoint:
        card = ModelCard(name=f"{job.arch} fold {job.k}", kind="pain_cnn", output_scale="4 pain levels",
                         created=dt.date.today().isoformat(), built_by="training/run.py", **job.card)
        save_checkpoint(out / "cnn" / job.arch / f"fold{job.k}.pt", model, job.arch, PAIN_CLASSES, card,
                        {"training": {"epochs": job.params.epochs, "train_samples": int(len(job.fit)),
                                      "val_samples": int(len(job.val)), "best_epoch": tres.best_epoch,
                                      "fold": job.k, "seed": job.seed}})
    return save_done(out / job.state, job.fp, {
        "test_idx": job.test.tolist(), "pred": pred.tolist(), "other_pred": other, "best_epoch": tres.best_epoch,
        "selected_by": tres.selected_by, "val_subjects": sorted(set(data.subjects[job.val].tolist())),
        "history": tres.history}, time.perf_counter() - t0)


@dataclass
class TopkData:
    """What regressor jobs read: AU intensities, targets, subjects and the folds."""

    au: np.ndarray
    targets: np.ndarray
    subjects: np.ndarray
    fold_idx: list[tuple[np.ndarray, np.ndarray]]
    other_idx: dict[str, np.ndarray]
    ranking: list[int]


@dataclass
class TopkJob:
    """The unweighted regressor on the top-k AUs, trained and tested on every fold (one point of Fig. 6)."""

    k: int
    fp: str
    params: Any  # RegParams
    seed: int
    val_frac: float
    tensorboard: bool = True
    uses_gpu = False

    @property
    def name(self) -> str:
        return f"top-{self.k} regressors"

    @property
    def state(self) -> str:
        return f"topk/k{self.k:02d}.json"


def run_topk(job: TopkJob, data: TopkData, out: Path) -> dict[str, Any]:
    from .regressor import au_matrix, predict_scores, smooth_l1
    from .topk import fit_split

    t0 = time.perf_counter()
    aus = data.ranking[:job.k]
    x = au_matrix(data.au, aus)
    losses, preds, best = [], [], []
    for f, (tr, te) in enumerate(data.fold_idx):
        log = EpochLog(out.joinpath("logs", "topk", f"k{job.k:02d}", f"fold{f}"), tensorboard=job.tensorboard)
        m, tres = fit_split(x, data.targets, data.subjects, tr, aus, [1.0] * job.k, job.params, job.seed + f,
                            job.val_frac, log)
        log.close()
        losses.append(smooth_l1(m, x[te], data.targets[te]))
        preds.append({"test": predict_scores(m, x[te]).tolist(),
                      "other": {d: predict_scores(m, x[idx]).tolist() for d, idx in data.other_idx.items()}})
        best.append(tres.best_epoch)
    return save_done(out / job.state, job.fp, {"loss": losses, "pred": preds, "best_epoch": best},
                     time.perf_counter() - t0)


@dataclass
class NestedJob:
    """The nested choice of k for one outer fold: an inner subject-wise CV on its training subjects."""

    fold: int
    fp: str
    params: Any  # RegParams
    seed: int
    val_frac: float
    inner_folds: int
    uses_gpu = False

    @property
    def name(self) -> str:
        return f"nested top-k, outer fold {self.fold}"

    @property
    def state(self) -> str:
        return f"topk/nested_fold{self.fold}.json"


def run_nested(job: NestedJob, data: TopkData, out: Path) -> dict[str, Any]:
    from .topk import nested_k

    t0 = time.perf_counter()
    tr = data.fold_idx[job.fold][0]
    k_f, losses_f = nested_k(data.au, data.targets, data.subjects, data.ranking, tr, job.inner_folds, job.params,
                             job.seed + job.fold, job.val_frac)
    return save_done(out / job.state, job.fp, {"k": int(k_f), "inner_loss": {str(k): v for k, v in losses_f.items()}},
                     time.perf_counter() - t0)
