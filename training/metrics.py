"""Classification metrics of the paper (Eq. 3, Tables III-VI), from labels or a confusion matrix.

WA (weighted accuracy) = overall accuracy; UA (unweighted accuracy) = mean of the per-class
recalls over the classes present in the truth; precision, recall and F1 are support-weighted
averages over classes (scikit-learn's ``average="weighted"``). Percentages are 0-100, F1 is 0-1
as in the paper's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Scores:
    """WA, UA, weighted precision and recall in percent (0-100); weighted F1 in 0-1; n samples."""

    wa: float
    ua: float
    precision: float
    recall: float
    f1: float
    n: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int matrix: rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[int(t), int(p)] += 1
    return cm


def scores_from_confusion(cm: np.ndarray) -> Scores:
    """Metrics from a confusion matrix (rows = truth). Classes absent from both truth and
    prediction are ignored; a class never predicted has precision 0 (as scikit-learn's
    ``zero_division=0``)."""
    cm = np.asarray(cm, dtype=np.float64)
    n = cm.sum()
    if n == 0:
        return Scores(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    w = support / n
    present = support > 0
    return Scores(
        wa=100.0 * tp.sum() / n,
        ua=100.0 * float(recall[present].mean()),
        precision=100.0 * float((w * precision).sum()),
        recall=100.0 * float((w * recall).sum()),
        f1=float((w * f1).sum()),
        n=int(n),
    )


def scores(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> Scores:
    """Metrics from label sequences (class indices 0..n_classes-1)."""
    return scores_from_confusion(confusion(y_true, y_pred, n_classes))


def mean_scores(items: Sequence[Scores]) -> Scores:
    """Average of per-fold scores (the paper averages its 5 folds); n is the total."""
    items = [s for s in items if s.n > 0]
    if not items:
        return Scores(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0)
    m = lambda k: float(np.mean([getattr(s, k) for s in items]))  # noqa: E731
    return Scores(m("wa"), m("ua"), m("precision"), m("recall"), m("f1"), sum(s.n for s in items))


def std_scores(items: Sequence[Scores]) -> Scores:
    """Standard deviation over folds of each metric (population std, as ``np.std``); n is the fold count."""
    items = [s for s in items if s.n > 0]
    if not items:
        return Scores(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), 0)
    sd = lambda k: float(np.std([getattr(s, k) for s in items]))  # noqa: E731
    return Scores(sd("wa"), sd("ua"), sd("precision"), sd("recall"), sd("f1"), len(items))
