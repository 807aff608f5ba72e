"""Drawing the video overlays with QPainter in *frame pixel* coordinates.

The same function draws on the widget (through a scale/offset transform, so overlays stay on
the face at any window size) and on a frame-sized image for screenshots.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from pyqtgraph import functions as pgf
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from ..core import landmarks as L
from ..core.au_regions import CROP_SIZE, EYE_DIST, REGION_SIZE, region_au
from ..core.records import FrameResult

LEVEL_COLORS = ("#43a047", "#fdd835", "#fb8c00", "#e53935")  # no / weak / mid / strong pain


@dataclass
class OverlayOptions:
    """Which overlays to draw; ``heat_opacity`` 0-1."""

    face_box: bool = True
    landmarks: bool = True
    au_regions: bool = True
    heatmap: bool = True
    heat_opacity: float = 0.45


def bgr_to_qimage(bgr: np.ndarray) -> QImage:
    """(H, W, 3) uint8 BGR -> QImage in Format_RGB32 (owns its pixels).

    RGB32 is the format QPainter draws and scales fastest; its bytes in memory are B, G, R, X on
    little-endian machines, which OpenCV's BGRA conversion gives directly (no channel swap).
    """
    h, w = bgr.shape[:2]
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    fmt = QImage.Format.Format_RGB32 if sys.byteorder == "little" else QImage.Format.Format_ARGB32
    if sys.byteorder != "little":
        bgra = np.ascontiguousarray(bgra[:, :, ::-1])  # big-endian: A, R, G, B
    img = QImage(bgra.data, w, h, 4 * w, fmt)
    return img.copy()  # detach from the numpy buffer


def heat_to_qimage(heat: np.ndarray) -> QImage:
    """(H, W) float 0-1 heatmap -> RGBA QImage (JET colours; alpha grows with the value)."""
    h8 = (np.clip(heat, 0, 1) * 255).astype(np.uint8)
    rgb = cv2.applyColorMap(h8, cv2.COLORMAP_JET)[:, :, ::-1]
    # Cold areas stay see-through so the face remains readable under the map.
    alpha = np.clip(h8.astype(np.float32) * 1.6, 0, 255).astype(np.uint8)
    rgba = np.ascontiguousarray(np.dstack([rgb, alpha]))
    return QImage(rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1],
                  QImage.Format.Format_RGBA8888).copy()


def eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centers in frame pixels."""
    re, le = L.eye_centers(np.asarray(landmarks)[:, :2])
    return float(np.hypot(*(le - re)))


def region_side(result: FrameResult) -> float:
    """Side in frame pixels of an AU region (10 px in the 224 crop, where eyes are 0.30*224 apart)."""
    if result.face is None:
        return 0.0
    return REGION_SIZE * eye_distance(result.face.landmarks) / (EYE_DIST * CROP_SIZE)


def paint_overlays(p: QPainter, r: FrameResult, opts: OverlayOptions, *, heat: QImage | None = None,
                   region_weights: Mapping[str, float] | None = None, px: float = 1.0) -> None:
    """Draw the overlays of ``r`` in frame pixel coordinates.

    ``px``: frame pixels per screen pixel, so lines and labels keep a readable on-screen size.
    ``heat``: a frame-sized RGBA heatmap (Grad-CAM); ``region_weights``: region -> 0-1 shading
    (regressor weights), drawn when ``heat`` is None.
    """
    w, h = r.size
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if opts.heatmap and heat is not None:
        p.setOpacity(opts.heat_opacity)
        p.drawImage(QRectF(0, 0, w, h), heat)
        p.setOpacity(1.0)
    if r.face is None:
        return
    side = max(region_side(r), 3 * px)
    if opts.heatmap and heat is None and region_weights:
        p.setPen(Qt.PenStyle.NoPen)
        for name, (x, y) in r.au_regions.items():
            wgt = float(region_weights.get(name, 0.0))
            if wgt <= 0:
                continue
            c = QColor(255, 120, 0)
            c.setAlphaF(max(0.0, min(1.0, opts.heat_opacity * 1.6 * wgt)))
            p.setBrush(c)
            s = side * 1.6  # a little larger than the region so the shading reads at a glance
            p.drawRect(QRectF(x - s / 2, y - s / 2, s, s))
        p.setBrush(Qt.BrushStyle.NoBrush)
    if opts.face_box:
        x, y, bw, bh = r.face.box
        col = QColor(LEVEL_COLORS[int(r.pain_level)] if r.pain_level is not None else "#4fc3f7")
        p.setPen(QPen(col, 2.5 * px))
        p.drawRect(QRectF(x, y, bw, bh))
    if opts.landmarks:
        pts = np.asarray(r.face.landmarks)[:, :2]
        # One drawPoints call on a polygon filled straight from numpy (pyqtgraph's helper):
        # 478 Python-level drawEllipse calls cost ~5 ms a frame in the UI thread.
        poly = pgf.create_qpolygonf(len(pts))
        pgf.ndarray_from_qpolygonf(poly)[:] = pts
        pen = QPen(QColor(0, 255, 180, 190), max(1.6 * px, 0.008 * eye_distance(r.face.landmarks)))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.drawPoints(poly)
    if opts.au_regions and r.au_regions:
        p.setPen(QPen(QColor(255, 255, 255), 1.5 * px))
        for x, y in r.au_regions.values():
            p.drawRect(QRectF(x - side / 2, y - side / 2, side, side))
        font, placed = region_label_layout(r.au_regions, side, px)
        p.setFont(font)
        for pos, label in placed:
            # A dark outline under the yellow label keeps it readable on light skin and dark hair.
            p.setPen(QPen(QColor(0, 0, 0, 230), 3 * px))
            p.drawText(QPointF(pos.x() + px, pos.y() + px), label)
            p.setPen(QColor(255, 255, 120))
            p.drawText(pos, label)


