"""Face finding and target tracking on the real sample media."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from auepa_monitor.core.sources import ImageSource, VideoFileSource

pytestmark = pytest.mark.slow


def _center_x(box):
    return box[0] + box[2] / 2


def test_faces_found_on_sample_video(tracker, faces_dir):
    tracker.set_target(None)
    src = VideoFileSource(faces_dir / "default.wmv")
    found = 0
    for _ in range(30):
        fit, seen = tracker.process(src.read().image)
        found += fit is not None
        assert seen >= (1 if fit else 0)
    src.close()
    assert found == 30
    assert fit.landmarks.shape == (478, 3)
    assert len(fit.blendshapes) == 52
    assert 0.0 <= fit.quality <= 1.0
    x, y, w, h = fit.box
    assert 100 < w < 300 and 100 < h < 320  # a 640x480 talking-head video


@pytest.mark.parametrize("name,min_faces", [("sample1.jpg", 1), ("sample3.jpg", 1), ("sample5.jpg", 1),
                                            ("sample2.jpg", 2), ("sample6.jpg", 4)])
def test_faces_found_on_stills(tracker, faces_dir, name, min_faces):
    tracker.set_target(None)
    img = ImageSource(faces_dir / name).read().image
    fit, seen = tracker.process(img)
    assert fit is not None, f"no face fitted on {name}"
    assert seen >= min_faces
    # The fit is a face: eyes above the mouth, inside the box.
    lm = fit.landmarks
    assert lm[159, 1] < lm[13, 1] < lm[152, 1]


def test_multi_face_counts_faces(tracker, faces_dir):
    tracker.set_target(None)
    src = VideoFileSource(faces_dir / "multi_face.avi")
    seen = [tracker.process(src.read().image)[1] for _ in range(40)]
    src.close()
    assert max(seen) >= 2  # three people; the detector sees at least two in most frames
    assert np.median(seen) >= 2


def test_target_kept_when_another_face_is_larger(tracker, children_dir):
    """NomNomNom: the parent (left) and the toddler (right); from frame ~110 the parent's face is larger."""
    path = children_dir / "4JDccE.joke1.rep1.take1.NomNomNom.mp4"
    src = VideoFileSource(path)
    src.seek(120)
    first = src.read().image
    # Without a region the largest face is the parent on the left ...
    tracker.pick = "largest"
    try:
        tracker.set_target(None)
        fit, seen = tracker.process(first)
    finally:
        tracker.pick = "youngest"
    assert fit is not None and _center_x(fit.box) < 320 and seen >= 2
    # ... and the default rule takes the face with the child's proportions: the toddler.
    tracker.set_target(None)
    fit, seen = tracker.process(first)
    assert fit is not None and _center_x(fit.box) > 400 and seen >= 2
    # With a region on the toddler, the toddler stays the target for the next 60 frames,
    # through turns to profile (no fit) and back.
    tracker.set_target((490, 245, 150, 150))
    fit, _ = tracker.process(first)
    assert fit is not None and _center_x(fit.box) > 400
    xs, two_faces = [], 0
    for _ in range(60):
        fit, seen = tracker.process(src.read().image)
        two_faces += seen >= 2
        if fit is not None:
            xs.append(_center_x(fit.box))
    src.close()
    assert two_faces >= 20  # the parent really is in view
    assert len(xs) >= 20
    assert min(xs) > 330, "the tracker jumped to the parent's face"


