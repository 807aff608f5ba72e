"""The ward view: a grid of beds, each a live thumbnail, score, sparkline, alarm state and rate.

Each bed is a :class:`~auepa_monitor.core.ward.WardBed` (its own pipeline, monitor session and
session folder, pump thread); the face networks of all beds run in one
:class:`~auepa_monitor.core.net_pool.FaceNetPool` (a worker per core on the CPU; on CUDA one
GPU copy, the beds' frames batched). The window polls the beds on a timer (10 Hz) and shows:

* on top, the highest-priority alarm across all beds (:func:`~auepa_monitor.core.ward.rank_alarms`),
  audible through :class:`AlarmSound` (unless muted), with how many other beds alarm;
* per bed: the newest frame with the face box, the pain score in its level colour, a
  sparkline of up to the last two minutes of scores (pyqtgraph, source time), the alarm state, the processed
  frame rate, and an Acknowledge button for that bed's alarm.

The Ward menu adds a bed (a password in its URL goes to the credential store), edits one (its
name, source, target region and alarm settings, in :class:`BedDialog`; also from the bed's
right-click menu), removes one (its session is closed) and saves the ward file (owner-only,
references instead of passwords). A bed edited, added or removed marks the ward modified (``*``
in the title) until it is saved; an edited bed is closed and reopened with its new settings (a
new session).

Double-clicking a bed opens the full monitor window (:class:`MainWindow`) as a *new* window on
that bed's source with a pipeline and session of its own (the main window builds its own
monitor session and cannot take over the bed's); the bed keeps being monitored in the ward.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .. import NOT_A_MEDICAL_DEVICE
from ..core.alerts import Priority
from ..core.errors import AuepaError
from ..core.monitor import SeveralFaces
from ..core.net_pool import FaceNetPool
from ..core.private_files import make_private, mask_credentials
from ..core.ward import Bed, WardBed, WardConfig, rank_alarms
from .overlay import LEVEL_COLORS

#: The thumbnail's largest and smallest size (pixels): it shrinks so that a grid of beds fits the screen.
THUMB_W, THUMB_H = 320, 240
THUMB_MIN_W, THUMB_MIN_H = 160, 120
SPARK_S = 120.0  # seconds of scores in the sparkline
#: A tile's line while the face followed looks like an adult's among several (see ``BedTile.check``).
_CHECK_TARGET = "Face followed looks like an adult's: open the bed and click the infant"


def _pixmap(img: np.ndarray, box: tuple[float, float, float, float] | None, colour: str,
            size: tuple[int, int] = (THUMB_W, THUMB_H)) -> QPixmap:
    """A BGR frame scaled to fit ``size`` (w, h pixels) with the face box drawn."""
    h, w = img.shape[:2]
    s = min(size[0] / w, size[1] / h)
    small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    if box is not None:
        x, y, bw, bh = (int(round(v * s)) for v in box)
        c = colour.lstrip("#")
        bgr = (int(c[4:6], 16), int(c[2:4], 16), int(c[0:2], 16))
        cv2.rectangle(small, (x, y), (x + bw, y + bh), bgr, 2)
    rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
    q = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(q.copy())


class BedTile(QFrame):
    """One bed's tile; emits ``openRequested`` on a double click, ``acknowledged`` from its button,
    ``editRequested`` from its right-click menu (:meth:`context_menu`)."""

    openRequested = Signal()
    acknowledged = Signal()
    editRequested = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bedTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name = name
        self.title = QLabel(f"<b>{name}</b>")
        self.source_label = QLabel("")
        self.source_label.setStyleSheet("color: #9e9e9e;")
        self.thumb = QLabel("connecting ...")
        self.thumb.setMinimumSize(THUMB_MIN_W, THUMB_MIN_H)
        self.thumb.setMaximumSize(THUMB_W, THUMB_H)
        # Ignored: the pixmap shown must not set the size (the first small frame would keep a tile small).
        self.thumb.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #111; color: #bbb;")
        self.score = QLabel("--")
        self.score.setStyleSheet("font-size: 28px; font-weight: bold;")
        self.level = QLabel("")
        self.alarm = QLabel("no alarm")
        #: Said while several faces are in view, none was chosen, and the face followed looks like
        #: an adult's (``FrameResult.target_looks``): the bed may be watching a parent.
        self.check = QLabel("")
        self.check.setWordWrap(True)
        self.check.setStyleSheet("color: #4fc3f7; font-weight: bold;")
        self.check.setVisible(False)
        self.fps = QLabel("0.0 fps")
        #: The pain model and, when it was not trained on infant pain data, the warning (medical honesty).
        self.model = QLabel("")
        self.model.setWordWrap(True)
        self.model.setStyleSheet("color: #e65100; font-size: 11px;")
        self.ack = QPushButton("Acknowledge")
        self.ack.setEnabled(False)
        self.ack.clicked.connect(self.acknowledged)
        self.spark = pg.PlotWidget()
        self.spark.setFixedHeight(70)
        self.spark.setYRange(0, 10)
        self.spark.hideAxis("bottom")
        self.spark.setMouseEnabled(False, False)
        self.spark.setMenuEnabled(False)
        self.curve = self.spark.plot([], [], pen=pg.mkPen("#4fc3f7", width=2))
        self.times: deque[float] = deque()
        self.values: deque[float] = deque()
        self.last_frame = -1
        self.score_value: float | None = None
        self.several = SeveralFaces()
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addStretch(1)
        head.addWidget(self.fps)
        right = QVBoxLayout()
        right.addWidget(self.score)
        right.addWidget(self.level)
        right.addWidget(self.alarm)
        right.addWidget(self.check)
        right.addWidget(self.model)
        right.addStretch(1)
        right.addWidget(self.ack)
        mid = QHBoxLayout()
        mid.addWidget(self.thumb, 2)
        mid.addLayout(right, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.source_label)
        lay.addLayout(mid)
        lay.addWidget(self.spark)

    def mouseDoubleClickEvent(self, e) -> None:  # noqa: N802 - Qt's name
        self.openRequested.emit()
        super().mouseDoubleClickEvent(e)

    def context_menu(self) -> QMenu:
        """The bed's right-click menu: Edit bed..., Open full monitor."""
        menu = QMenu(self)
        menu.addAction("&Edit bed...", self.editRequested.emit)
        menu.addAction("&Open full monitor", self.openRequested.emit)
        return menu

    def contextMenuEvent(self, e) -> None:  # noqa: N802 - Qt's name
        menu = self.context_menu()
        menu.exec(e.globalPos())
        menu.deleteLater()

    def show_error(self, msg: str) -> None:
        self.thumb.setText(msg)
        self.thumb.setWordWrap(True)
        self.alarm.setText("cannot open the source")
        self.alarm.setStyleSheet(f"color: {Priority.LOW.color}; font-weight: bold;")

    def refresh(self, wb: WardBed, now: float) -> None:
        mon = wb.monitor
        p = mon.latest
        if p is not None and p.result.frame != self.last_frame:
            self.last_frame = p.result.frame
            r = p.result
            colour = LEVEL_COLORS[int(r.pain_level)] if r.pain_level is not None else "#4fc3f7"
            self.thumb.setPixmap(_pixmap(p.image, None if r.face is None else r.face.box, colour,
                                         (self.thumb.width(), self.thumb.height())))
            self.score_value = r.pain_score
            adult = self.several.update(r) and r.target_looks == "adult" and mon.target is None
            self.check.setText(_CHECK_TARGET if adult else "")
            self.check.setVisible(adult)
            if r.pain_score is None:
                self.score.setText("--")
                self.score.setStyleSheet("font-size: 28px; font-weight: bold; color: #9e9e9e;")
                self.level.setText({"no_face": "no face"}.get(r.reason, r.reason or "no score"))
            else:
                self.score.setText(f"{r.pain_score:.1f}")
                self.score.setStyleSheet(f"font-size: 28px; font-weight: bold; color: {colour};")
                self.level.setText(mon.scale.level(r.pain_score).label)
                if self.times and r.timestamp < self.times[-1]:  # a new source: a new curve
                    self.times.clear()
                    self.values.clear()
                self.times.append(r.timestamp)  # source time: a recorded file may run faster than real time
                self.values.append(r.pain_score)
        while self.times and self.times[-1] - self.times[0] > SPARK_S:
            self.times.popleft()
            self.values.popleft()
        if self.times:
            t_end = self.times[-1]
            self.curve.setData(np.array(self.times) - t_end, np.array(self.values))
            self.spark.setXRange(-min(SPARK_S, max(5.0, t_end - self.times[0])), 0, padding=0)
        a = wb.alarm(now)
        if a.priority > Priority.NONE:
            text = a.message or a.priority.label
            self.alarm.setText(("(ack) " if a.acknowledged else "") + text)
            self.alarm.setStyleSheet(f"color: {a.priority.color}; font-weight: bold;")
            self.setStyleSheet(f"#bedTile {{ border: 3px solid {a.priority.color}; }}")
        else:
            self.alarm.setText("no alarm")
            self.alarm.setStyleSheet("color: #9e9e9e;")
            self.setStyleSheet("#bedTile { border: 1px solid #444; }")
        self.ack.setEnabled(a.priority > Priority.NONE and not a.acknowledged)
        if mon.ended:  # a recorded file played to its end: say so, not a rate that is no longer true
            self.fps.setText(f"ended at frame {self.last_frame}")
            self.fps.setStyleSheet("color: #9e9e9e;")
        else:
            self.fps.setText(f"{wb.processed_fps(now):.1f} fps")
            self.fps.setStyleSheet("")