#: AU-region labels are drawn between these heights in screen pixels: below the minimum they
#: cannot be read, so on a face too small for legible labels that do not cover each other the
#: labels are left out (the region boxes stay; the AU bars name the values).
LABEL_MIN_PX, LABEL_MAX_PX = 10, 13


def region_label_layout(regions: Mapping[str, tuple[float, float]], side: float,
                        px: float = 1.0) -> tuple[QFont, list[tuple[QPointF, str]]]:
    """The font and the (baseline position, text) of each AU-region label, in frame pixels.

    ``px``: frame pixels per screen pixel. Labels scale with the face between
    :data:`LABEL_MIN_PX` and :data:`LABEL_MAX_PX` screen pixels; when two labels would overlap
    at the smallest legible size (a small face) none is placed. Regions closer together than
    about a label's height share one label (:func:`region_labels`).
    """
    from PySide6.QtGui import QFontMetricsF

    font = QFont()
    eyes = side * EYE_DIST * CROP_SIZE / REGION_SIZE  # eye distance, frame pixels
    size = min(LABEL_MAX_PX * px, max(LABEL_MIN_PX * px, 0.18 * eyes))
    font.setPixelSize(max(1, int(round(size))))
    font.setBold(True)
    fm = QFontMetricsF(font)
    gap = side / 2 + 2 * px
    placed: list[tuple[QPointF, str]] = []
    rects: list[QRectF] = []
    # Regions closer than about a label's height share one label ("4/7/43").
    for (x, y), label, where in region_labels(regions, side, near=max(side * 0.9, 1.6 * fm.height())):
        tw = fm.horizontalAdvance(label)
        # Labels point away from the face's midline so neighbours do not print over each other.
        if where == "left":
            tx, ty = x - gap - tw, y + fm.capHeight() / 2
        elif where == "right":
            tx, ty = x + gap, y + fm.capHeight() / 2
        else:
            tx, ty = x - tw / 2, y + gap + fm.capHeight()
        rect = QRectF(tx, ty - fm.ascent(), tw + px, fm.ascent() + fm.descent() + px)
        if any(rect.intersects(o) for o in rects):
            return font, []  # too small a face for legible labels apart: boxes only
        rects.append(rect)
        placed.append((QPointF(tx, ty), label))
    return font, placed


def region_labels(regions: Mapping[str, tuple[float, float]], side: float,
                  near: float | None = None) -> list[tuple[tuple[float, float], str, str]]:
    """One label per place, and which side of its region it goes ("left", "right", "below").

    Regions whose centers lie within ``near`` (default ``0.9 * side``) of each other in x and in
    y (AU7/AU43 at the eye center, AU25/AU27 at the mouth; with a larger ``near``, e.g. a label's
    height, also AU4 just above the eye) share a label such as "7/43"; labels of regions on the
    subject's two sides point outwards and those on the midline (AU10, AU25, AU27) go below.
    """
    near = side * 0.9 if near is None else near
    if not regions:
        return []
    mid = sum(x for x, _ in regions.values()) / len(regions)

    def side_of(x: float) -> str:
        return "below" if abs(x - mid) < side * 1.2 else ("left" if x < mid else "right")

    # Only regions on the same side share a label: a midline label goes below, the others outwards.
    groups: list[tuple[str, list[tuple[float, float]], list[int]]] = []
    for name, (x, y) in regions.items():
        au, where = region_au(name), side_of(x)
        for w, pts, aus in groups:
            gx, gy = pts[0]
            if w == where and abs(gx - x) < near and abs(gy - y) < near:
                if au not in aus:
                    aus.append(au)
                pts.append((x, y))
                break
        else:
            groups.append((where, [(x, y)], [au]))
    out = []
    for where, pts, aus in groups:
        cx = sum(p[0] for p in pts) / len(pts)
        cy = sum(p[1] for p in pts) / len(pts)
        out.append(((cx, cy), "/".join(str(a) for a in sorted(aus)), where))
    return out


def render_annotated(image_bgr: np.ndarray, r: FrameResult, opts: OverlayOptions, *,
                     heat: QImage | None = None, region_weights: Mapping[str, float] | None = None) -> QImage:
    """The frame with its overlays at the frame's own size (for screenshots)."""
    img = bgr_to_qimage(image_bgr).convertToFormat(QImage.Format.Format_ARGB32)
    p = QPainter(img)
    try:
        # Labels at frame resolution sized as on a ~900 px wide view.
        paint_overlays(p, r, opts, heat=heat, region_weights=region_weights,
                       px=max(1.0, img.width() / 900.0))
    finally:
        p.end()
    return img
