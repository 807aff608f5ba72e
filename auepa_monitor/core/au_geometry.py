"""Geometric AU measures: one definition, two landmark sets (MediaPipe 478 in 3D, OpenFace 68 in 2D).

**Face frame.** Every measure is taken in a face-fixed frame whose unit is the inter-ocular
distance (IOD: distance between the eye centres, each eye centre the midpoint of its two
corners), x from the subject's right eye to their left eye, y up (towards the forehead).

* What the engine uses (:func:`measures_mp`): MediaPipe's points in the 2D eye-line frame (a
  similarity: roll and scale removed), nothing else. A linear correction of each measure by the
  tracker's head pitch (brows, mouth and chin lie at another depth than the eye corners, so a
  nod moves them in 2D; slopes fitted within video) was evaluated and dropped: on the children
  set it cut the within-video r against OpenFace's geometry (brow_inner 0.60 -> 0.40, lip_pull
  0.62 -> 0.50; with OpenFace's head rotation partialled out of both still 0.54 -> 0.44 and
  0.63 -> 0.58): the tracker's pitch on small faces (r 0.58 with OpenFace's) is too noisy to
  correct with.
* Evaluated and not used by the engine (:func:`to_face_frame_mp`, :func:`measures_mp_3d`): a
  weighted 3D similarity (Umeyama) of stable points (eye corners, nose bridge and dorsum, upper
  forehead: ``ANCHORS``) onto a reference shape, each measured point placed from its 2D
  position and a reference depth. On the children's small faces its rotation estimate added
  more noise than the pose it removed (brow_inner within-video r against OpenFace's geometry
  0.10, against 0.58 in 2D, and 0.15 against 0.55 with OpenFace's pose partialled out).
* OpenFace 68 (2D, :func:`measures_68`): the same eye-line frame; OpenFace's 2D points carry
  no depth.

**Measures** (``MEASURES``, all in IOD; "height" = y in the face frame; the mean of both sides):

* ``brow_inner`` (AU01): height of the inner brow end above the inner eye corner.
* ``brow_outer`` (AU02): height of the outer brow end above the outer eye corner.

  Evaluated for both brow measures, not kept (children, within-video r of our raw measure against
  OpenFace's, chosen on 3dC3SQ, checked on 4JDccE): the inner brow above its eye's centre instead
  of the inner corner, 0.61 -> 0.67 on 3dC3SQ but 0.68 -> 0.68 on 4JDccE, and on the clear
  references AU01 held out 0.74 -> 0.72 (multi_face); more MediaPipe brow points per end (four
  instead of two) no better on either family. OpenFace's outer brow as the mean of 17+18 (26+25)
  instead of 17 (26) alone would raise AU02's r from 0.57 to 0.66, but only by changing the
  yardstick: nothing independent says point 17 is the noisier one (its r with OpenFace's own
  AU02_r 0.10 against 0.09, frame-to-frame jitter 0.62 against 0.59 of its spread).
* ``brow_lower`` (AU04, brow lowering): minus [mean height of the brow points above the eye
  corners' mean + the horizontal gap between the inner brow ends]: it grows when the brows come
  down and when they are drawn together.
* ``lip_pull`` (AU12): the lip corners' height above the midpoint of the inner lips
  (lips-closed point) plus half the mouth width; corners pulled up and out.
* ``mouth_width`` (AU20, lip stretch): the distance between the lip corners.
* ``lip_gap`` (AU25, AU27): the distance between the inner lips at the midline.
* ``jaw_drop`` (AU26): depth of the chin below the eye line.
* ``eye_open`` (AU43, AU45): eye aspect ratio, lid gap (mean of two upper and two lower lid
  points) over eye width (corner to corner).
* ``lower_lid`` (AU07, lid tightening): height of the lower lid (mean of its two points) above
  its eye's corner line, in that eye's widths (it rises as the lid tightens). The upper lid
  follows the gaze: on the children set MediaPipe's upper lid height moves with its iris height at
  r 0.51 and the eye aspect ratio at 0.42, the lower lid at -0.01.

Landmarks used (MediaPipe / OpenFace 68): brows 70 63 105 66 107 + 46 53 52 65 55 and
300 293 334 296 336 + 276 283 282 295 285 / 17-21 and 22-26 (outer -> inner, inner ends
107+55, 336+285 / 21, 22; outer 70+46, 300+276 / 17, 26); eye corners 33 133 362 263 / 36 39
42 45; lids 160 158 / 144 153 and 385 387 / 380 373 / 37 38 / 41 40 and 43 44 / 47 46; lip
corners 61 291 / 48 54; inner lips 13 14 / 62 66; chin 152 / 8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES: tuple[str, ...] = ("brow_inner", "brow_outer", "brow_lower", "lip_pull", "mouth_width", "lip_gap",
                             "jaw_drop", "eye_open", "lip_raise", "lower_lid")


@dataclass(frozen=True)
class LandmarkSpec:
    """Indices of one landmark set; tuples are averaged. Sides: ``_r`` subject's right."""

    brow_r: tuple[int, ...]  # outer -> inner
    brow_l: tuple[int, ...]
    brow_inner_r: tuple[int, ...]
    brow_inner_l: tuple[int, ...]
    brow_outer_r: tuple[int, ...]
    brow_outer_l: tuple[int, ...]
    eye_outer_r: int
    eye_inner_r: int
    eye_inner_l: int
    eye_outer_l: int
    lid_up_r: tuple[int, ...]
    lid_lo_r: tuple[int, ...]
    lid_up_l: tuple[int, ...]
    lid_lo_l: tuple[int, ...]
    corner_r: int
    corner_l: int
    lip_in_up: int
    lip_in_lo: int
    chin: int
    lip_out_up: int
    subnasale: int


