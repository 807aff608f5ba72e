"""The pain curve (pyqtgraph): rolling window for live sources, the whole file with a cursor otherwise."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QWidget

from ..core.alerts import Priority


class PainCurve(pg.PlotWidget):
    """Pain score 0-10 over source time (seconds). ``seekRequested(t)`` on a click or a cursor drag."""

    seekRequested = Signal(float)

    def __init__(self, parent: QWidget | None = None, window_s: float = 60.0) -> None:
        super().__init__(parent=parent, background="#181818")
        self.window_s = window_s
        self.setMinimumHeight(150)
        pi = self.getPlotItem()
        pi.setLabel("left", "pain 0-10")
        pi.setLabel("bottom", "time", units="s")
        # No grid: pyqtgraph replays the axes' QPicture (grid included) on every repaint, ~5 ms each.
        pi.setMenuEnabled(False)
        pi.hideButtons()
        vb = pi.getViewBox()
        vb.setMouseEnabled(x=False, y=False)  # clicks and drags seek; no accidental pan/zoom
        pi.setYRange(0, 10, padding=0.02)
        pi.addLegend(offset=(-10, 5), labelTextColor="#d0d0d0", brush=pg.mkBrush(24, 24, 24, 200))
        self.score_item = pi.plot([], [], pen=pg.mkPen("#ffb300", width=2), connect="finite", name="pain score")
        self.pspi_item = pi.plot([], [], pen=pg.mkPen("#90caf9", width=1, style=Qt.PenStyle.DotLine),
                                 connect="finite", name="PSPI (0-16 shown as 0-10)")
        self.high_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(Priority.HIGH.color, width=1,
                                                               style=Qt.PenStyle.DashLine))
        self.mid_line = pg.InfiniteLine(angle=0, pen=pg.mkPen(Priority.MEDIUM.color, width=1,
                                                              style=Qt.PenStyle.DashLine))
        pi.addItem(self.high_line, ignoreBounds=True)
        pi.addItem(self.mid_line, ignoreBounds=True)
        self.cursor = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#ffffff", width=1.5),
                                      hoverPen=pg.mkPen("#80deea", width=3))
        pi.addItem(self.cursor, ignoreBounds=True)
        self.cursor.sigDragged.connect(self._cursor_dragged)
        self.scene().sigMouseClicked.connect(self._clicked)
        self._spans: list[pg.LinearRegionItem] = []
        self._live = True
        self._duration = 0.0
        self._fps = 30.0
        self._t: deque[float] = deque()
        self._s: deque[float] = deque()
        self._p: deque[float] = deque()
        self._file_scores = np.zeros(0)
        self._file_pspi = np.zeros(0)
        self._file_done = np.zeros(0, bool)
        self._dirty = False

    # -- setup ----------------------------------------------------------------------------------
    def set_thresholds(self, high: float, mid: float) -> None:
        self.high_line.setValue(high)
        self.mid_line.setValue(mid)

    def start_live(self) -> None:
        self._live = True
        self._t.clear()
        self._s.clear()
        self._p.clear()
        self.cursor.hide()
        self.set_spans([])
        self._dirty = True

    def start_file(self, frame_count: int, fps: float) -> None:
        self._live = False
        self._fps = fps or 30.0
        n = max(1, frame_count)
        self._duration = n / self._fps
        self._file_scores = np.full(n, np.nan)
        self._file_pspi = np.full(n, np.nan)
        self._file_done = np.zeros(n, bool)  # frames processed (skipped ones are not gaps)
        self.cursor.show()
        self.cursor.setBounds((0, self._duration))
        self.getPlotItem().setXRange(0, self._duration, padding=0.01)
        self.set_spans([])
        self._dirty = True

    # -- data -----------------------------------------------------------------------------------
    def add(self, frame: int, t: float, score: float | None, pspi: float | None) -> None:
        """One processed frame (1-based ``frame``, source time ``t`` s); None where there was no face."""
        s = math.nan if score is None else score
        ps = math.nan if pspi is None else pspi * 10.0 / 16.0  # PSPI 0-16 drawn on the 0-10 axis
        if self._live:
            self._t.append(t)
            self._s.append(s)
            self._p.append(ps)
            while self._t and self._t[0] < t - self.window_s:
                self._t.popleft()
                self._s.popleft()
                self._p.popleft()
        elif 1 <= frame <= len(self._file_scores):
            self._file_scores[frame - 1] = s
            self._file_pspi[frame - 1] = ps
            self._file_done[frame - 1] = True
            if not self.cursor.moving:
                self.cursor.setValue(t)
        self._dirty = True

    def set_spans(self, spans: list[tuple[float, float, Priority]]) -> None:
        """Shaded alert spans (source seconds)."""
        while len(self._spans) > len(spans):
            self.getPlotItem().removeItem(self._spans.pop())
        while len(self._spans) < len(spans):
            item = pg.LinearRegionItem(movable=False)
            item.setZValue(-10)
            for ln in item.lines:
                ln.setPen(pg.mkPen(None))
            self.getPlotItem().addItem(item, ignoreBounds=True)
            self._spans.append(item)
        for item, (a, b, pr) in zip(self._spans, spans, strict=True):
            item.setRegion((a, b))
            c = pg.mkColor(pr.color)
            c.setAlpha(60)
            item.setBrush(c)

    def redraw(self) -> None:
        """Push new data to the plot (call from a UI timer, a few times a second at most)."""
        if not self._dirty:
            return
        self._dirty = False
        if self._live:
            t = np.fromiter(self._t, float)
            self.score_item.setData(t, np.fromiter(self._s, float))
            self.pspi_item.setData(t, np.fromiter(self._p, float))
            if len(t):
                self.getPlotItem().setXRange(max(0.0, t[-1] - self.window_s), max(t[-1], self.window_s * 0.1),
                                             padding=0)
        else:
            idx = np.flatnonzero(self._file_done)
            t = idx / self._fps
            self.score_item.setData(t, self._file_scores[idx])
            self.pspi_item.setData(t, self._file_pspi[idx])

    def frame_at(self, t: float) -> int:
        """1-based frame nearest to source time ``t`` (file mode)."""
        return int(min(max(1, round(t * self._fps) + 1), max(1, len(self._file_scores))))

    # -- seeking --------------------------------------------------------------------------------
    def _clicked(self, ev) -> None:
        if self._live or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        t = float(vb.mapSceneToView(ev.scenePos()).x())
        t = min(max(0.0, t), self._duration)
        self.cursor.setValue(t)
        self.seekRequested.emit(t)

    def _cursor_dragged(self) -> None:
        if not self._live:
            self.seekRequested.emit(float(self.cursor.value()))
