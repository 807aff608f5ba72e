"""Validation splits by subject, and the choice of the number of core AUs (Fig. 6), flat or nested.

* :func:`split_val`: the validation subjects held out of a training fold (for best-epoch keeping).
* :func:`cv_losses`: held-out SmoothL1 loss of the top-k regressor for every k on given folds.
* **flat** choice (the paper's): the k with the lowest mean loss over the same outer folds that
  Table IV then reports (optimistic: the folds choose k and score it).
* **nested** choice (:func:`nested_k`): for each outer fold, k is chosen by an inner subject-wise
  cross-validation on that fold's training subjects only, so the outer test fold never helps
  choose its own k.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .folds import fold_indices, subject_folds
from .logs import EpochLog
from .regressor import RegParams, au_matrix, smooth_l1, train_regressor


def split_val(subjects: np.ndarray, idx: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit indices, validation indices) of ``idx``: ``frac`` of its subjects (at least one, leaving at
    least one to train on) held out for validation; no validation when ``frac`` <= 0 or one subject."""
    idx = np.asarray(idx, int)
    subj = sorted(set(np.asarray(subjects)[idx].tolist()))
    if frac <= 0 or len(subj) < 2:
        return idx, np.zeros(0, int)
    n_val = min(max(1, int(round(frac * len(subj)))), len(subj) - 1)
    order = np.random.default_rng(seed).permutation(len(subj))
    val_subj = {subj[i] for i in order[:n_val]}
    in_val = np.isin(np.asarray(subjects)[idx], list(val_subj))
    return idx[~in_val], idx[in_val]


def fit_split(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, tr: np.ndarray, aus: Sequence[int],
              weights: Sequence[float], params: RegParams, seed: int, val_frac: float,
              log: EpochLog | None = None):
    """Train the regressor on ``tr`` less its validation subjects; best validation epoch kept."""
    fit, val = split_val(subjects, tr, val_frac, seed)
    return train_regressor(x[fit], y[fit], aus, weights, params, seed, (x[val], y[val]) if len(val) else None, log)


def cv_losses(au: np.ndarray, y: np.ndarray, subjects: np.ndarray, ranking: Sequence[int],
              folds: Sequence[tuple[np.ndarray, np.ndarray]], params: RegParams, seed: int, val_frac: float,
              ks: Sequence[int] | None = None) -> dict[int, list[float]]:
    """{k: held-out SmoothL1 loss per fold} of the unweighted top-k regressor."""
    ks = list(ks or range(1, len(ranking) + 1))
    out: dict[int, list[float]] = {}
    for k in ks:
        aus = list(ranking[:k])
        x = au_matrix(au, aus)
        out[k] = []
        for f, (tr, te) in enumerate(folds):
            m, _ = fit_split(x, y, subjects, tr, aus, [1.0] * k, params, seed + f, val_frac)
            out[k].append(smooth_l1(m, x[te], y[te]))
    return out


def flat_k(losses: dict[int, list[float]]) -> int:
    """The k with the lowest mean loss (ties: the smaller k)."""
    return min(losses, key=lambda k: (float(np.mean(losses[k])), k))


def nested_k(au: np.ndarray, y: np.ndarray, subjects: np.ndarray, ranking: Sequence[int], outer_train: np.ndarray,
             inner_folds: int, params: RegParams, seed: int, val_frac: float) -> tuple[int, dict[int, float]]:
    """k chosen by an inner ``inner_folds``-fold subject-wise CV on ``outer_train`` only
    (fewer folds when there are fewer subjects); returns k and the inner mean loss per k."""
    outer_train = np.asarray(outer_train, int)
    subj = sorted(set(np.asarray(subjects)[outer_train].tolist()))
    k_in = min(inner_folds, len(subj))
    inner = []
    for f in subject_folds(subj, k_in, seed):
        tr, te = fold_indices(np.asarray(subjects)[outer_train], f)
        inner.append((outer_train[tr], outer_train[te]))
    losses = cv_losses(au, y, subjects, ranking, inner, params, seed, val_frac)
    return flat_k(losses), {k: float(np.mean(v)) for k, v in losses.items()}
