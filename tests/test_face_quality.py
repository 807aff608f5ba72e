"""Fit quality (FaceTracker._quality, 0-1) drops on unreliable fits, on real frames.

Clean frames keep a high quality; occluded, upside-down or turned faces get a low one instead
of confident wrong landmarks. Occlusions are painted onto a real frame of default.wmv; the
turned faces are a toddler's in a real home video (children/NomNomNom).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from auepa_monitor.core import landmarks as L

pytestmark = pytest.mark.slow

NOMNOM = "4JDccE.joke1.rep1.take1.NomNomNom.mp4"
TODDLER_ROI = (490, 245, 150, 150)  # the toddler on the right at frame 100 (the parent is on the left)


@pytest.fixture
def clean(tracker, faces_dir):
    """First frame of default.wmv (a frontal adult face) and its fit."""
    cap = cv2.VideoCapture(str(faces_dir / "default.wmv"))
    ok, img = cap.read()
    cap.release()
    assert ok
    tracker.set_target(None)
    fit, _ = tracker.process(img)
    assert fit is not None
    return img, fit


def _quality_after(tracker, warm: np.ndarray, img: np.ndarray, roi=None) -> float:
    """Quality of ``img`` while tracking: one clean frame first, as in a video where a hand comes in."""
    tracker.set_target(roi)
    tracker.process(warm)
    fit, _ = tracker.process(img)
    return 0.0 if fit is None else fit.quality


def test_clean_frontal_face_has_high_quality(clean, tracker):
    _, fit = clean
    assert fit.quality >= 0.9, tracker.last_quality_parts


@pytest.mark.parametrize("what", ["lower half black", "eyes black", "right half black", "lower half skin colour"])
def test_occlusion_drops_quality(clean, tracker, what):
    img, fit = clean
    x, y, w, h = (int(v) for v in fit.box)
    lm = fit.landmarks
    occ = img.copy()
    nose_y = int(lm[L.NOSE_TIP, 1])
    eye_y = int((lm[159, 1] + lm[386, 1]) / 2)
    if what == "lower half black":
        occ[nose_y:y + h + 10, x - 10:x + w + 10] = 0
    elif what == "eyes black":
        occ[eye_y - int(0.15 * h):eye_y + int(0.12 * h), x - 10:x + w + 10] = 0
    elif what == "right half black":  # the image's right half: the subject's left eye and mouth corner
        occ[y:y + h, x + w // 2:x + w + 10] = 0
    else:  # a flat patch of the person's own skin colour (like a hand close to the lens)
        occ[nose_y:y + h + 10, x - 10:x + w + 10] = img[int(lm[4, 1]), int(lm[4, 0])]
    q = _quality_after(tracker, img, occ)
    assert q <= 0.3, (what, q, tracker.last_quality_parts)
    assert q < fit.quality - 0.6


def test_mirror_and_moderate_roll_keep_quality(clean, tracker):
    img, fit = clean
    x, y, w, h = fit.box
    tracker.set_target(None)
    flipped, _ = tracker.process(cv2.flip(img, 1))
    assert flipped is not None and flipped.quality >= 0.9
    for angle in (30, -30):
        m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
        rolled = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]))
        q = _quality_after(tracker, img, rolled)
        assert q >= 0.8, (angle, tracker.last_quality_parts)


def test_a_face_too_dark_to_measure_is_not_scored(clean, tracker):
    """The lights go down: a dim face keeps its quality, but at a tenth of the light (eyes, nose and
    mouth under 15 grey levels) both networks still fit it with full confidence, and only the
    exposure factor says it is too dark to measure (as on dark clothing taken for a face)."""
    from auepa_monitor.core.face import unscored_reason

    img, fit = clean
    assert _quality_after(tracker, img, (img * 0.35).astype(np.uint8)) >= 0.9, tracker.last_quality_parts
    tracker.set_target(None)
    tracker.process(img)
    dark, _ = tracker.process((img * 0.1).astype(np.uint8))
    assert dark is not None and dark.quality_parts["presence"] >= 0.9  # the networks are sure
    assert dark.quality_parts["exposure"] < 0.3 and unscored_reason(dark) == "too_dark", dict(dark.quality_parts)


def test_upside_down_face_is_not_a_confident_fit(clean, tracker):
    """The landmarker fits an upright mesh to an upside-down face; the detector disagrees."""
    img, fit = clean
    x, y, w, h = fit.box
    m = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), 180, 1.0)
    upside_down = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]))
    q = _quality_after(tracker, img, upside_down)
    assert q <= 0.6, tracker.last_quality_parts
    assert q < fit.quality - 0.35


def _small(img: np.ndarray, fit, width: int = 40) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The face shrunk to ``width`` px wide in a grey 640x480 canvas, and an ROI around it."""
    x, y, w, h = (int(v) for v in fit.box)
    pad = w // 3
    face = img[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
    s = width / w
    small = cv2.resize(face, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[300:300 + small.shape[0], 420:420 + small.shape[1]] = small
    return canvas, (400, 280, small.shape[1] + 40, small.shape[0] + 40)


def test_small_face_found_with_roi_and_its_occlusion_detected(clean, tracker):
    img, fit = clean
    canvas, roi = _small(img, fit)
    tracker.set_target(roi)
    small_fit, _ = tracker.process(canvas)
    assert small_fit is not None and 25 < small_fit.box[2] < 70
    assert small_fit.quality >= 0.8, tracker.last_quality_parts
    # Same small face with its lower half covered.
    occ = img.copy()
    x, y, w, h = (int(v) for v in fit.box)
    occ[int(fit.landmarks[L.NOSE_TIP, 1]):y + h + 10, x - 10:x + w + 10] = 0
    occ_canvas, _ = _small(occ, fit)
    q = _quality_after(tracker, canvas, occ_canvas, roi)
    assert q <= 0.3, tracker.last_quality_parts


def _toddler_run(tracker, children_dir, start: int, stop: int) -> list[tuple[int, float, float]]:
    """(frame, quality, yaw) of every fitted frame of the toddler in NomNomNom, frames start..stop-1."""
    cap = cv2.VideoCapture(str(children_dir / NOMNOM))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    tracker.set_target(TODDLER_ROI)
    out = []
    for i in range(start, stop):
        ok, img = cap.read()
        if not ok:
            break
        fit, _ = tracker.process(img)
        if fit is not None:
            out.append((i, fit.quality, fit.pose.yaw))
    cap.release()
    return out


def test_turned_toddler_gets_low_quality_frontal_toddler_high(tracker, children_dir):
    """NomNomNom: the toddler faces the camera in frames 110-150 and turns to profile with a hand
    at the mouth in frames 340-395 (checked by eye on a contact sheet; from ~396 the face turns back:
    frame 396 reads 41 deg of yaw, a three-quarter view the tracker may score)."""
    frontal = _toddler_run(tracker, children_dir, 100, 150)
    turned = _toddler_run(tracker, children_dir, 340, 396)
    assert len(frontal) >= 35
    assert np.median([q for _, q, _ in frontal]) >= 0.8
    # Where the landmarker still returns a mesh on the turned face, the quality says not to trust it.
    assert turned, "expected the landmarker to return (unreliable) fits on the turned face"
    assert max(q for _, q, _ in turned) <= 0.5, turned
    assert np.mean([q for _, q, _ in turned]) <= 0.25, turned


def test_quality_parts_are_reported(clean, tracker):
    img, _ = clean
    tracker.set_target(None)
    fit, _ = tracker.process(img)
    parts = tracker.last_quality_parts
    assert set(parts) == {"presence", "turn", "profile", "keypoints", "visible", "exposure"}
    assert dict(fit.quality_parts) == parts
    assert all(0.0 <= v <= 1.0 for v in parts.values())
    assert fit.quality == pytest.approx(float(np.prod(list(parts.values()))))
