"""The window's status bar: display figures, the session being recorded, the OpenFace Cancel button,
and the not-a-medical-device notice."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

from .. import NOT_A_MEDICAL_DEVICE


@dataclass
class DisplayRate:
    """What the window measures of its own display (Qt-free).

    ``shown``: wall times (``time.monotonic``, s) of the frames drawn; ``latency_ms``: capture to
    display of each newest frame drawn (ms).
    """

    shown: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=60))

    def fps(self, now: float, window_s: float = 2.0) -> float:
        """Frames drawn per second over the last ``window_s`` seconds (0 with fewer than three)."""
        walls = [w for w in self.shown if now - w <= window_s]
        return (len(walls) - 1) / (walls[-1] - walls[0]) if len(walls) > 2 and walls[-1] > walls[0] else 0.0

    def mean_latency_ms(self) -> float:
        return sum(self.latency_ms) / len(self.latency_ms) if self.latency_ms else 0.0


class MonitorStatusBar:
    """The permanent widgets of ``sb`` (messages never hide them); ``on_cancel``: the Cancel button's slot."""

    def __init__(self, sb: QStatusBar, on_cancel: Any) -> None:
        self.sb = sb
        self.figures = QLabel("")
        self.session = QLabel("")
        self.session.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session.setMaximumWidth(240)
        notice = QLabel("Not a medical device")
        notice.setToolTip(NOT_A_MEDICAL_DEVICE)
        notice.setStyleSheet("color: #ffb74d;")
        self.cancel = QPushButton("Cancel OpenFace")
        self.cancel.setToolTip("Stop OpenFace's run; the file is not opened")
        self.cancel.clicked.connect(on_cancel)
        self.cancel.setVisible(False)
        for w in (self.cancel, self.figures, self.session, notice):
            sb.addPermanentWidget(w)

    def show_figures(self, rate: DisplayRate, now: float, processing_ms: float, dropped: int, device: str) -> None:
        """Display fps, processing time of the frame shown (ms), capture-to-display time (ms), frames dropped."""
        self.figures.setText(f"{rate.fps(now):5.1f} fps | processing {processing_ms:5.1f} ms | capture→display "
                             f"{rate.mean_latency_ms():5.0f} ms | dropped {dropped} | device {device}")

    def show_session(self, session: Any) -> None:
        """The session folder recorded into ('' when none)."""
        self.session.setText("" if session is None else self.session.fontMetrics().elidedText(
            f"● REC {session.path.name}", Qt.TextElideMode.ElideMiddle, 230))
        self.session.setToolTip("" if session is None else f"Recording to {session.path}")

    def say(self, message: str, ms: int = 0) -> None:
        """A message (``ms`` milliseconds; 0: until replaced), unless it is already shown (no flicker)."""
        if self.sb.currentMessage() != message:
            self.sb.showMessage(message, ms)
