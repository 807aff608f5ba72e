"""Side panels: AU intensity bars, the pain score with its model card facts, and the alert banner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..core.alerts import Priority
from ..core.records import REPORTED_AUS, FrameResult
from .overlay import LEVEL_COLORS

AU_NAMES = {1: "inner brow raiser", 2: "outer brow raiser", 4: "brow lowerer", 6: "cheek raiser",
            7: "lid tightener", 9: "nose wrinkler", 10: "upper lip raiser", 12: "lip corner puller",
            20: "lip stretcher", 25: "lips part", 26: "jaw drop", 27: "mouth stretch", 43: "eye closure",
            45: "blink"}


class AUPanel(QWidget):
    """Horizontal bars of AU intensities (0-5); core AUs marked with their engagement weight."""

    ROW = 19

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.au: Mapping[int, float] = {}
        self.core: dict[int, float] = {}
        self.setMinimumHeight(self.ROW * (len(REPORTED_AUS) + 1) + 6)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip("AU intensity 0-5 (FACS). * = core AU of the pain model, w = its engagement weight.")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(300, self.minimumHeight())

    def set_core(self, core_aus: Sequence[int], engagement: Sequence[float]) -> None:
        self.core = {int(a): float(w) for a, w in zip(core_aus, engagement, strict=False)}
        self.update()

    def set_values(self, au: Mapping[int, float]) -> None:
        self.au = au
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        f = QFont()
        f.setPixelSize(12)
        p.setFont(f)
        fm = p.fontMetrics()
        label_w = fm.horizontalAdvance("AU27 * w0.00") + 8
        value_w = fm.horizontalAdvance("5.0") + 8
        bar_x = label_w
        bar_w = max(20, self.width() - label_w - value_w - 4)
        p.setPen(QColor(150, 150, 150))
        p.drawText(QRectF(0, 0, self.width(), self.ROW), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "AU intensity (0-5)   * core AU, w = engagement")
        for i, au in enumerate(REPORTED_AUS):
            y = (i + 1) * self.ROW
            core = au in self.core
            p.setPen(QColor(255, 214, 0) if core else QColor(210, 210, 210))
            label = f"AU{au}" + (f" * w{self.core[au]:.2f}" if core else "")
            p.drawText(QRectF(0, y, label_w, self.ROW), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       label)
            p.fillRect(QRectF(bar_x, y + 4, bar_w, self.ROW - 8), QColor(55, 55, 55))
            v = self.au.get(au)
            if v is not None:
                frac = max(0.0, min(1.0, float(v) / 5.0))
                p.fillRect(QRectF(bar_x, y + 4, bar_w * frac, self.ROW - 8),
                           QColor(255, 179, 0) if core else QColor(100, 181, 246))
            p.setPen(QColor(230, 230, 230))
            p.drawText(QRectF(bar_x + bar_w + 4, y, value_w, self.ROW),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "-" if v is None else f"{v:.1f}")
        p.end()


class PainPanel(QFrame):
    """The pain score 0-10 and its level in colour, PSPI beside it, the model and its card facts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(2)
        self.score = QLabel("--")
        f = QFont()
        f.setPointSize(26)
        f.setBold(True)
        self.score.setFont(f)
        self.level = QLabel("no face")
        fl = QFont()
        fl.setPointSize(13)
        fl.setBold(True)
        self.level.setFont(fl)
        self.pspi = QLabel("PSPI --")
        self.model = QLabel("")
        self.model.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #ffb74d; font-weight: bold;")
        self.facts = QLabel("")
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: #b0b0b0;")
        title = QLabel("Pain score (0-10)")
        title.setStyleSheet("color: #b0b0b0;")
        for w in (title, self.score, self.level, self.pspi, self.model, self.warning, self.facts):
            lay.addWidget(w)

    def set_card(self, name: str, warning: str, facts: str) -> None:
        self.model.setText(f"Model: {name}")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        self.facts.setText(facts)

    def set_result(self, r: FrameResult | None) -> None:
        if r is None or r.pain_score is None:
            self.score.setText("--")
            self.score.setStyleSheet("color: #9e9e9e;")
            self.level.setText("no face" if r is not None else "")
            self.level.setStyleSheet("color: #9e9e9e;")
            self.pspi.setText("PSPI --")
            return
        col = LEVEL_COLORS[int(r.pain_level)]
        self.score.setText(f"{r.pain_score:.1f}")
        self.score.setStyleSheet(f"color: {col};")
        self.level.setText(r.pain_level.label)
        self.level.setStyleSheet(f"color: {col};")
        self.pspi.setText(f"PSPI {r.pspi:.1f} (0-16)")


class AlertBanner(QLabel):
    """The active alarm in its priority colour; a high-priority alarm flashes (about 2 Hz)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setMinimumHeight(38)
        f = QFont()
        f.setPointSize(12)
        f.setBold(True)
        self.setFont(f)
        self.priority = Priority.NONE
        self._on = True
        self._timer = QTimer(self)
        self._timer.setInterval(250)  # IEC 60601-1-8 high priority: 1.4-2.8 Hz flashing
        self._timer.timeout.connect(self._blink)
        self.set_alarm(Priority.NONE, "")

    def set_alarm(self, priority: Priority, message: str, acknowledged: bool = False) -> None:
        changed = priority != self.priority
        self.priority = priority
        text = message or "No active alarm"
        if acknowledged and priority != Priority.NONE:
            text += "  (acknowledged)"
        self.setText(text)
        if changed:
            self._on = True
            if priority == Priority.HIGH:
                self._timer.start()
            else:
                self._timer.stop()
        self._style()

    def _blink(self) -> None:
        self._on = not self._on
        self._style()

    def _style(self) -> None:
        if self.priority == Priority.NONE:
            self.setStyleSheet("background: #263238; color: #90a4ae; border-radius: 4px; padding: 4px;")
            return
        bg = self.priority.color if self._on else "#3a0d0d"
        fg = "#ffffff" if self.priority == Priority.HIGH else "#000000"
        if not self._on:
            fg = "#ffffff"
        self.setStyleSheet(f"background: {bg}; color: {fg}; border-radius: 4px; padding: 4px;")