MP = LandmarkSpec(
    brow_r=(70, 63, 105, 66, 107, 46, 53, 52, 65, 55), brow_l=(300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
    brow_inner_r=(107, 55), brow_inner_l=(336, 285), brow_outer_r=(70, 46), brow_outer_l=(300, 276),
    eye_outer_r=33, eye_inner_r=133, eye_inner_l=362, eye_outer_l=263,
    lid_up_r=(160, 158), lid_lo_r=(144, 153), lid_up_l=(385, 387), lid_lo_l=(380, 373),
    corner_r=61, corner_l=291, lip_in_up=13, lip_in_lo=14, chin=152, lip_out_up=0, subnasale=2,
)
OF68 = LandmarkSpec(
    brow_r=(17, 18, 19, 20, 21), brow_l=(26, 25, 24, 23, 22),
    brow_inner_r=(21,), brow_inner_l=(22,), brow_outer_r=(17,), brow_outer_l=(26,),
    eye_outer_r=36, eye_inner_r=39, eye_inner_l=42, eye_outer_l=45,
    lid_up_r=(37, 38), lid_lo_r=(41, 40), lid_up_l=(43, 44), lid_lo_l=(47, 46),
    corner_r=48, corner_l=54, lip_in_up=62, lip_in_lo=66, chin=8, lip_out_up=51, subnasale=33,
)

#: MediaPipe points for the rigid alignment: eye corners, nose bridge and dorsum, upper forehead.
ANCHORS: tuple[int, ...] = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151)
ANCHOR_WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5])
#: The anchors' reference shape in the face frame (IOD units; x to the subject's left, y up,
#: z towards the camera). Median over the clear references' good fits (fit_au_calibration prints it).
REFERENCE = np.array([
    [-0.718, 0.0, -0.04], [-0.282, 0.0, 0.04], [0.282, 0.0, 0.04], [0.718, 0.0, -0.04],
    [0.0, 0.144, 0.306], [0.0, 0.068, 0.409], [0.0, -0.01, 0.518], [0.0, -0.078, 0.634],
    [0.0, -0.153, 0.754], [0.0, -0.263, 0.832], [0.0, 0.802, 0.0], [0.0, 0.595, 0.128],
])


def _used(spec: LandmarkSpec) -> list[int]:
    idx: set[int] = set()
    for v in spec.__dict__.values():
        idx.update(v if isinstance(v, tuple) else (v,))
    return sorted(idx)


MP_USED: list[int] = sorted(set(_used(MP)) | set(ANCHORS))


