"""The video widget: the newest processed frame, scaled to fit, with overlays in frame coordinates."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.records import FrameResult
from .overlay import OverlayOptions, bgr_to_qimage, paint_overlays


class VideoView(QWidget):
    """Shows one frame and its overlays. Emits ``clicked(x, y)`` in frame pixels on a left click."""

    clicked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 240)
        self.options = OverlayOptions()
        self._image: QImage | None = None
        self._result: FrameResult | None = None
        self._heat: QImage | None = None
        self._weights: Mapping[str, float] | None = None
        #: The target region the user chose (--roi or a click), frame pixels; drawn dashed.
        self.target_roi: tuple[float, float, float, float] | None = None
        self.placeholder = "Open a video (Ctrl+O), drop a file here, or choose a camera."
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_frame(self, image_bgr: np.ndarray, result: FrameResult) -> None:
        self._image = bgr_to_qimage(image_bgr)
        self._result = result
        self.update()

    def set_explanation(self, heat: QImage | None, weights: Mapping[str, float] | None) -> None:
        self._heat, self._weights = heat, weights
        self.update()

    def clear(self, message: str | None = None) -> None:
        self._image = self._result = None
        self._heat = self._weights = None
        if message is not None:
            self.placeholder = message
        self.update()

    def image_rect(self) -> QRectF:
        """Where the frame is drawn in widget pixels (aspect kept, centred)."""
        if self._image is None:
            return QRectF()
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        w, h = iw * s, ih * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def to_frame(self, pos: QPointF) -> tuple[float, float] | None:
        """Widget position -> frame pixels, or None outside the picture."""
        rect = self.image_rect()
        if rect.isEmpty() or not rect.contains(pos):
            return None
        s = rect.width() / self._image.width()
        return ((pos.x() - rect.x()) / s, (pos.y() - rect.y()) / s)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(16, 16, 16))
        if self._image is None:
            p.setPen(QColor(200, 200, 200))
            f = QFont()
            f.setPointSize(11)
            p.setFont(f)
            p.drawText(self.rect().adjusted(20, 20, -20, -20),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            p.end()
            return
        rect = self.image_rect()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(rect, self._image)
        if self._result is not None:
            s = rect.width() / self._image.width()
            p.save()
            p.translate(rect.x(), rect.y())
            p.scale(s, s)
            p.setClipRect(QRectF(0, 0, self._image.width(), self._image.height()))
            paint_overlays(p, self._result, self.options, heat=self._heat, region_weights=self._weights,
                           px=1.0 / s)
            p.restore()
        if self.target_roi is not None:
            s = rect.width() / self._image.width()
            x, y, w, h = self.target_roi
            pen = QPen(QColor(255, 210, 0), 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setClipRect(rect)
            p.drawRect(QRectF(rect.x() + x * s, rect.y() + y * s, w * s, h * s))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            pt = self.to_frame(event.position())
            if pt is not None:
                self.clicked.emit(pt[0], pt[1])
        super().mousePressEvent(event)
