"""AU-region labels on the video (issue 12 defect 8): legible, never printed over each other."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QRectF  # noqa: E402
from PySide6.QtGui import QFontMetricsF  # noqa: E402

from auepa_monitor.core.sources import VideoFileSource  # noqa: E402
from auepa_monitor.ui.overlay import (  # noqa: E402
    LABEL_MIN_PX,
    OverlayOptions,
    region_label_layout,
    region_side,
    render_annotated,
)

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def scored(pipeline, faces_dir):
    """A real frame of default.wmv through the real pipeline, with its face and AU regions."""
    pipeline.reset()
    src = VideoFileSource(faces_dir / "default.wmv")
    try:
        for _ in range(5):
            frame = src.read()
            r = pipeline.process(frame)
    finally:
        src.close()
    assert r.success and r.au_regions
    return frame.image, r


def shrunk(r, k: float):
    """The same face ``k`` times as large (landmarks, box and region centres scaled about the origin)."""
    f = r.face
    face = dataclasses.replace(f, landmarks=f.landmarks * np.float32(k), box=tuple(v * k for v in f.box))
    regions = MappingProxyType({n: (x * k, y * k) for n, (x, y) in r.au_regions.items()})
    return dataclasses.replace(r, face=face, au_regions=regions,
                               size=(int(r.size[0] * k), int(r.size[1] * k)))


def label_rects(font, placed):
    fm = QFontMetricsF(font)
    return [QRectF(p.x(), p.y() - fm.ascent(), fm.horizontalAdvance(t), fm.ascent() + fm.descent())
            for p, t in placed]


def assert_apart(rects):
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b), (a, b)


def test_labels_are_legible_and_apart_on_a_normal_face(qtbot, scored):
    _img, r = scored
    for px in (1.0, 0.5, 2.0):  # the view at 1:1, zoomed in 2x, shrunk to half
        font, placed = region_label_layout(r.au_regions, region_side(r), px)
        assert placed, px
        assert font.pixelSize() / px >= LABEL_MIN_PX - 0.5, (font.pixelSize(), px)  # screen pixels
        assert_apart(label_rects(font, placed))


def test_labels_are_left_out_on_a_small_face(qtbot, scored):
    img, r = scored
    small = shrunk(r, 0.3)  # an infant far from the camera: eyes a few tens of pixels apart
    font, placed = region_label_layout(small.au_regions, region_side(small), 1.0)
    assert placed == []  # too small to print them legibly apart: the boxes only
    # Whatever the size, what is drawn is legible and apart.
    for k in (0.3, 0.45, 0.6, 0.8, 1.0, 1.5):
        s = shrunk(r, k)
        font, placed = region_label_layout(s.au_regions, region_side(s), 1.0)
        if placed:
            assert font.pixelSize() >= LABEL_MIN_PX
            assert_apart(label_rects(font, placed))
    # The screenshot renderer draws either way.
    small_img = np.ascontiguousarray(img[::3, ::3][: small.size[1], : small.size[0]])
    out = render_annotated(small_img, small, OverlayOptions())
    assert (out.width(), out.height()) == (small_img.shape[1], small_img.shape[0])
