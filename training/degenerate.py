"""Warnings for degenerate models: a constant output, or a class of the truth never predicted.

A model that always answers the same (a collapsed CNN, a regressor whose ReLUs died) can still
score a fair-looking WA on an unbalanced fold; these checks say so in the log and the report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_predictions(name: str, truth: Sequence[Sequence[int]], preds: Sequence[Sequence[int]],
                      class_names: Sequence[str], raw: Sequence[Sequence[float]] | None = None,
                      where: str = "held-out folds", raw_tol: float = 1e-3) -> list[str]:
    """Warnings for one method: ``truth``/``preds`` hold one sequence of class indices per fold
    model (``raw``: its continuous outputs, e.g. 0-10 scores, when it has them).

    - constant output: a fold model whose every prediction is the same class (with at least two
      samples), or whose raw outputs span less than ``raw_tol``;
    - a class never predicted: a class present in the truth that no fold model ever predicted.
    """
    out: list[str] = []
    const = []
    for f, p in enumerate(preds):
        p = np.asarray(p)
        r = np.asarray(raw[f], float) if raw is not None else None
        if r is not None and len(r) >= 2 and float(np.ptp(r)) < raw_tol:
            const.append(f"fold {f} (output {float(r[0]):.3g} on every sample)")
        elif len(p) >= 2 and len(np.unique(p)) == 1:
            const.append(f"fold {f} (always '{class_names[int(p[0])]}')")
    if const:
        out.append(f"{name}: constant output on the {where}: " + "; ".join(const))
    t_all = np.concatenate([np.asarray(t, int) for t in truth]) if truth else np.zeros(0, int)
    p_all = np.concatenate([np.asarray(p, int) for p in preds]) if preds else np.zeros(0, int)
    never = [class_names[c] for c in sorted(set(t_all.tolist())) if c not in set(p_all.tolist())]
    if never:
        out.append(f"{name}: never predicted {', '.join(repr(c) for c in never)} on the {where} "
                   "(present in the truth)")
    return out