def test_small_face_found_with_roi(tracker, faces_dir):
    """A ~45 px face in a 640x480 frame (as infant faces in real recordings) is fitted inside the ROI."""
    img = VideoFileSource(faces_dir / "default.wmv").read().image
    tracker.set_target(None)
    big, _ = tracker.process(img)
    x, y, w, h = (int(v) for v in big.box)
    pad = w // 3
    face = img[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
    scale = 45.0 / w
    small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[300:300 + small.shape[0], 420:420 + small.shape[1]] = small
    tracker.set_target((400, 280, small.shape[1] + 40, small.shape[0] + 40))
    fit, _ = tracker.process(canvas)
    assert fit is not None
    assert 30 < fit.box[2] < 75
    assert 420 <= _center_x(fit.box) <= 420 + small.shape[1]


def test_mirrored_fit_reads_as_the_direct_fit(tracker, faces_dir):
    """The landmark network on the mirrored crop, mapped back (positions and landmark numbers), gives
    the direct fit's points within a few hundredths of the eye distance: the mirror map is right."""
    from auepa_monitor.core import landmarks as L
    from auepa_monitor.core.face_nets import roi_from_landmarks

    tracker.set_target(None)
    src = VideoFileSource(faces_dir / "default.wmv")
    for _ in range(20):
        frame = src.read().image
        fit, _ = tracker.process(frame)
    src.close()
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    roi = roi_from_landmarks(fit.landmarks)
    direct, p_direct = tracker.nets.landmarks(rgb, roi)[:2]
    mirrored, p_mirrored = tracker.nets.landmarks(rgb, roi, mirror=True)[:2]
    assert p_direct > 0.9 and p_mirrored > 0.9
    re, le = L.eye_centers(direct)
    iod = float(np.linalg.norm(le - re))
    err = np.linalg.norm(mirrored[:, :2] - direct[:, :2], axis=1) / iod
    assert float(np.median(err)) < 0.03 and float(err.max()) < 0.15, (np.median(err), err.max())
    assert float(np.median(err[468:])) < 0.05  # the irises, mapped by their own table


def test_target_signature_judges_only_a_refound_face_against_settled_values():
    """The signature learns from fits of quality >= 0.5, judges a face found after a loss against
    the median of its values before the newest ``delay``, and has no opinion before it is ready."""
    from auepa_monitor.core.face import TargetSignature

    sig = TargetSignature(min_samples=5, delay=3, tol_new=0.12)
    assert sig.accepts(0.9, 1.0)  # not ready: no evidence either way
    for _ in range(7):
        sig.update(0.48, 1.0)  # a toddler's nose depth
    sig.update(0.95, 0.2)  # a poor fit teaches nothing
    assert not sig.ready  # 7 values, the newest 3 not settled yet
    sig.update(0.48, 1.0)
    assert sig.ready
    assert sig.accepts(0.55, 1.0)
    assert not sig.accepts(0.62, 1.0)  # a parent's proportions
    assert sig.accepts(0.62, 0.3)  # a poor fit is not judged
    for _ in range(3):
        sig.update(0.62, 1.0)  # the newest values do not move the median at once
    assert not sig.accepts(0.62, 1.0)
    sig.reset()
    assert not sig.ready and sig.accepts(0.9, 1.0)


def test_returned_points_are_smoothed_and_tracking_uses_the_raw_ones(face_tracker_factory, faces_dir):
    """Each returned fit's shape (points less the eye corners' mean) is 0.5 x this frame's + 0.5 x the
    previous returned fit's, placed at this frame's eye corners; the box, pose, crops and everything the
    tracker decides come from the raw points (a tracker without smoothing returns them and the same boxes)."""
    smooth = face_tracker_factory()
    raw = face_tracker_factory(smoothing=1.0)
    assert smooth.smoothing == 0.5
    src = VideoFileSource(faces_dir / "default.wmv")
    prev = None
    steps_s, steps_r = [], []
    last_raw = None
    for _ in range(40):
        img = src.read().image
        fs, _ = smooth.process(img)
        fr, _ = raw.process(img)
        assert fs is not None and fr is not None
        assert fs.box == fr.box and fs.pose == fr.pose and fs.quality == fr.quality
        # the shape relative to the eye corners' mean is averaged; the face stays at this frame's eyes
        anchor = np.zeros(3)
        anchor[:2] = fr.landmarks[[33, 133, 362, 263], :2].mean(axis=0)
        want = fr.landmarks if prev is None else anchor + 0.5 * (fr.landmarks - anchor) + 0.5 * prev
        np.testing.assert_allclose(fs.landmarks, want, atol=1e-3)
        np.testing.assert_allclose(fs.landmarks[[33, 133, 362, 263], :2].mean(axis=0), anchor[:2], atol=1e-3)
        np.testing.assert_array_equal(fs.image_landmarks, fr.landmarks)  # crops use this frame's points
        if prev is not None:  # frame-to-frame change of the shape (eye corners' mean removed)
            last_anchor = last_raw[[33, 133, 362, 263], :2].mean(axis=0)
            steps_s.append(np.abs(fs.landmarks[:, :2] - anchor[:2] - prev[:, :2]).mean())
            steps_r.append(np.abs(fr.landmarks[:, :2] - anchor[:2] - (last_raw[:, :2] - last_anchor)).mean())
        prev = np.array(fs.landmarks) - anchor
        last_raw = np.array(fr.landmarks)
    src.close()
    assert np.mean(steps_s) < 0.8 * np.mean(steps_r)  # less frame-to-frame jitter
    src = VideoFileSource(faces_dir / "default.wmv")
    img = src.read().image
    src.close()
    smooth.reset()
    raw.reset()
    fs, _ = smooth.process(img)
    fr, _ = raw.process(img)
    np.testing.assert_array_equal(fs.landmarks, fr.landmarks)  # a reset restarts the average
