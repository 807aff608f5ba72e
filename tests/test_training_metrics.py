"""The paper's metrics (WA, UA, weighted P/R/F1) against scikit-learn on known confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_recall_fscore_support

from training.metrics import confusion, mean_scores, scores, scores_from_confusion


def labels_from_confusion(cm: np.ndarray) -> tuple[list[int], list[int]]:
    t, p = [], []
    for (r, c), v in np.ndenumerate(cm):
        t += [r] * int(v)
        p += [c] * int(v)
    return t, p


CASES = {
    # Unbalanced: 90 of class 0, 10 of class 1; predicting "0" always -> WA 90, UA 50.
    "majority_only": np.array([[90, 0], [10, 0]]),
    "unbalanced_4": np.array([[50, 3, 2, 5], [6, 4, 1, 1], [2, 2, 3, 1], [10, 1, 0, 9]]),
    "perfect": np.array([[5, 0, 0, 0], [0, 2, 0, 0], [0, 0, 7, 0], [0, 0, 0, 1]]),
    "class_never_true": np.array([[4, 1, 0, 0], [2, 3, 1, 0], [0, 0, 0, 0], [1, 0, 2, 6]]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_against_sklearn(name: str) -> None:
    cm = CASES[name]
    t, p = labels_from_confusion(cm)
    s = scores_from_confusion(cm)
    present = sorted(set(t) | set(p))
    pr, rc, f1, _ = precision_recall_fscore_support(t, p, labels=present, average="weighted", zero_division=0)
    assert s.wa == pytest.approx(100 * accuracy_score(t, p))
    assert s.ua == pytest.approx(100 * balanced_accuracy_score(t, p))
    assert s.precision == pytest.approx(100 * pr)
    assert s.recall == pytest.approx(100 * rc)
    assert s.f1 == pytest.approx(f1)
    assert s.n == cm.sum()
    # The label form gives the same numbers and the same matrix.
    assert scores(t, p, cm.shape[0]) == s
    np.testing.assert_array_equal(confusion(t, p, cm.shape[0]), cm)


def test_wa_differs_from_ua_when_unbalanced() -> None:
    s = scores_from_confusion(CASES["majority_only"])
    assert s.wa == pytest.approx(90.0)
    assert s.ua == pytest.approx(50.0)
    assert s.recall == pytest.approx(s.wa)  # weighted recall is accuracy, as in the paper's tables
    # Precision of the never-predicted class counts 0: 0.9 * (90/100) + 0.1 * 0.
    assert s.precision == pytest.approx(81.0)


def test_mean_over_folds() -> None:
    a = scores_from_confusion(np.array([[2, 0], [0, 2]]))
    b = scores_from_confusion(np.array([[1, 1], [1, 1]]))
    m = mean_scores([a, b])
    assert m.wa == pytest.approx(75.0)
    assert m.n == 8
    assert np.isnan(mean_scores([]).wa)