def umeyama(src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted similarity ``dst ~ s * R @ src + t`` (R a proper rotation). Returns s, R, t."""
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    cov = (b * w[:, None]).T @ a
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(len(sv))
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var = float((w * (a * a).sum(axis=1)).sum())
    s = float((sv * d).sum() / max(var, 1e-12))
    return s, r, mu_d - s * r @ mu_s


#: Depth (z, IOD units, towards the camera) of every measured MediaPipe point in the face frame:
#: the median over the clear references' good fits (symmetrised). Measured points are placed in
#: the face frame from their 2D image position and this depth (see :func:`to_face_frame_mp`).
DEPTH: dict[int, float] = {
    0: 0.666, 2: 0.617, 4: 0.833, 5: 0.753, 6: 0.410, 10: 0.000, 13: 0.607, 14: 0.606, 33: -0.042,
    46: -0.008, 52: 0.144, 53: 0.076, 55: 0.245, 61: 0.372, 63: 0.007, 65: 0.199, 66: 0.194, 70: -0.104,
    105: 0.099, 107: 0.245, 133: 0.041, 144: 0.051, 151: 0.128, 152: 0.581, 153: 0.075, 158: 0.073,
    160: 0.050, 168: 0.306, 195: 0.633, 197: 0.519, 263: -0.042, 276: -0.008, 282: 0.144, 283: 0.076,
    285: 0.245, 291: 0.372, 293: 0.007, 295: 0.199, 296: 0.194, 300: -0.104, 334: 0.099, 336: 0.245,
    362: 0.041, 373: 0.051, 380: 0.075, 385: 0.073, 387: 0.050,
}
_DEPTH_USED = np.array([DEPTH[i] for i in MP_USED])
#: Share of ``DEPTH`` used when placing points: with the full depth a nod moved the brow measures
#: the other way than in 2D (over-corrected: +0.013/+0.026 IOD per 10 deg pitch on the clear refs /
#: children, against -0.045/-0.031 in 2D); 0.5 brings the pitch slope of the brow measures to
#: about zero on both sets (training/validate_aus.py reports it).
DEPTH_GAIN = 0.5


def to_face_frame_mp(landmarks: np.ndarray) -> np.ndarray:
    """(478, 3) MediaPipe landmarks -> (478, 3) in the face frame (IOD units, y up); only
    ``MP_USED`` rows are filled, the others are NaN.

    The head's rotation, scale and position come from a similarity fit of the anchors'
    3D points onto ``REFERENCE``. Each measured point is then placed in the face frame from its
    2D image position and its reference depth (``DEPTH``): MediaPipe's per-frame depth is far
    noisier than its x, y, so it serves the rotation fit only (where 12 points average it).
    """
    p = np.asarray(landmarks, dtype=np.float64)
    q = p[list(ANCHORS)].copy()
    q[:, 1:] *= -1.0  # image y is down and MediaPipe z grows away from the camera; the face frame's do not
    s, r, t = umeyama(REFERENCE, q, ANCHOR_WEIGHTS)  # face frame -> (x, -y, -z) image
    a = s * r[:2, :2]
    obs = p[MP_USED, :2].copy()
    obs[:, 1] *= -1.0
    z = _DEPTH_USED * DEPTH_GAIN
    xy = (obs - t[:2] - s * np.outer(z, r[:2, 2])) @ np.linalg.inv(a).T
    out = np.full((p.shape[0], 3), np.nan)
    out[MP_USED, :2] = xy
    out[MP_USED, 2] = z
    return out


def to_face_frame_2d(pts: np.ndarray, spec: LandmarkSpec = OF68) -> np.ndarray:
    """(N, 2) image points -> (N, 2) in the eye-line frame (IOD units, y up)."""
    p = np.asarray(pts, dtype=np.float64)[:, :2]
    re = (p[spec.eye_outer_r] + p[spec.eye_inner_r]) / 2
    le = (p[spec.eye_outer_l] + p[spec.eye_inner_l]) / 2
    v = le - re
    d = float(np.hypot(*v)) or 1.0
    ux = v / d
    uy = np.array([ux[1], -ux[0]])  # perpendicular, pointing up in the image (y down)
    c = p - (re + le) / 2
    return np.stack([c @ ux, c @ uy], axis=1) / d


def _above_eye_line(f: np.ndarray, outer: int, inner: int, y: float) -> float:
    """Height ``y`` (face frame) above the line through one eye's corners, in that eye's widths."""
    return float((y - (f[outer][1] + f[inner][1]) / 2) / max(float(np.linalg.norm(f[inner] - f[outer])), 1e-6))


def measures(f: np.ndarray, spec: LandmarkSpec) -> dict[str, float]:
    """The ``MEASURES`` from points already in the face frame (2 or 3 columns; see module doc)."""

    def m(idx) -> np.ndarray:
        # add.reduce / n is ``mean`` without its Python wrapper (14 calls a frame)
        return np.add.reduce(f[list(idx)], axis=0) / len(idx) if isinstance(idx, tuple) else f[idx]

    y = 1
    eo_r, ei_r, ei_l, eo_l = f[spec.eye_outer_r], f[spec.eye_inner_r], f[spec.eye_inner_l], f[spec.eye_outer_l]
    inner = (m(spec.brow_inner_r)[y] - ei_r[y] + m(spec.brow_inner_l)[y] - ei_l[y]) / 2
    outer = (m(spec.brow_outer_r)[y] - eo_r[y] + m(spec.brow_outer_l)[y] - eo_l[y]) / 2
    corners_y = (eo_r[y] + ei_r[y] + ei_l[y] + eo_l[y]) / 4
    brow_h = (m(spec.brow_r)[y] + m(spec.brow_l)[y]) / 2 - corners_y
    gap = abs(m(spec.brow_inner_l)[0] - m(spec.brow_inner_r)[0])
    cr, cl = f[spec.corner_r], f[spec.corner_l]
    up, lo = f[spec.lip_in_up], f[spec.lip_in_lo]
    mid = (up + lo) / 2
    width = float(np.linalg.norm(cl - cr))
    lift = ((cr[y] + cl[y]) / 2 - mid[y])

    def ear(o, i, u, lw) -> float:
        return float(np.linalg.norm(m(lw) - m(u)) / max(np.linalg.norm(f[i] - f[o]), 1e-6))

    return {
        "brow_inner": float(inner),
        "brow_outer": float(outer),
        "brow_lower": float(-brow_h - gap),
        "lip_pull": float(lift + 0.5 * width),
        "mouth_width": width,
        "lip_gap": float(np.linalg.norm(lo - up)),
        "jaw_drop": float(-f[spec.chin][y]),
        "lip_raise": float(-np.linalg.norm(f[spec.lip_out_up][:2] - f[spec.subnasale][:2])),
        "eye_open": (ear(spec.eye_outer_r, spec.eye_inner_r, spec.lid_up_r, spec.lid_lo_r)
                     + ear(spec.eye_outer_l, spec.eye_inner_l, spec.lid_up_l, spec.lid_lo_l)) / 2,
        "lower_lid": (_above_eye_line(f, spec.eye_outer_r, spec.eye_inner_r, m(spec.lid_lo_r)[y])
                      + _above_eye_line(f, spec.eye_outer_l, spec.eye_inner_l, m(spec.lid_lo_l)[y])) / 2,
    }


def measures_mp(landmarks: np.ndarray, yaw: float = 0.0, pitch: float = 0.0) -> dict[str, float]:
    """The engine's measures: MediaPipe landmarks in the 2D eye-line frame (roll and scale removed).

    ``yaw`` and ``pitch`` are accepted for the interface and unused: a pitch-slope correction and
    a cos(yaw)/cos(pitch) rescaling with the tracker's pose were both tried and both cut the
    children-set agreement with OpenFace's geometry (module doc): the pose on small faces is too noisy."""
    del yaw, pitch
    return measures(to_face_frame_2d(np.asarray(landmarks)[:, :2], MP), MP)


def measures_mp_3d(landmarks: np.ndarray) -> dict[str, float]:
    """:func:`measures` in the 3D face frame of :func:`to_face_frame_mp` (evaluated, not used by
    the engine: on the children's small faces it lost the agreement with OpenFace's geometry)."""
    return measures(to_face_frame_mp(landmarks), MP)


#: MediaPipe's iris centres (478-point model): subject's right, left.
IRIS_MP = (468, 473)


def iris_height_mp(landmarks: np.ndarray) -> float:
    """Iris centre height above its eye's corner line, in eye widths, mean of both eyes (negative:
    looking down). What the validation uses to tell a downward look from a lid action."""
    f = to_face_frame_2d(np.asarray(landmarks)[:, :2], MP)
    return (_above_eye_line(f, MP.eye_outer_r, MP.eye_inner_r, f[IRIS_MP[0], 1])
            + _above_eye_line(f, MP.eye_outer_l, MP.eye_inner_l, f[IRIS_MP[1], 1])) / 2


def measures_68(pts: np.ndarray) -> dict[str, float]:
    """:func:`measures` of OpenFace's (68, 2) landmarks in the 2D eye-line frame."""
    return measures(to_face_frame_2d(pts, OF68), OF68)


def measures_mp_2d(landmarks: np.ndarray) -> dict[str, float]:
    """:func:`measures` of MediaPipe landmarks in the 2D eye-line frame (no pose removal)."""
    return measures(to_face_frame_2d(np.asarray(landmarks)[:, :2], MP), MP)
