"""The aligned grey face crop the appearance AUs are measured on (no Qt, no MediaPipe).

A 2D similarity (rotation, uniform scale, translation) puts the two eye centres at fixed
points of a ``CROP`` x ``CROP`` grey image: the right eye centre (image left) at
(``EYE_X0``, ``EYE_Y``), the left one at (``EYE_X1``, ``EYE_Y``), so the inter-ocular distance
is ``CROP_IOD`` pixels whatever the face's size or roll. Region boxes in
:mod:`au_appearance` are given in this crop's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import landmarks as L

CROP = 128
EYE_X0, EYE_X1, EYE_Y = 0.32 * CROP, 0.68 * CROP, 0.32 * CROP
CROP_IOD = EYE_X1 - EYE_X0


def crop_transform(pts: np.ndarray) -> np.ndarray:
    """(2, 3) affine from frame pixels to the aligned crop, from (478, 2+) landmarks."""
    p = np.asarray(pts, dtype=np.float64)
    re, le = L.eye_centers(p)
    v = le - re
    d = float(np.hypot(*v)) or 1.0
    s = CROP_IOD / d
    c, si = v[0] / d, v[1] / d  # rotate the eye line onto +x
    rot = np.array([[c, si], [-si, c]]) * s
    t = np.array([EYE_X0, EYE_Y]) - rot @ re
    return np.hstack([rot, t[:, None]])


def aligned_gray(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(CROP, CROP) uint8 grey aligned face from a BGR (or grey) frame and its landmarks."""
    m = crop_transform(pts)
    out = cv2.warpAffine(image, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    return out