class WardWindow(QMainWindow):
    """The ward (see the module docstring).

    Args:
        cfg: the ward config; sessions_root: the ward's session folder (per bed a sub-folder).
        store: credential store for the beds' references (None: the default one).
        sound: play the top alarm; lossless/stop_at: scripted runs (every frame of a file).
    """

    def __init__(self, cfg: WardConfig, sessions_root: str | Path, store=None, sound: bool = True,
                 lossless: bool = False, stop_at: int | None = None) -> None:
        super().__init__()
        from .sound import AlarmSound

        self.cfg = cfg
        #: The dialog of the last "Edit bed..." (None: never opened).
        self.bed_dialog = None
        self.banner = QLabel("")
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setMinimumHeight(44)
        self.tiles: list[BedTile] = []
        self.beds: list[WardBed | None] = []
        self.errors: list[str] = []
        self.full_windows: list[QMainWindow] = []
        #: Settings (INI) of the full monitor windows opened from the ward (None: the user's).
        self.settings_file: str | None = None
        self.sound = AlarmSound(enabled=sound)
        self.store = store
        self.sessions_root = Path(sessions_root)
        self._lossless, self._stop_at = lossless, stop_at
        #: Ask to save unsaved changes to the ward on close (the interactive window; not scripted runs).
        self.ask_to_save = False
        #: The face networks of every bed, run in one shared pool (batched across beds on CUDA).
        self.pool = None
        try:
            self.pool = FaceNetPool()
        except AuepaError:
            pass  # the face model cannot load: each bed's tile says why when it tries
        self.grid = QGridLayout()
        for bed in cfg.beds:
            self._open_bed(bed)
        self._relayout()
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.addWidget(self.banner)
        lay.addLayout(self.grid, 1)
        self.setCentralWidget(central)
        # Said once, plainly, as in the monitor window.
        self.statusBar().addPermanentWidget(QLabel(f"<span style='color:#e65100'>{NOT_A_MEDICAL_DEVICE}</span>"))
        if self.pool is not None:
            self.statusBar().addWidget(QLabel(f"face networks: one pool for all beds, {self.pool.workers} "
                                              f"worker(s) on {self.pool.device}"))
        #: The Ward menu (add, edit, remove beds; save).
        self.ward_menu = menu = self.menuBar().addMenu("&Ward")
        menu.addAction("&Add bed...", self._ask_add_bed)
        menu.addAction("&Edit bed...", self._ask_edit_bed)
        menu.addAction("&Remove bed...", self._ask_remove_bed)
        menu.addSeparator()
        menu.addAction("&Save", lambda: self._save_from_menu(False))
        menu.addAction("Save &as...", lambda: self._save_from_menu(True))
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self._closed = False
        self.refresh()

    # ------------------------------------------------------------------------------ beds
    def _open_bed(self, bed, at: int | None = None) -> None:
        """A tile and a running WardBed for ``bed`` at place ``at`` (None: last); an error on the
        tile when it cannot open."""
        at = len(self.tiles) if at is None else at
        tile = BedTile(bed.name)
        self.tiles.insert(at, tile)
        try:
            wb: WardBed | None = WardBed(self.cfg, bed, self.sessions_root, store=self.store,
                                         lossless=self._lossless, stop_at=self._stop_at,
                                         nets=self.pool.client() if self.pool is not None else None)
            tile.source_label.setText(mask_credentials(wb.desc))
            card = wb.pipeline.scorer.card
            # The warning when there is one (the shipped prior's name says the same), else the model's name.
            tile.model.setText(card.warning or f"model: {card.name}")
            self.errors.insert(at, "")
        except AuepaError as e:
            wb = None
            msg = mask_credentials(str(e).splitlines()[0])
            tile.show_error(msg)
            self.errors.insert(at, msg)
        self.beds.insert(at, wb)
        tile.acknowledged.connect(lambda t=tile: self.acknowledge(self.tiles.index(t)))
        tile.openRequested.connect(lambda t=tile: self.open_full_monitor(self.tiles.index(t)))
        tile.editRequested.connect(lambda t=tile: self.edit_bed_dialog(self.tiles.index(t)))

    def _close_bed(self, i: int) -> None:
        """Stop bed ``i`` (its session is closed) and drop its tile; the config is left as it is."""
        wb = self.beds.pop(i)
        if wb is not None:
            wb.close()
        tile = self.tiles.pop(i)
        self.errors.pop(i)
        self.grid.removeWidget(tile)
        tile.deleteLater()

    def _relayout(self) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
        cols = self.cfg.grid_columns()
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // cols, i % cols)
        for r in range(self.grid.rowCount()):  # every row alike when the screen is short of room
            self.grid.setRowStretch(r, 1 if r <= (len(self.tiles) - 1) // max(cols, 1) else 0)
        # [*]: Qt shows "*" there while the window is modified (unsaved changes to the ward)
        self.setWindowTitle(f"{self.cfg.name}[*] - AuE-IPA Monitor ward ({len(self.cfg.beds)} beds)")

    def add_bed(self, name: str, source: str, roi: list[float] | None = None) -> None:
        """Add a bed and start monitoring it; a password in a URL goes to the credential store
        (:func:`~auepa_monitor.core.ward.add_bed`: only once the ward is valid).

        Raises :class:`WardConfigError` (the config would be invalid; nothing changes).
        """
        from ..core.ward import add_bed

        self._open_bed(add_bed(self.cfg, Bed(name, source, roi=roi), self.store))
        self._relayout()
        self.setWindowModified(True)

    def remove_bed(self, i: int) -> None:
        """Stop bed ``i`` (its session is closed) and take it off the ward."""
        self._close_bed(i)
        self.cfg.beds.pop(i)
        self._relayout()
        self.setWindowModified(True)

    def edit_bed(self, i: int, bed: Bed, problems: list[str] | tuple[str, ...] = ()) -> Bed:
        """Give bed ``i`` the settings of ``bed`` and reopen it with them (a new session).

        Validation, the unique name and a password typed in a URL (moved to the credential
        store) are :func:`~auepa_monitor.core.ward.replace_bed`'s; ``problems``: the caller's own,
        reported with those. Raises :class:`WardConfigError` naming every problem (nothing
        changes then). Marks the ward modified; returns the bed as stored.
        """
        from ..core.ward import replace_bed

        new = replace_bed(self.cfg, i, bed, self.store, problems)
        self._close_bed(i)
        self._open_bed(new, at=i)
        self._relayout()
        self.setWindowModified(True)
        self.refresh()
        return new

    def edit_bed_dialog(self, i: int):
        """Open the "Edit bed" dialog on bed ``i`` (window-modal, not blocking); returns it."""
        from .bed_dialog import BedDialog

        bed = self.cfg.beds[i]
        wb = self.beds[i]

        def apply(new: Bed, problems: list[str]) -> None:
            # the bed's place now (it is the same object while the dialog is open)
            self.edit_bed(next(k for k, b in enumerate(self.cfg.beds) if b is bed), new, problems)

        if self.bed_dialog is not None:
            self.bed_dialog.deleteLater()
        self.bed_dialog = BedDialog(bed, i + 1, apply, wb.src.size if wb is not None else (0, 0), self)
        self.bed_dialog.open()
        return self.bed_dialog

    def save(self, path: str | Path | None = None) -> Path:
        """Write the ward file (owner-only); passwords in URLs go to the credential store first."""
        from ..core.credentials import CredentialStore
        from ..core.ward import save_ward, secure_passwords

        secure_passwords(self.cfg, self.store or CredentialStore())
        saved = save_ward(self.cfg, path)
        self.setWindowModified(False)
        return saved

    def _ask_add_bed(self) -> None:
        from PySide6.QtWidgets import QInputDialog, QMessageBox

        name, ok = QInputDialog.getText(self, "Add bed", "Bed name:")
        if not ok or not name.strip():
            return
        source, ok = QInputDialog.getText(self, "Add bed", "Source (file, camera index, /dev/videoN or "
                                          "rtsp:// / http:// URL; a password in it goes to the keyring):")
        if not ok or not source.strip():
            return
        try:
            self.add_bed(name, source)
        except AuepaError as e:
            QMessageBox.warning(self, "Add bed", mask_credentials(str(e)))

    def _ask_edit_bed(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        names = [b.name for b in self.cfg.beds]
        if len(names) == 1:
            self.edit_bed_dialog(0)
        elif names:
            name, ok = QInputDialog.getItem(self, "Edit bed", "Bed:", names, 0, False)
            if ok:
                self.edit_bed_dialog(names.index(name))

    def _ask_remove_bed(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        names = [b.name for b in self.cfg.beds]
        if not names:
            return
        name, ok = QInputDialog.getItem(self, "Remove bed", "Bed:", names, 0, False)
        if ok:
            self.remove_bed(names.index(name))

    def _save_from_menu(self, ask: bool) -> None:
        from PySide6.QtWidgets import QFileDialog, QMessageBox

        path: str | Path | None = self.cfg.path
        if ask or path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save ward", str(path or "ward.json"), "Ward (*.json)")
            if not path:
                return
        try:
            self.statusBar().showMessage(f"saved {self.save(path)}", 5000)
        except (AuepaError, OSError) as e:
            QMessageBox.warning(self, "Save ward", str(e))

    def alarms(self, now: float | None = None):
        now = time.monotonic() if now is None else now
        return rank_alarms([wb.alarm(now) for wb in self.beds if wb is not None])

    def refresh(self) -> None:
        now = time.monotonic()
        for tile, wb in zip(self.tiles, self.beds, strict=True):
            if wb is not None:
                tile.refresh(wb, now)
        ranked = self.alarms(now)
        failed = sum(1 for e in self.errors if e)
        if ranked:
            top = ranked[0]
            more = f"   (+{len(ranked) - 1} more bed{'s' if len(ranked) > 2 else ''} alarming)" if len(ranked) > 1 else ""
            self.banner.setText(f"{top.bed}: {top.message or top.priority.label}"
                                f"{' (acknowledged)' if top.acknowledged else ''}{more}")
            fg = "#000" if top.priority == Priority.MEDIUM else "#fff"
            self.banner.setStyleSheet(f"background: {top.priority.color}; color: {fg}; font-size: 20px; "
                                      f"font-weight: bold; padding: 6px;")
        else:
            self.banner.setText(f"{self.cfg.name}: no alarm on {len(self.beds) - failed} beds"
                                + (f"; {failed} bed(s) could not open" if failed else ""))
            self.banner.setStyleSheet("background: #263238; color: #cfd8dc; font-size: 20px; padding: 6px;")
        sounding = max((wb.sounding(now) for wb in self.beds if wb is not None), default=Priority.NONE)
        self.sound.update(sounding, now)

    def acknowledge(self, i: int) -> None:
        wb = self.beds[i]
        if wb is not None:
            wb.acknowledge()
            self.refresh()

    def open_full_monitor(self, i: int) -> QMainWindow | None:
        """A full monitor window on bed ``i``'s source (a new window, pipeline and session)."""
        from PySide6.QtCore import QSettings

        from ..core.pipeline import Pipeline
        from .main_window import MainWindow

        wb = self.beds[i]
        if wb is None:
            return None
        settings = QSettings(self.settings_file, QSettings.Format.IniFormat) if self.settings_file else \
            QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "AuE-IPA", "AuE-IPA Monitor")
        win = MainWindow(Pipeline(), settings, sessions_root=wb.folder.parent / (wb.folder.name + "_full"))
        win.setWindowTitle(f"{self.cfg.name} / {wb.bed.name} - AuE-IPA Monitor")
        win.show()
        if wb.bed.credential:  # the password stays in memory: the window opens the resolved source itself
            from ..core.credentials import CredentialStore
            from ..core.streams import open_any

            url = CredentialStore().resolve_url(wb.spec, wb.bed.credential)
            win.begin_source(open_any(url), wb.desc)
        else:
            win.open_source(wb.spec)
        self.full_windows.append(win)
        return win

    def shutdown(self) -> None:
        """Stop every bed and close its session (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        for w in self.full_windows:
            w.close()
        for wb in self.beds:
            if wb is not None:
                wb.close()
        if self.pool is not None:
            self.pool.close()  # after the beds: their last frames' requests are answered

    def closeEvent(self, e) -> None:  # noqa: N802 - Qt's name
        if self.ask_to_save and self.isWindowModified() and not self._closed:
            from PySide6.QtWidgets import QMessageBox

            b = QMessageBox.StandardButton
            answer = QMessageBox.question(
                self, "Close the ward", f"The ward '{self.cfg.name}' has changes that are not saved "
                "(beds added, edited or removed). Save them before closing?",
                b.Save | b.Discard | b.Cancel, b.Save)
            if answer == b.Save:
                self._save_from_menu(False)
            if answer == b.Cancel or (answer == b.Save and self.isWindowModified()):
                e.ignore()  # cancelled, or the save did not happen: the ward stays open and monitoring
                return
        self.shutdown()
        super().closeEvent(e)


def run_ward(args: argparse.Namespace) -> int:
    """``auepa-monitor ward CONFIG [--frames N --screenshot OUT.png] [--session-dir D] [--mute]``."""
    import signal

    from ..core.ward import load_ward

    try:
        cfg = load_ward(args.config)
    except AuepaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    shot, frames = getattr(args, "screenshot", None), getattr(args, "frames", None)
    if frames is not None and frames < 1:
        print("error: --frames must be 1 or more", file=sys.stderr)
        return 2
    if frames and not shot:
        print("error: --frames needs --screenshot", file=sys.stderr)
        return 2
    root = Path(args.session_dir) if getattr(args, "session_dir", None) else None
    if root is None:
        from ..core.session import default_sessions_dir

        root = default_sessions_dir() / "ward"
    from .main_window import explain_module

    explain_module()  # torchvision before Qt's GL under X (see app.run_gui): the full monitor may load it
    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = WardWindow(cfg, root, sound=not shot and not getattr(args, "mute", False), lossless=bool(shot),
                     stop_at=frames if shot else None)
    win.ask_to_save = not shot
    if shot:
        win.resize(1500, 950)  # scripted screenshots: the same size on every machine
    else:  # as large as the screen allows, up to the size the tiles want
        avail = app.primaryScreen().availableGeometry()
        win.resize(min(1500, avail.width()), min(950, avail.height()))
    win.show()
    status = {"code": 0}

    def on_sigterm(*_) -> None:  # a clean close, without asking anyone to save
        win.ask_to_save = False
        QTimer.singleShot(0, app.quit)

    signal.signal(signal.SIGTERM, on_sigterm)
    wake = QTimer(win)  # lets Python see the signal while Qt's loop runs
    wake.timeout.connect(lambda: None)
    wake.start(200)
    if shot:
        start = time.monotonic()

        def check() -> None:
            beds = [wb for wb in win.beds if wb is not None]
            done = all(wb.monitor.ended or (wb.monitor.latest is not None and wb.monitor.latest.result.frame >= frames)
                       for wb in beds)
            if done or time.monotonic() - start > 300:
                win.refresh()
                QApplication.processEvents()
                out = Path(shot)
                out.parent.mkdir(parents=True, exist_ok=True)
                if not win.grab().save(str(out)):
                    print(f"error: cannot save {out}", file=sys.stderr)
                    status["code"] = 2
                else:
                    make_private(out)
                    scored = sum(1 for t in win.tiles if t.score_value is not None)
                    print(f"saved {out} ({len(beds)} beds open, {scored} with a score)")
                if not beds:
                    status["code"] = 2
                app.quit()

        poll = QTimer(win)
        poll.timeout.connect(check)
        poll.start(250)
    app.exec()
    win.shutdown()
    from ..core.streams import wait_stream_threads

    wait_stream_threads()  # a stream reader still inside OpenCV at exit would abort the process
    return status["code"]
