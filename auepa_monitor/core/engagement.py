"""AU engagement (paper, Eq. 2): how much of the CNN's Grad-CAM falls in each AU's 10x10 region. No Qt.

Eq. 2: engagement(AU_n) = sum over the set N of correctly classified images and over the
S = 10x10 pixels of the AU's region of the Grad-CAM value, divided by |N| * S. Bilateral
AUs (left and right regions) take the mean of the two. Regions are the Table I centers in
the 224x224 aligned crop (:func:`au_regions.au_centers` on ``AlignedFace.landmarks``),
boxed by :func:`au_regions.region_boxes`. A region clipped by the crop's edge averages the
pixels it still has (S is then the clipped size); a side wholly outside the crop is left out,
and an AU with no side inside counts 0 (no CAM there).

Used per frame (N = 1, :func:`region_engagement`) and as a running ranking over a session or a
training set (:class:`EngagementAccumulator`). Only add images the network classified
correctly when reproducing the paper's Fig. 5; at run time, without ground truth, the
monitor adds every explained frame and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .au_regions import AU_REGION_NAMES, CROP_SIZE, REGION_SIZE, region_boxes


def region_engagement(cam: np.ndarray, centers: Mapping[str, tuple[float, float] | np.ndarray],
                      size: int = REGION_SIZE) -> dict[int, float]:
    """Mean CAM value (0-1) in each AU's ``size`` x ``size`` region(s) of one image.

    Args:
        cam: (224, 224) Grad-CAM, values 0-1, in crop pixels.
        centers: region name (e.g. ``"AU6_R"``, ``"AU10"``) -> (x, y) center in crop pixels.

    Returns AU number -> engagement 0-1, for every Table I AU with at least one region in
    ``centers``, in Table I order.
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise ValueError(f"cam must be 2-D (H, W), got shape {cam.shape}")
    h, w = cam.shape
    if h != w:
        raise ValueError(f"cam must be square (the aligned crop), got shape {cam.shape}")
    boxes = region_boxes(dict(centers), size=size, limit=h)
    out: dict[int, float] = {}
    for au, names in AU_REGION_NAMES.items():
        present = [n for n in names if n in boxes]
        if not present:
            continue
        vals = []
        for n in present:
            x0, y0, x1, y1 = boxes[n]
            if x1 > x0 and y1 > y0:
                vals.append(float(cam[y0:y1, x0:x1].mean()))
        out[au] = float(np.mean(vals)) if vals else 0.0
    return out


def normalize(values: Mapping[int, float]) -> dict[int, float]:
    """Scale so that the largest value is 1 (all zeros stay zeros). Order is kept."""
    top = max(values.values(), default=0.0)
    if top <= 0:
        return {k: 0.0 for k in values}
    return {k: float(v) / top for k, v in values.items()}


def rank(values: Mapping[int, float]) -> list[tuple[int, float]]:
    """(AU, value) pairs, highest first; ties keep Table I order."""
    return sorted(values.items(), key=lambda kv: -kv[1])


class EngagementAccumulator:
    """Eq. 2 over many images: running sum of per-image region means, divided by the image count.

    ``add`` one (cam, centers) per image; :meth:`result` gives the engagement 0-1 of each AU
    (mean over the images added), :meth:`normalized` scales the largest to 1 (Fig. 5), and
    :meth:`ranking` orders them. An AU counts the images in which it had a region.
    """

    def __init__(self, size: int = REGION_SIZE) -> None:
        self.size = size
        self._sum: dict[int, float] = {}
        self._n: dict[int, int] = {}
        self.count = 0  #: images added

    def reset(self) -> None:
        self._sum.clear()
        self._n.clear()
        self.count = 0

    def add(self, cam: np.ndarray, centers: Mapping[str, tuple[float, float] | np.ndarray]) -> dict[int, float]:
        """Add one image's CAM (224x224, 0-1); returns that image's per-AU engagement (N = 1)."""
        one = region_engagement(cam, centers, self.size)
        self.add_values(one)
        return one

    def add_values(self, values: Mapping[int, float]) -> None:
        """Add one image's per-AU engagement already computed by :func:`region_engagement`."""
        for au, v in values.items():
            self._sum[au] = self._sum.get(au, 0.0) + float(v)
            self._n[au] = self._n.get(au, 0) + 1
        self.count += 1

    def result(self) -> dict[int, float]:
        """AU -> engagement 0-1 (Eq. 2), in Table I order; empty before the first image."""
        order = [au for au in AU_REGION_NAMES if au in self._sum]
        return {au: self._sum[au] / self._n[au] for au in order}

    def normalized(self) -> dict[int, float]:
        """:meth:`result` with the most engaged AU at 1."""
        return normalize(self.result())

    def ranking(self) -> list[tuple[int, float]]:
        """(AU, normalized engagement) pairs, most engaged first."""
        return rank(self.normalized())


__all__ = ["region_engagement", "normalize", "rank", "EngagementAccumulator", "CROP_SIZE"]
