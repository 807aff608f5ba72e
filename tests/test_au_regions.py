"""Table I AU regions: inside the face, in the aligned crop, stable under head roll."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from auepa_monitor.core import landmarks as L
from auepa_monitor.core.au_regions import (
    AU_REGION_NAMES,
    CROP_SIZE,
    EYE_DIST,
    EYE_Y,
    align_face,
    au_centers,
    region_au,
    region_boxes,
)
from auepa_monitor.core.records import TABLE_I_AUS
from auepa_monitor.core.sources import VideoFileSource


@pytest.fixture(scope="module")
def frame_and_fit(faces_dir):
    from auepa_monitor.core.face import FaceTracker

    t = FaceTracker()
    img = VideoFileSource(faces_dir / "default.wmv").read().image
    fit, _ = t.process(img)
    yield t, img, fit
    t.close()


def test_every_table_i_au_has_regions():
    assert set(AU_REGION_NAMES) == set(TABLE_I_AUS)
    assert all(region_au(n) == au for au, names in AU_REGION_NAMES.items() for n in names)


def test_centers_follow_the_rule_on_synthetic_landmarks():
    """Upright face, eyes 100 px apart: the rule's offsets can be checked by hand."""
    p = np.zeros((478, 2))
    for i in L.RIGHT_EYE:
        p[i] = (100, 200)
    for i in L.LEFT_EYE:
        p[i] = (200, 200)
    p[list(L.RIGHT_EYE)] += [(-10, 0), (10, 0), (0, -5), (0, 5)]
    p[list(L.LEFT_EYE)] += [(10, 0), (-10, 0), (0, -5), (0, 5)]
    p[L.RIGHT_BROW[-1]] = (130, 170)
    p[L.RIGHT_BROW[0]] = (80, 175)
    p[L.RIGHT_BROW[2]] = (105, 165)
    p[L.LIP_CORNER_RIGHT] = (120, 300)
    p[L.CHIN] = (150, 380)
    c = au_centers(p)
    np.testing.assert_allclose(c["AU1_R"], (130, 170 - 50))  # 1/2 scale above the inner brow
    np.testing.assert_allclose(c["AU2_R"], (80, 175 - 100 / 3))  # 1/3 scale above the outer brow
    np.testing.assert_allclose(c["AU4_R"], (105, 165 + 100 / 3))  # 1/3 scale below the brow center
    np.testing.assert_allclose(c["AU6_R"], (100, 205 + 100))  # 1 scale below the eye bottom
    np.testing.assert_allclose(c["AU7_R"], (100, 200))
    np.testing.assert_allclose(c["AU20_R"], (120, 400))  # 1 scale below the lip corner


@pytest.mark.slow
def test_regions_inside_the_face(frame_and_fit):
    _, img, fit = frame_and_fit
    x, y, w, h = fit.box
    for name, (cx, cy) in au_centers(fit.landmarks).items():
        assert x - 0.1 * w <= cx <= x + 1.1 * w, name
        # AU20 is "1 scale below the lip corner": on an adult face that is at the jaw line.
        assert y - 0.15 * h <= cy <= y + (1.2 if name.startswith("AU20") else 1.0) * h, name


@pytest.mark.slow
def test_aligned_crop_puts_eyes_in_place(frame_and_fit):
    _, img, fit = frame_and_fit
    a = align_face(img, fit.landmarks)
    assert a.image.shape == (CROP_SIZE, CROP_SIZE, 3)
    re, le = L.eye_centers(a.landmarks)
    np.testing.assert_allclose(re, ((0.5 - EYE_DIST / 2) * CROP_SIZE, EYE_Y * CROP_SIZE), atol=0.5)
    np.testing.assert_allclose(le, ((0.5 + EYE_DIST / 2) * CROP_SIZE, EYE_Y * CROP_SIZE), atol=0.5)
    # Crop -> frame mapping inverts the alignment.
    back = a.to_frame(a.landmarks[:10])
    np.testing.assert_allclose(back, fit.landmarks[:10, :2], atol=1e-3)
    # All regions lie inside the crop.
    boxes = region_boxes(au_centers(a.landmarks))
    for name, (x0, y0, x1, y1) in boxes.items():
        assert x1 - x0 == 10 and y1 - y0 == 10, f"{name} is not fully inside the crop"


@pytest.mark.slow
@pytest.mark.parametrize("angle", [-25, 20])
def test_regions_stable_under_head_roll(frame_and_fit, angle):
    """Rotate a real frame: in the aligned crop the regions stay put; in the frame they rotate with it."""
    tracker, img, fit = frame_and_fit
    cx, cy = (fit.box[0] + fit.box[2] / 2, fit.box[1] + fit.box[3] / 2)
    rot = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    rimg = cv2.warpAffine(img, rot, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REPLICATE)
    tracker.set_target(None)
    rfit, _ = tracker.process(rimg)
    assert rfit is not None
    assert abs(abs(rfit.pose.roll - fit.pose.roll) - abs(angle)) < 4
    c0 = au_centers(align_face(img, fit.landmarks).landmarks)
    c1 = au_centers(align_face(rimg, rfit.landmarks).landmarks)
    crop_err = [np.linalg.norm(c0[k] - c1[k]) for k in c0]
    assert max(crop_err) < 6.0, crop_err  # pixels of the 224 crop (regions are 10 px)
    f0 = au_centers(fit.landmarks)
    f1 = au_centers(rfit.landmarks)
    for k in f0:
        expected = rot[:, :2] @ f0[k] + rot[:, 2]
        assert np.linalg.norm(expected - f1[k]) < 8.0, k
