"""Eq. 2 engagement against hand computations on known CAMs."""

from __future__ import annotations

import numpy as np
import pytest

from auepa_monitor.core.au_regions import AU_REGION_NAMES
from auepa_monitor.core.engagement import EngagementAccumulator, normalize, rank, region_engagement

# cam[y, x] = (x + 1000 y) / 1e6: the mean over a 10x10 box with top-left (x0, y0) is
# ((x0 + 4.5) + 1000 (y0 + 4.5)) / 1e6 (means of 0..9 are 4.5).
YY, XX = np.mgrid[0:224, 0:224]
RAMP = ((XX + 1000.0 * YY) / 1e6).astype(np.float32)


def box_mean(x0: int, y0: int) -> float:
    return ((x0 + 4.5) + 1000 * (y0 + 4.5)) / 1e6


def test_single_region_is_its_box_mean():
    # Center (50, 80): box x 45..54, y 75..84.
    e = region_engagement(RAMP, {"AU10": (50.0, 80.0)})
    assert e == {10: pytest.approx(box_mean(45, 75), rel=1e-6)}


def test_bilateral_au_is_the_mean_of_both_sides():
    e = region_engagement(RAMP, {"AU6_R": (60.0, 120.0), "AU6_L": (160.2, 119.6)})
    # (160.2, 119.6) rounds to (160, 120): box x 155..164, y 115..124.
    expected = (box_mean(55, 115) + box_mean(155, 115)) / 2
    assert e[6] == pytest.approx(expected, rel=1e-6)


def test_block_cam_hand_values():
    cam = np.zeros((224, 224), np.float32)
    cam[100:110, 100:110] = 1.0  # exactly AU27's box
    cam[100:105, 30:40] = 0.8  # upper half of AU12_R's box
    centers = {"AU27": (105, 105), "AU12_R": (35, 105), "AU12_L": (185, 105), "AU1_R": (10, 10)}
    e = region_engagement(cam, centers)
    assert e[27] == pytest.approx(1.0)
    assert e[12] == pytest.approx((0.8 * 50 / 100 + 0.0) / 2)  # right side 0.4, left side 0
    assert e[1] == 0.0
    assert set(e) == {27, 12, 1}  # only AUs with a region given
    n = normalize(e)
    assert n == {27: 1.0, 12: pytest.approx(0.2), 1: 0.0}
    assert [au for au, _ in rank(n)] == [27, 12, 1]


def test_clipped_and_outside_regions():
    cam = np.full((224, 224), 0.5, np.float32)
    cam[:5, :] = 1.0
    # Center (100, 2): box y -3..6 clipped to 0..6 -> rows 0-4 at 1.0, row 5-6 at 0.5 -> (5*1 + 2*0.5)/7.
    e = region_engagement(cam, {"AU10": (100, 2), "AU9_R": (-50, 100), "AU9_L": (60, 100)})
    assert e[10] == pytest.approx((5 * 1.0 + 2 * 0.5) / 7)
    assert e[9] == pytest.approx(0.5)  # the side outside the crop is left out
    assert region_engagement(cam, {"AU25": (400, 400)}) == {25: 0.0}


def test_eq2_accumulator_matches_sum_over_images_and_pixels():
    rng = np.random.default_rng(0)
    cams = [rng.random((224, 224)).astype(np.float32) for _ in range(3)]
    centers = [{"AU25": (112 + i, 150), "AU7_R": (80, 90 + i), "AU7_L": (144, 90 - i)} for i in range(3)]
    acc = EngagementAccumulator()
    for cam, c in zip(cams, centers, strict=True):
        acc.add(cam, c)
    assert acc.count == 3
    # Eq. 2 written out: sum over images and over the 100 pixels, / (N * S), per side; sides averaged.
    s25 = sum(float(cam[145:155, 107 + i:117 + i].sum()) for i, cam in enumerate(cams)) / (3 * 100)
    s7r = sum(float(cam[85 + i:95 + i, 75:85].sum()) for i, cam in enumerate(cams)) / (3 * 100)
    s7l = sum(float(cam[85 - i:95 - i, 139:149].sum()) for i, cam in enumerate(cams)) / (3 * 100)
    res = acc.result()
    assert list(res) == [7, 25]  # Table I order
    assert res[25] == pytest.approx(s25, rel=1e-5)
    assert res[7] == pytest.approx((s7r + s7l) / 2, rel=1e-5)
    top = max(res.values())
    assert acc.normalized() == {k: pytest.approx(v / top) for k, v in res.items()}
    assert acc.ranking()[0][1] == pytest.approx(1.0)
    acc.reset()
    assert acc.result() == {} and acc.count == 0 and acc.ranking() == []


def test_all_table_i_aus_from_full_centers():
    centers = {name: (112.0, 112.0) for names in AU_REGION_NAMES.values() for name in names}
    e = region_engagement(RAMP, centers)
    assert list(e) == list(AU_REGION_NAMES)
    assert all(v == pytest.approx(box_mean(107, 107), rel=1e-6) for v in e.values())


def test_rejects_non_square_cam():
    with pytest.raises(ValueError, match="square"):
        region_engagement(np.zeros((224, 200)), {"AU10": (5, 5)})
