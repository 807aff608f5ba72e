"""Report writing: Markdown tables, CSV files and PNG figures (matplotlib, Agg backend, no display)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never opens a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import Scores  # noqa: E402

METRIC_HEADER = ["Method", "WA(%)", "UA(%)", "Precision(%)", "Recall(%)", "F1 Score", "n"]


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if np.isnan(v):
            return "n/a"
        return f"{v:.1f}" if abs(v) >= 1.5 or v == 0 else f"{v:.3f}"
    return str(v)


def metric_row(name: str, s: Scores) -> list[object]:
    return [name, round(s.wa, 1), round(s.ua, 1), round(s.precision, 1), round(s.recall, 1), round(s.f1, 3), s.n]


def pm(m: float, sd: float, digits: int = 1) -> str:
    """``mean ± std`` text (``n/a`` for a missing value)."""
    if np.isnan(m):
        return "n/a"
    return f"{m:.{digits}f} ± {sd:.{digits}f}" if not np.isnan(sd) else f"{m:.{digits}f}"


def metric_rows_pm(items: Mapping[str, tuple[Scores, Scores]]) -> tuple[list[str], list[list[object]]]:
    """Methods table with ``mean ± std over folds`` cells."""
    rows = [[n, pm(m.wa, s.wa), pm(m.ua, s.ua), pm(m.precision, s.precision), pm(m.recall, s.recall),
             pm(m.f1, s.f1, 3), m.n] for n, (m, s) in items.items()]
    return METRIC_HEADER, rows


def metric_csv(items: Mapping[str, tuple[Scores, Scores]]) -> tuple[list[str], list[list[object]]]:
    """Methods table as numbers: each metric's mean, then its std over folds."""
    header = ["Method", "WA(%)", "WA_std", "UA(%)", "UA_std", "Precision(%)", "Precision_std", "Recall(%)",
              "Recall_std", "F1 Score", "F1_std", "n"]
    rows = [[n, round(m.wa, 2), round(s.wa, 2), round(m.ua, 2), round(s.ua, 2), round(m.precision, 2),
             round(s.precision, 2), round(m.recall, 2), round(s.recall, 2), round(m.f1, 4), round(s.f1, 4), m.n]
            for n, (m, s) in items.items()]
    return header, rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(v) if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def table_iii_rows(per_arch: Mapping[str, Scores],
                   std: Mapping[str, Scores] | None = None) -> tuple[list[str], list[list[object]]]:
    """Table III layout: one column per backbone, one row per metric (``mean ± std`` when ``std``)."""
    archs = list(per_arch)
    header = ["Model", *archs]

    def cell(a: str, k: str, digits: int) -> object:
        m = getattr(per_arch[a], k)
        return pm(m, getattr(std[a], k), digits) if std is not None else round(m, digits)

    rows = [[label, *[cell(a, k, d) for a in archs]] for label, k, d in (
        ("Weighted Accuracy(%)", "wa", 1), ("Unweighted Accuracy(%)", "ua", 1), ("Weighted Precision(%)", "precision", 1),
        ("Weighted Recall(%)", "recall", 1), ("Weighted F1 score", "f1", 3))]
    return header, rows


def table_iii_csv(per_arch: Mapping[str, Scores], std: Mapping[str, Scores]) -> tuple[list[str], list[list[object]]]:
    """Table III as numbers: one row per metric, a mean and a std column per backbone."""
    archs = list(per_arch)
    header = ["metric", *[f"{a}{suffix}" for a in archs for suffix in ("", "_std")]]
    rows = [[k, *[v for a in archs for v in (round(getattr(per_arch[a], k), 4), round(getattr(std[a], k), 4))]]
            for k in ("wa", "ua", "precision", "recall", "f1")]
    return header, rows


def engagement_figure(path: Path, ranking: Sequence[tuple[int, float]], title: str, core_k: int | None = None) -> None:
    """Fig. 5: normalised engagement per AU, most engaged first; the selected core AUs highlighted."""
    labels = [f"AU{a}" for a, _ in ranking]
    vals = [v for _, v in ranking]
    colors = ["#c0392b" if core_k is not None and i < core_k else "#7f8c8d" for i in range(len(vals))]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    ax.bar(labels, vals, color=colors)
    ax.set_ylabel("engagement (normalised, top = 1)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    for i, v in enumerate(vals):
        ax.text(i, v + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    if core_k is not None:
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="#c0392b"), plt.Rectangle((0, 0), 1, 1, color="#7f8c8d")],
                  labels=[f"selected top-{core_k}", "other"], fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def topk_figure(path: Path, ks: Sequence[int], losses: Sequence[float], stds: Sequence[float],
                labels: Sequence[str], best_k: int, title: str) -> None:
    """Fig. 6: held-out SmoothL1 loss of the regressor against the number of top-ranked AUs."""
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    ax.errorbar(ks, losses, yerr=stds, marker="o", capsize=3, color="#2c3e50")
    i = list(ks).index(best_k)
    ax.plot([best_k], [losses[i]], marker="*", markersize=16, color="#c0392b", label=f"lowest: top-{best_k}")
    ax.set_xticks(list(ks))
    ax.set_xticklabels([f"{k}\n+{lab}" for k, lab in zip(ks, labels, strict=True)], fontsize=7)
    ax.set_xlabel("number of AUs used (top-k by engagement; the AU added at each k below)")
    ax.set_ylabel("test SmoothL1 loss (mean over folds)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def confusion_figure(path: Path, cms: Mapping[str, np.ndarray], classes: Mapping[str, Sequence[str]],
                     title: str | None = None, per_row: int = 4) -> None:
    """Confusion matrices (rows = truth), one panel per method, ``per_row`` panels a row."""
    n = len(cms)
    cols = min(n, per_row)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.1 * cols, 3.2 * nrows + (0.4 if title else 0)), dpi=110,
                             squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (name, cm) in zip(axes.ravel(), cms.items(), strict=False):
        ax.imshow(cm, cmap="Blues", vmin=0, vmax=max(int(cm.max()), 1))
        names = classes[name]
        ax.set_xticks(range(len(names)), [c.replace(" pain", "") for c in names], fontsize=7)
        ax.set_yticks(range(len(names)), [c.replace(" pain", "") for c in names], fontsize=7)
        for (r, c), v in np.ndenumerate(cm):
            ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=8,
                    color="white" if v > cm.max() / 2 else "black")
        ax.set_title(name if len(name) <= 34 else name[:32] + "...", fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def cam_examples_figure(path: Path, crops: Sequence[np.ndarray], cams: Sequence[np.ndarray],
                        boxes: Sequence[Mapping[str, tuple[int, int, int, int]]], titles: Sequence[str]) -> None:
    """A few aligned crops with their Grad-CAM overlaid and the 10x10 AU regions drawn."""
    n = len(crops)
    if n == 0:
        return
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.9), dpi=110, squeeze=False)
    for ax, crop, cam, bx, t in zip(axes[0], crops, cams, boxes, titles, strict=True):
        ax.imshow(crop[:, :, ::-1])
        ax.imshow(cam, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        for _name, (x0, y0, x1, y1) in bx.items():
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="white", linewidth=0.8))
        ax.set_title(t, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
