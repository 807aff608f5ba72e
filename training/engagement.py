"""Eq. 2 over a data set: AU engagement from the Grad-CAMs of the correctly classified images.

The per-image region means and the running average are :mod:`auepa_monitor.core.engagement`'s
(the same code the monitor uses per frame); this module only picks the images (Eq. 2's set N).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from auepa_monitor.core.engagement import EngagementAccumulator

Item = tuple[np.ndarray, Mapping[str, np.ndarray], int, int]  # (cam 224x224 0-1, centers, true, predicted)


def eq2_engagement(items: Iterable[Item], correct_only: bool = True) -> EngagementAccumulator:
    """Accumulate Eq. 2 over ``items``; with ``correct_only`` only images whose prediction equals
    the truth count (the paper's set N). ``acc.count`` is |N|."""
    acc = EngagementAccumulator()
    for cam, centers, true, pred in items:
        if correct_only and int(true) != int(pred):
            continue
        acc.add(cam, centers)
    return acc
