"""Writing a screenshot trio: the video with overlays, the whole window, and the JSON sidecar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage

from ..core.private_files import private_dir, write_private_bytes, write_private_text


def png_bytes(img: QImage) -> bytes:
    """A QImage encoded as PNG in memory (written to disk by the caller with owner-only rights)."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = img.save(buf, "PNG")
    buf.close()
    if not ok or data.isEmpty():
        raise ValueError("PNG encoding failed")
    return bytes(data.data())


def trio_paths(path: Path) -> tuple[Path, Path, Path]:
    """(video PNG, window PNG, sidecar JSON) for a screenshot saved as ``path``."""
    return path, path.with_name(path.stem + "_window.png"), path.with_suffix(".json")


def write_trio(path: Path, video: QImage, window: QImage, sidecar: dict[str, Any]) -> tuple[Path, Path, Path]:
    """Write the trio owner-only (0600, folder 0700 when made here: screenshots show the infant's face).

    Raises OSError or ValueError when a file cannot be written or encoded.
    """
    png, win_png, side = trio_paths(path)
    private_dir(path.parent)
    write_private_bytes(png, png_bytes(video))
    write_private_bytes(win_png, png_bytes(window))
    write_private_text(side, json.dumps(sidecar, indent=2, default=str) + "\n")
    return png, win_png, side
