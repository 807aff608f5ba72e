"""MediaPipe 478-point face mesh indices used by the AU rules.

"Right"/"left" are the subject's own sides (MediaPipe's 33/133 eye is the subject's right
eye, which appears on the image's left in an unmirrored camera).
"""

from __future__ import annotations

import numpy as np

N_LANDMARKS = 478

# Brows, from outer to inner end.
RIGHT_BROW = (70, 63, 105, 66, 107)
LEFT_BROW = (300, 293, 334, 296, 336)
# Eyes: outer corner, inner corner, upper lid middle, lower lid middle.
RIGHT_EYE = (33, 133, 159, 145)
LEFT_EYE = (263, 362, 386, 374)
_RIGHT_EYE_IDX = np.array(RIGHT_EYE)
_LEFT_EYE_IDX = np.array(LEFT_EYE)
NOSE_ALA_RIGHT = 98
NOSE_ALA_LEFT = 327
SUBNASALE = 2
NOSE_TIP = 1
UPPER_LIP_OUTER = 0
LOWER_LIP_OUTER = 17
UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
LIP_CORNER_RIGHT = 61
LIP_CORNER_LEFT = 291
CHIN = 152
# Face oval, for a box that covers forehead to chin.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)


def eye_centers(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centers of the subject's right and left eye: mean of the four eye points.

    ``pts`` is an (N>=478, 2+) array of x, y in any consistent unit; returns two (2,) arrays.
    """
    # np.add.reduce / 4 is what ``mean`` computes, without its Python wrapper (7 calls a frame).
    right = np.add.reduce(pts[_RIGHT_EYE_IDX, :2], axis=0) / 4
    left = np.add.reduce(pts[_LEFT_EYE_IDX, :2], axis=0) / 4
    return right, left
