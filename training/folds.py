"""Subject-wise k-fold cross-validation (paper, Sec. V-A): no subject in both train and test."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auepa_monitor.core.errors import AuepaError


@dataclass(frozen=True)
class Fold:
    """One fold: the test subjects and the train subjects (disjoint), sorted."""

    index: int
    train_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]


def subject_folds(subjects: Sequence[str], k: int = 5, seed: int = 0) -> list[Fold]:
    """Split the distinct ``subjects`` into ``k`` folds of near-equal size after a seeded shuffle.

    As in the paper (76 infants -> 4 folds of 16 and one of 12... here sizes differ by at most one).
    Raises :class:`AuepaError` when there are fewer subjects than folds.
    """
    uniq = sorted(set(subjects))
    if k < 2:
        raise AuepaError(f"cross-validation needs at least 2 folds, got {k}")
    if len(uniq) < k:
        raise AuepaError(f"{k}-fold cross-validation needs at least {k} subjects; the training data set has "
                         f"{len(uniq)} ({', '.join(uniq)})")
    order = np.random.default_rng(seed).permutation(len(uniq))
    shuffled = [uniq[i] for i in order]
    parts = np.array_split(np.arange(len(shuffled)), k)
    folds = []
    for i, idx in enumerate(parts):
        test = sorted(shuffled[j] for j in idx)
        train = sorted(s for s in uniq if s not in set(test))
        folds.append(Fold(i, tuple(train), tuple(test)))
    return folds


def fold_indices(sample_subjects: Sequence[str], fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) of samples whose subject is in the fold's train / test set."""
    subj = np.asarray(sample_subjects)
    test = np.isin(subj, fold.test_subjects)
    train = np.isin(subj, fold.train_subjects)
    return np.flatnonzero(train), np.flatnonzero(test)
