"""Subject-wise folds: no subject in both train and test, every subject tested once, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from auepa_monitor.core.errors import AuepaError
from training.folds import fold_indices, subject_folds


def test_no_subject_leakage_and_full_coverage() -> None:
    subjects = [f"infant{i:02d}" for i in range(76)]  # the paper's 76 infants
    folds = subject_folds(subjects, 5, seed=3)
    assert len(folds) == 5
    assert sorted(len(f.test_subjects) for f in folds) == [15, 15, 15, 15, 16]
    tested = [s for f in folds for s in f.test_subjects]
    assert sorted(tested) == sorted(subjects)  # each subject is tested exactly once
    for f in folds:
        assert not set(f.train_subjects) & set(f.test_subjects)
        assert set(f.train_subjects) | set(f.test_subjects) == set(subjects)


def test_sample_indices_follow_subjects() -> None:
    rng = np.random.default_rng(0)
    subj = rng.choice([f"s{i}" for i in range(12)], size=500)
    for f in subject_folds(list(subj), 5, seed=0):
        tr, te = fold_indices(subj, f)
        assert len(tr) + len(te) == len(subj)
        assert not set(subj[tr]) & set(subj[te])
        assert not set(tr) & set(te)


def test_seeded_and_seed_dependent() -> None:
    subjects = [f"s{i}" for i in range(20)]
    assert subject_folds(subjects, 5, 7) == subject_folds(list(reversed(subjects)), 5, 7)
    assert subject_folds(subjects, 5, 7) != subject_folds(subjects, 5, 8)


def test_too_few_subjects() -> None:
    with pytest.raises(AuepaError, match="at least 5 subjects"):
        subject_folds(["a", "b", "a", "c"], 5)
