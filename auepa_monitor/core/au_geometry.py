"""Geometric AU measures: one definition, two landmark sets (MediaPipe 478 in 3D, OpenFace 68 in 2D).

**Face frame.** Every measure is taken in a face-fixed frame whose unit is the inter-ocular
distance (IOD: distance between the eye centres, each eye centre the midpoint of its two
corners), x from the subject's right eye to their left eye, y up (towards the forehead).

* MediaPipe 478 (3D; x, y frame pixels, z relative depth on the same scale): a weighted
  similarity (Umeyama: rotation in 3D, uniform scale, translation) of stable points (eye
  corners, nose bridge and dorsum, upper forehead: ``ANCHORS``) onto a fixed reference
  shape (``REFERENCE``, the median of those points on the clear references, in IOD units).
  A head turn or nod is a rotation of all points together and is removed; what remains is
  motion of the face relative to its upper, rigid part.
* OpenFace 68 (2D): the roll and scale of the eye line only (a 2D similarity with the eye
  centres at (-0.5, 0) and (0.5, 0)); OpenFace's 2D points carry no depth.

**Measures** (``MEASURES``, all in IOD; "height" = y in the face frame; the mean of both sides):

* ``brow_inner`` (AU01): height of the inner brow end above the inner eye corner.
* ``brow_outer`` (AU02): height of the outer brow end above the outer eye corner.
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
                             "jaw_drop", "eye_open")


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


MP = LandmarkSpec(
    brow_r=(70, 63, 105, 66, 107, 46, 53, 52, 65, 55), brow_l=(300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
    brow_inner_r=(107, 55), brow_inner_l=(336, 285), brow_outer_r=(70, 46), brow_outer_l=(300, 276),
    eye_outer_r=33, eye_inner_r=133, eye_inner_l=362, eye_outer_l=263,
    lid_up_r=(160, 158), lid_lo_r=(144, 153), lid_up_l=(385, 387), lid_lo_l=(380, 373),
    corner_r=61, corner_l=291, lip_in_up=13, lip_in_lo=14, chin=152,
)
OF68 = LandmarkSpec(
    brow_r=(17, 18, 19, 20, 21), brow_l=(26, 25, 24, 23, 22),
    brow_inner_r=(21,), brow_inner_l=(22,), brow_outer_r=(17,), brow_outer_l=(26,),
    eye_outer_r=36, eye_inner_r=39, eye_inner_l=42, eye_outer_l=45,
    lid_up_r=(37, 38), lid_lo_r=(41, 40), lid_up_l=(43, 44), lid_lo_l=(47, 46),
    corner_r=48, corner_l=54, lip_in_up=62, lip_in_lo=66, chin=8,
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


def to_face_frame_mp(landmarks: np.ndarray) -> np.ndarray:
    """(478, 3) MediaPipe landmarks -> (478, 3) in the face frame (IOD units, y up); only
    ``MP_USED`` rows are filled, the others are NaN."""
    p = np.asarray(landmarks, dtype=np.float64)
    q = p[list(ANCHORS)].copy()
    q[:, 1] *= -1.0  # image y is down; the face frame's y is up
    q[:, 2] *= -1.0  # MediaPipe z grows away from the camera
    s, r, t = umeyama(q, REFERENCE, ANCHOR_WEIGHTS)
    out = np.full((p.shape[0], 3), np.nan)
    u = p[MP_USED].copy()
    u[:, 1] *= -1.0
    u[:, 2] *= -1.0
    out[MP_USED] = s * u @ r.T + t
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


def measures(f: np.ndarray, spec: LandmarkSpec) -> dict[str, float]:
    """The ``MEASURES`` from points already in the face frame (2 or 3 columns; see module doc)."""

    def m(idx) -> np.ndarray:
        return f[list(idx)].mean(axis=0) if isinstance(idx, tuple) else f[idx]

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
        "eye_open": (ear(spec.eye_outer_r, spec.eye_inner_r, spec.lid_up_r, spec.lid_lo_r)
                     + ear(spec.eye_outer_l, spec.eye_inner_l, spec.lid_up_l, spec.lid_lo_l)) / 2,
    }


def measures_mp(landmarks: np.ndarray) -> dict[str, float]:
    """:func:`measures` of MediaPipe 478 landmarks in the 3D pose-normalised face frame."""
    return measures(to_face_frame_mp(landmarks), MP)


def measures_68(pts: np.ndarray) -> dict[str, float]:
    """:func:`measures` of OpenFace's (68, 2) landmarks in the 2D eye-line frame."""
    return measures(to_face_frame_2d(pts, OF68), OF68)


def measures_mp_2d(landmarks: np.ndarray) -> dict[str, float]:
    """:func:`measures` of MediaPipe landmarks in the 2D eye-line frame (no pose removal)."""
    return measures(to_face_frame_2d(np.asarray(landmarks)[:, :2], MP), MP)
