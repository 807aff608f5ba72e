"""The aligned 224x224 face crop and the Table I AU centers rule (paper, Sec. III-C).

One alignment for everything: the end-to-end CNN, Grad-CAM, engagement (Eq. 2) and the
training pipeline all use :func:`align_face` and :func:`au_centers`, so an AU region in
a CAM means the same place everywhere.

Alignment: a similarity transform (rotation, uniform scale, shift) that puts the two eye
centers on a horizontal line at fixed places in the crop, which removes head roll. The AU
centers follow the face's own up direction (perpendicular to the eye line), so they stay on
the face under roll whether computed in the crop or in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import landmarks as L

CROP_SIZE = 224
#: Eye centers in the crop, as fractions of its side: eyes at 33% height, 28% of the side apart.
#: Chosen so every Table I region fits inside the crop: AU1 (~0.85 eye distances above the
#: eyes) and AU20 (1 eye distance below the lip corners, ~2.2 below the eyes) included.
EYE_Y = 0.33
EYE_DIST = 0.28
REGION_SIZE = 10  # pixels in the 224x224 crop (paper: 10x10)

#: Region names (AU number plus side, R/L = subject's right/left) for each Table I AU.
AU_REGION_NAMES: dict[int, tuple[str, ...]] = {
    1: ("AU1_R", "AU1_L"),
    2: ("AU2_R", "AU2_L"),
    4: ("AU4_R", "AU4_L"),
    6: ("AU6_R", "AU6_L"),
    7: ("AU7_R", "AU7_L"),
    9: ("AU9_R", "AU9_L"),
    10: ("AU10",),
    12: ("AU12_R", "AU12_L"),
    20: ("AU20_R", "AU20_L"),
    25: ("AU25",),
    27: ("AU27",),
    43: ("AU43_R", "AU43_L"),
}


def region_au(name: str) -> int:
    """AU number of a region name: ``"AU6_R"`` -> 6."""
    return int(name[2:].split("_")[0])


@dataclass(frozen=True)
class AlignedFace:
    """A face warped into the canonical crop.

    Attributes:
        image: (224, 224, 3) uint8 crop, same channel order as the input frame.
        matrix: (2, 3) float64 affine from frame pixels to crop pixels.
        landmarks: (478, 2) float32 landmarks in crop pixels.
    """

    image: np.ndarray
    matrix: np.ndarray
    landmarks: np.ndarray

    def to_frame(self, pts: np.ndarray) -> np.ndarray:
        """Map (N, 2) crop pixel coordinates back to frame pixels."""
        inv = cv2.invertAffineTransform(self.matrix)
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        return pts @ inv[:, :2].T + inv[:, 2]


def alignment_matrix(landmarks: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """(2, 3) similarity transform from frame pixels to the ``size`` x ``size`` crop."""
    re, le = L.eye_centers(np.asarray(landmarks))
    src_vec = le - re
    dist = float(np.hypot(*src_vec)) or 1.0
    scale = EYE_DIST * size / dist
    angle = np.arctan2(src_vec[1], src_vec[0])
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    rot = np.array([[c, -s], [s, c]])
    mid_src = (re + le) / 2
    mid_dst = np.array([size / 2, EYE_Y * size])
    t = mid_dst - rot @ mid_src
    return np.hstack([rot, t[:, None]])


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE) -> AlignedFace:
    """Warp the face in ``image`` (H, W, C) given its (478, 2+) frame-pixel landmarks."""
    m = alignment_matrix(landmarks, size)
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2] @ m[:, :2].T + m[:, 2]
    return AlignedFace(image=crop, matrix=m, landmarks=pts.astype(np.float32))


def au_centers(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Table I AU centers from (478, 2+) landmarks, in the same pixel frame as the input.

    Scale is the distance between the eye centers; "above" and "below" follow the face's
    up direction (perpendicular to the eye line). Returns region name -> (2,) center.
    """
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    re, le = L.eye_centers(p)
    eye_vec = le - re
    scale = float(np.hypot(*eye_vec)) or 1.0
    right_dir = eye_vec / scale  # towards the subject's left eye, along the eye line
    # Image y grows downwards; "down the face" is the eye line rotated by +90 degrees.
    down = np.array([-right_dir[1], right_dir[0]])
    if np.dot(down, p[L.CHIN] - (re + le) / 2) < 0:
        down = -down  # mirrored input: keep "down" pointing at the chin
    up = -down

    def mean(*idx: int) -> np.ndarray:
        return p[list(idx)].mean(axis=0)

    c: dict[str, np.ndarray] = {}
    c["AU1_R"] = p[L.RIGHT_BROW[-1]] + 0.5 * scale * up
    c["AU1_L"] = p[L.LEFT_BROW[-1]] + 0.5 * scale * up
    c["AU2_R"] = p[L.RIGHT_BROW[0]] + scale / 3 * up
    c["AU2_L"] = p[L.LEFT_BROW[0]] + scale / 3 * up
    c["AU4_R"] = p[L.RIGHT_BROW[2]] + scale / 3 * down
    c["AU4_L"] = p[L.LEFT_BROW[2]] + scale / 3 * down
    c["AU6_R"] = p[L.RIGHT_EYE[3]] + scale * down
    c["AU6_L"] = p[L.LEFT_EYE[3]] + scale * down
    c["AU7_R"] = re
    c["AU7_L"] = le
    c["AU9_R"] = p[L.NOSE_ALA_RIGHT]
    c["AU9_L"] = p[L.NOSE_ALA_LEFT]
    c["AU10"] = p[L.UPPER_LIP_OUTER]
    c["AU12_R"] = p[L.LIP_CORNER_RIGHT]
    c["AU12_L"] = p[L.LIP_CORNER_LEFT]
    c["AU20_R"] = p[L.LIP_CORNER_RIGHT] + scale * down
    c["AU20_L"] = p[L.LIP_CORNER_LEFT] + scale * down
    c["AU25"] = mean(L.UPPER_LIP_INNER, L.LOWER_LIP_INNER)
    c["AU27"] = mean(L.UPPER_LIP_OUTER, L.LOWER_LIP_OUTER, L.LIP_CORNER_RIGHT, L.LIP_CORNER_LEFT)
    c["AU43_R"] = re
    c["AU43_L"] = le
    return c


def region_boxes(centers: dict[str, np.ndarray], size: int = REGION_SIZE,
                 limit: int = CROP_SIZE) -> dict[str, tuple[int, int, int, int]]:
    """Integer (x0, y0, x1, y1) boxes, ``size`` x ``size`` around each center, clipped to the crop.

    x1/y1 are exclusive, ready for ``cam[y0:y1, x0:x1]``.
    """
    half = size // 2
    out = {}
    for name, (x, y) in centers.items():
        x0 = int(round(x)) - half
        y0 = int(round(y)) - half
        x0c, y0c = max(0, x0), max(0, y0)
        x1c, y1c = min(limit, x0 + size), min(limit, y0 + size)
        out[name] = (x0c, y0c, max(x0c, x1c), max(y0c, y1c))
    return out
