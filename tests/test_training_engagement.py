"""Eq. 2 over a data set (the paper's set N of correctly classified images) against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from training.engagement import eq2_engagement


def test_eq2_matches_hand_computation() -> None:
    # Image 1: CAM 1.0 in the 10x10 box around (50, 50), 0.5 around (150, 60), 0 elsewhere.
    cam1 = np.zeros((224, 224), np.float32)
    cam1[45:55, 45:55] = 1.0
    cam1[55:65, 145:155] = 0.5
    # Image 2: constant 0.2 everywhere, and a 0.8 quarter of AU27's box.
    cam2 = np.full((224, 224), 0.2, np.float32)
    cam2[95:100, 95:100] = 0.8
    centers = {"AU25": np.array([50.0, 50.0]), "AU27": np.array([100.0, 100.0]),
               "AU6_R": np.array([150.0, 60.0]), "AU6_L": np.array([20.0, 200.0])}
    # Image 3 is misclassified: it must not count (a huge CAM on AU27 would show).
    cam3 = np.ones((224, 224), np.float32)
    items = [(cam1, centers, 2, 2), (cam2, centers, 0, 0), (cam3, centers, 3, 1)]
    acc = eq2_engagement(items)
    assert acc.count == 2  # |N|
    r = acc.result()
    # Eq. 2: sum over N and over the 100 pixels / (|N| * 100).
    au25 = (100 * 1.0 + 100 * 0.2) / (2 * 100)
    au27 = (0.0 + (75 * 0.2 + 25 * 0.8)) / (2 * 100)
    # Bilateral AU6: mean of the two sides per image, then Eq. 2.
    au6 = ((0.5 + 0.0) / 2 + (0.2 + 0.2) / 2) / 2
    assert r[25] == pytest.approx(au25)
    assert r[27] == pytest.approx(au27)
    assert r[6] == pytest.approx(au6)
    ranking = acc.ranking()
    assert [a for a, _ in ranking] == [25, 6, 27]
    assert ranking[0][1] == pytest.approx(1.0)
    assert ranking[1][1] == pytest.approx(au6 / au25)
    # Without the correctness filter the misclassified image counts too.
    every = eq2_engagement(items, correct_only=False)
    assert every.count == 3
    assert every.result()[27] == pytest.approx((0.0 + 0.35 + 1.0) / 3)
