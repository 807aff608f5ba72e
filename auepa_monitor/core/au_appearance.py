"""Local texture features of the aligned grey face crop (:mod:`au_crop`): wrinkles and furrows.

Each feature is the log of the mean gradient magnitude (Sobel, 3x3) in one region of the
aligned crop minus the log of the mean over the whole central face, so overall focus, blur
and contrast changes cancel and only a region's own change remains. The engine subtracts the
person's running neutral, so a feature reads "this region has more edges than this person's
resting face". Regions (crop pixels, ``x0, y0, x1, y1``; eyes at (41, 41) and (87, 41), IOD
46 px, y down):

* ``tx_glabella``: between the inner brow ends (AU04's vertical furrows).
* ``tx_nose_root``: the nasal bridge below the glabella (AU09's transverse wrinkles).
* ``tx_nasolabial``: beside the nose wings, both sides (AU09/AU10 deepen the folds).
* ``tx_eye_outer``: the outer eye corners, both sides (AU06 crow's feet).
* ``tx_lower_lid``: under the eyes (AU06/AU07 bulge and tighten the lower lid).
"""

from __future__ import annotations

import cv2
import numpy as np

REGIONS: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "tx_glabella": ((54, 18, 74, 38),),
    "tx_nose_root": ((55, 38, 73, 56),),
    "tx_nasolabial": ((34, 70, 50, 92), (78, 70, 94, 92)),
    "tx_eye_outer": ((14, 32, 28, 54), (100, 32, 114, 54)),
    "tx_lower_lid": ((30, 47, 52, 60), (76, 47, 98, 60)),
}
_FACE = (20, 15, 108, 110)  # the central face, for the normaliser


def texture_features(crop: np.ndarray) -> dict[str, float]:
    """The ``REGIONS`` features of one (128, 128) uint8 aligned grey crop."""
    g = crop.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.abs(gx)
    mag += np.abs(gy)
    # cv2.mean: a region's mean in double precision, without numpy's per-call overhead (about
    # half this function's time per frame); equal to numpy's float32 mean to 1e-6.
    x0, y0, x1, y1 = _FACE
    norm = float(np.log(cv2.mean(mag[y0:y1, x0:x1])[0] + 1.0))
    out = {}
    for name, boxes in REGIONS.items():
        v = sum(cv2.mean(mag[b[1]:b[3], b[0]:b[2]])[0] for b in boxes) / len(boxes)
        out[name] = float(np.log(v + 1.0)) - norm
    return out
