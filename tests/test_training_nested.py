"""Nested choice of top-k: the outer test fold never helps choose its own k (real regressors)."""

from __future__ import annotations

import numpy as np

from training.extract import AU_ORDER
from training.folds import Fold, fold_indices
from training.regressor import RegParams
from training.topk import cv_losses, flat_k, nested_k


def test_nested_k_differs_from_flat_k() -> None:
    """Two ranked AUs, A and B. Target = 2A + 3B for subjects s3-s6, but 2A + 3(2 - B) for s1, s2 (outer
    fold 0). Flat: on fold 0 the B learnt from s3-s6 hurts badly, on folds 1, 2 B is learnt as ~0 from the
    mixed training subjects: k = 1 has the lowest mean loss. Nested, fold 0: its training subjects
    s3-s6 all agree, so the inner CV picks k = 2."""
    rng = np.random.default_rng(0)
    subjects = np.repeat([f"s{i}" for i in range(1, 7)], 30)
    a_col, b_col = AU_ORDER.index(4), AU_ORDER.index(6)
    ranking = [4, 6]
    au = np.zeros((len(subjects), len(AU_ORDER)), np.float32)
    au[:, a_col] = rng.uniform(0, 2, len(subjects))
    au[:, b_col] = rng.uniform(0, 2, len(subjects))
    inverted = np.isin(subjects, ["s1", "s2"])
    b = np.where(inverted, 2 - au[:, b_col], au[:, b_col])
    y = (2 * au[:, a_col] + 3 * b).astype(np.float32)
    all_s = sorted(set(subjects))
    tests = [("s1", "s2"), ("s3", "s4"), ("s5", "s6")]
    folds = [fold_indices(subjects, Fold(i, tuple(s for s in all_s if s not in t), t)) for i, t in enumerate(tests)]
    p = RegParams(epochs=40, lr=0.01, batch=8, hidden=3, dropout=0.0, schedule="none")
    losses = cv_losses(au, y, subjects, ranking, folds, p, seed=0, val_frac=0.0)
    k_flat = flat_k(losses)
    assert k_flat == 1, losses
    k0, inner0 = nested_k(au, y, subjects, ranking, folds[0][0], 2, p, seed=0, val_frac=0.0)
    assert k0 == 2, inner0
    assert inner0[2] < inner0[1]
    ks = [k0] + [nested_k(au, y, subjects, ranking, tr, 2, p, seed=f, val_frac=0.0)[0]
                 for f, (tr, _) in enumerate(folds[1:], start=1)]
    assert ks != [k_flat] * 3
