"""The real window in a real X server (Xvfb): starts on a sample video and a screenshot shows it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "packaging" / "xvfb_screenshot.sh"


@pytest.mark.slow
@pytest.mark.gui
def test_window_under_xvfb(faces_dir, tmp_path):
    missing = [c for c in ("Xvfb", "import") if shutil.which(c) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y xvfb xauth imagemagick "
                    "libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0)")
    import cv2

    out = tmp_path / "xvfb.png"
    r = subprocess.run(["bash", str(SCRIPT), str(faces_dir / "default.wmv"), str(out), "4", "1280x800"],
                       capture_output=True, text=True, timeout=240, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    img = cv2.imread(str(out))
    assert img is not None and img.shape[:2] == (800, 1280)
    # The video area (left two thirds, below the toolbars) shows the picture, not a blank view.
    video = img[120:560, 40:800]
    assert video.std() > 25, "the video area looks blank"
    # The side panel has the dark theme with text on it.
    panel = img[100:500, 900:1270]
    assert 10 < panel.mean() < 120 and panel.std() > 10
