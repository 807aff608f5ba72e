"""The monitor window: video with overlays, AU and pain panels, pain curve, alerts, session recording.

Threads: capture and processing run in :class:`core.player.Player` (plain Python threads), an
optional Grad-CAM worker in :class:`core.player.LatestWorker`, and OpenFace's run over a file
in an :class:`OpenFaceJob` thread. The UI thread polls them with a 10 ms timer and only draws,
records and runs the (cheap) alert logic, so no Qt signal ever crosses a thread.

AU engines: "embedded" or "openface" (``--au-engine``, the toolbar's engine box, remembered in
the settings). OpenFace needs the whole recorded file first, so a file opened with "openface"
does not play until OpenFace's result is ready (progress in the view and status bar, with a
Cancel that abandons the open): a researcher who asked for OpenFace values never gets embedded
values silently. When OpenFace is unavailable or fails, the one-line reason is shown and the
file plays with the embedded engine, said in the engine label. Live sources always use the
embedded engine (``LIVE_REFUSAL`` says why). Each frame's engine is shown beside the AU bars,
written in the session CSV (``au_engine``) and in screenshot sidecars.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..core.alerts import PAIN_ALARMS, AlertConfig, AlertEvent, AlertMonitor, Priority
from ..core.errors import AuepaError
from ..core.player import SPEEDS, LatestWorker, Player, PlayerNotice, Processed
from ..core.private_files import mask_credentials, private_dir, write_private_bytes, write_private_text
from ..core.records import PAPER_SCALE, FrameResult
from ..core.roi import roi_problem
from ..core.session import Session, default_sessions_dir
from ..core.sources import IMAGE_EXTS, VIDEO_EXTS, Source, list_cameras, open_source
from .curve import PainCurve
from .overlay import heat_to_qimage, render_annotated
from .panels import AlertBanner, AUPanel, EngagementPanel, PainPanel
from .pyside_fix import protect_none
from .sound import AlarmSound
from .theme import apply_dark
from .video_view import VideoView

MAX_RECENT = 8


def _png_bytes(img: QImage) -> bytes:
    """A QImage encoded as PNG in memory (written to disk by the caller with owner-only rights)."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = img.save(buf, "PNG")
    buf.close()
    if not ok or data.isEmpty():
        raise ValueError("PNG encoding failed")
    return bytes(data.data())
ENGINES = {"embedded": "embedded", "openface": "OpenFace 2.2"}  # engine name -> what the UI calls it


class OpenFaceJob:
    """Builds an :class:`~auepa_monitor.core.openface.OpenFaceAUEngine` for one file in a thread.

    The engine's constructor runs the user's FeatureExtraction over the whole file (minutes on a
    long video). The GUI polls ``done``/``progress`` from its timer; nothing here touches Qt.

    Attributes:
        source: the file; ``desc``/``play``/``src``: what to start once ready (``src`` is the
            already opened Source, closed by whoever drops the job).
        progress: (frames done, frames in total or 0 when unknown).
        engine / error: the result, set before ``done`` (error: one line).
    """

    def __init__(self, source: Path, binary: str | None, src: Source, desc: str, play: bool) -> None:
        self.source, self.binary, self.src, self.desc, self.play = source, binary, src, desc, play
        self.progress: tuple[int, int] = (0, 0)
        self.engine: Any = None
        self.error = ""
        self.started = time.monotonic()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auepa-openface", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _report(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def _run(self) -> None:
        try:
            from ..core.openface import OpenFaceAUEngine

            self.engine = OpenFaceAUEngine(self.source, self.binary, progress=self._report,
                                           should_stop=self._cancel.is_set)
        except AuepaError as e:
            self.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        except Exception as e:  # noqa: BLE001 - a parser crash must reach the user, not kill a thread
            self.error = f"OpenFace failed ({type(e).__name__}: {e})".splitlines()[0]
        finally:
            self._done.set()

    def cancel(self) -> None:
        """Ask the run to stop (OpenFace is killed within a poll interval)."""
        self._cancel.set()

    def join(self, timeout: float = 15.0) -> None:
        self._thread.join(timeout)


def explain_module():
    """``core.explain`` when it is installed (Grad-CAM and regressor weights), else None."""
    try:
        from ..core import explain
    except ImportError:
        return None
    return explain


@dataclass
class Span:
    """An alert span on the curve: source seconds; ``end`` None while open."""

    alarm: str
    priority: Priority
    start: float
    end: float | None = None


class MainWindow(QMainWindow):
    """The monitor window.

    Args:
        pipeline: the one Pipeline (process/reset/set_target, ``scorer``) frames run through.
        settings: where settings are remembered (tests pass a temporary INI file).
        lossless: process every frame of a file (scripted screenshots) instead of real-time pace.
        sound: play alarm sounds (tests turn it off).
        sessions_root: folder for session folders (default: settings, then the per-user data dir).
        device: compute device name shown in the status bar.
        au_engine: "embedded" or "openface" for the sources opened from now on (remembered);
            None: the remembered choice, else "embedded".
        openface_bin: OpenFace's FeatureExtraction (file or folder); None: the remembered
            setting, else the engine's own lookup ($AUEPA_OPENFACE_BIN, PATH).
    """

    sourceOpened = Signal(str)

    def __init__(self, pipeline: Any, settings: QSettings, *, lossless: bool = False, sound: bool = True,
                 sessions_root: str | Path | None = None, device: str = "cpu", au_engine: str | None = None,
                 openface_bin: str | None = None) -> None:
        if au_engine is not None and au_engine not in ENGINES:  # checked before any thread starts
            raise ValueError(f"unknown AU engine {au_engine!r}: use embedded or openface")
        super().__init__()
        protect_none()  # PySide6 6.12 + Python 3.11 refcount bug: see pyside_fix
        apply_dark(QApplication.instance())
        self.pipeline = pipeline
        self.settings = settings
        self.device = device
        self.player = Player(pipeline, lossless=lossless)
        self.alerts = AlertMonitor(self._load_alert_config())
        self.sound = AlarmSound(enabled=sound)
        self.session: Session | None = None
        self._sessions_root = Path(sessions_root) if sessions_root else None
        self.source_desc = ""
        self.source_live = False
        self.source_fps = 30.0
        self.frame_count = 0
        self.current: Processed | None = None
        self.last_error = ""
        self.spans: list[Span] = []
        self.events: list[AlertEvent] = []
        self.frames_shown = 0
        self._shown_walls: deque[float] = deque(maxlen=120)
        self._display_latency: deque[float] = deque(maxlen=60)
        self._last_t: float | None = None
        self._last_epoch: int | None = None
        self._last_frame: int | None = None
        self._last_curve = 0.0
        self._last_weights = 0.0
        self._explainer = None
        self._explain_worker: LatestWorker | None = None
        self._explanation = None
        self._cam_walls: dict[int, float] = {}  # frame -> capture time, to show the heatmap's age
        self.explanations = 0
        self.on_frame: Callable[[Processed], None] | None = None  # hook for scripted runs
        self.initial_roi: tuple[float, float, float, float] | None = None  # --roi, for the first source
        #: On an OpenFace failure play with the embedded engine (False: show the error, open nothing;
        #: scripted screenshots, which must not save embedded values for an OpenFace request).
        self.openface_fallback = True
        self._embedded = pipeline.au_engine if getattr(pipeline.au_engine, "name", "") == "embedded" else None
        self.engine_in_use = "embedded"  # engine of the current source (the pipeline's, once swapped)
        self.engine_note = ""  # why the current source does not use the chosen engine, if it does not
        self._engine_why = ""  # its summary in the engine label
        self._of_job: OpenFaceJob | None = None
        self._old_jobs: list[OpenFaceJob] = []  # jobs whose threads may still be ending (joined at shutdown)
        # Command-line choices apply to this run; choices made in the window are remembered.
        self._engine_arg = au_engine
        self._bin_arg = str(openface_bin) if openface_bin else None
        self.setWindowTitle(f"AuE-IPA Monitor {__version__}")
        self.setAcceptDrops(True)
        self._build_ui()
        self._restore()
        self._set_scorer_facts()
        self._update_post_process()
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # ----------------------------------------------------------------------------------- layout
    def _build_ui(self) -> None:
        st = self.style()
        self.view = VideoView()
        self.view.clicked.connect(self._view_clicked)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setMinimum(1)
        self.slider.sliderMoved.connect(self.seek)
        self.pos_label = QLabel("")
        self.pos_label.setMinimumWidth(150)
        seek_row = QHBoxLayout()
        seek_row.addWidget(self.slider, 1)
        seek_row.addWidget(self.pos_label)
        self.curve = PainCurve()
        self.curve.seekRequested.connect(lambda t: self.seek(self.curve.frame_at(t)))
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.view, 1)
        lv.addLayout(seek_row)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(left)
        split.addWidget(self.curve)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        self.banner = AlertBanner()
        self.pain = PainPanel()
        self.au_panel = AUPanel()
        right = QWidget()
        right.setMinimumWidth(320)
        right.setMaximumWidth(420)
        rv = QVBoxLayout(right)
        self._right_column = rv
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(self.banner)
        rv.addWidget(self.pain)
        self.engine_label = QLabel("AU engine: embedded")
        self.engine_label.setWordWrap(True)
        self.engine_label.setToolTip("The engine that produced the AU values shown (also in the session CSV)")
        rv.addWidget(self.engine_label)
        # AU bars and alarm settings share a tab area so the column fits 800-pixel-high screens.
        self.tabs = QTabWidget()
        self.tabs.addTab(self.au_panel, "AU intensities")
        self.engagement = EngagementPanel()
        i = self.tabs.addTab(self.engagement, "AU engagement")
        self.tabs.setTabToolTip(i, "AU engagement (Grad-CAM) of the loaded end-to-end CNN, this frame and ranked "
                                   "over the session")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._build_alert_settings())
        i = self.tabs.addTab(scroll, "Alarms")
        self.tabs.setTabToolTip(i, "Alarm settings")
        # Three tabs in a 320-pixel column (1024x768): all stay visible, no scroll arrows.
        self.tabs.setUsesScrollButtons(False)
        self.tabs.setElideMode(Qt.TextElideMode.ElideRight)
        rv.addWidget(self.tabs)
        rv.addStretch(1)
        central = QWidget()
        h = QHBoxLayout(central)
        h.setContentsMargins(4, 4, 4, 4)
        h.addWidget(split, 1)
        h.addWidget(right)
        self.setCentralWidget(central)

        def act(text: str, slot, shortcut: str | QKeySequence | None = None, icon=None,
                checkable: bool = False) -> QAction:
            a = QAction(text, self)
            if icon is not None:
                a.setIcon(st.standardIcon(icon))
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setCheckable(checkable)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        P = QStyle.StandardPixmap
        self.act_open = act("Open…", self.open_dialog, QKeySequence.StandardKey.Open, P.SP_DialogOpenButton)
        self.act_play = act("Play/Pause", self.toggle_play, "Space", P.SP_MediaPlay)
        self.act_back = act("Back", lambda: self.step(-1), "Left", P.SP_MediaSeekBackward)
        self.act_fwd = act("Forward", lambda: self.step(1), "Right", P.SP_MediaSeekForward)
        self.act_prev_alert = act("Prev alert", self.prev_alert, "[", P.SP_MediaSkipBackward)
        self.act_next_alert = act("Next alert", self.next_alert, "]", P.SP_MediaSkipForward)
        self.act_shot = act("Screenshot", lambda: self.save_screenshot(), "S", P.SP_DialogSaveButton)
        self.act_ack = act("Acknowledge", self.acknowledge, "A", P.SP_DialogApplyButton)
        self.act_pause_audio = act("Audio off 2 min", self.pause_audio, "P", P.SP_MediaVolumeMuted)
        for a, tip in ((self.act_back, "Step one frame back"), (self.act_fwd, "Step one frame forward"),
                       (self.act_prev_alert, "Jump to the previous alert"), (self.act_next_alert, "Jump to the next alert"),
                       (self.act_shot, "Save the video with overlays, the window and a JSON sidecar"),
                       (self.act_ack, "Acknowledge the active alarms (silences them until a new one)"),
                       (self.act_pause_audio, "Pause alarm sounds for 2 minutes (visual alarms stay)"),
                       (self.act_play, "Play / pause")):
            a.setToolTip(f"{tip} ({a.shortcut().toString()})")
        self.speed = QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}x", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Playback speed (files). Frames are skipped when processing cannot keep up.")
        self.speed.currentIndexChanged.connect(lambda _i: self._speed_changed())
        tb = QToolBar("Playback")
        tb.setObjectName("playback")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.act_open, self.act_play, self.act_back, self.act_fwd):
            tb.addAction(a)
        tb.addWidget(self.speed)
        self.engine_box = QComboBox()
        for name, label in ENGINES.items():
            self.engine_box.addItem(f"AU engine: {label}", name)
        self.engine_box.setToolTip("AU intensity engine for the sources opened next (changing it reopens the file). "
                                   "OpenFace runs over the whole file first; cameras use the embedded engine.")
        tb.addWidget(self.engine_box)
        tb.addSeparator()
        for a in (self.act_prev_alert, self.act_next_alert, self.act_shot):
            tb.addAction(a)
        self.addToolBar(tb)
        # An alarm's controls sit under the banner, never in a toolbar's overflow (1024x768 included).
        self.ack_button, self.audio_button = QToolButton(), QToolButton()
        alarm_row = QHBoxLayout()
        alarm_row.setContentsMargins(0, 0, 0, 0)
        for b, a in ((self.ack_button, self.act_ack), (self.audio_button, self.act_pause_audio)):
            b.setDefaultAction(a)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            alarm_row.addWidget(b)
        self._right_column.insertLayout(1, alarm_row)
        # Overlay toggles and the heatmap slot.
        ob = QToolBar("Overlays")
        ob.setObjectName("overlays")
        self.chk_box = QCheckBox("Face box")
        self.chk_lm = QCheckBox("Landmarks")
        self.chk_regions = QCheckBox("AU regions")
        self.chk_heat = QCheckBox("Heatmap")
        for c in (self.chk_box, self.chk_lm, self.chk_regions, self.chk_heat):
            c.setChecked(True)
            c.toggled.connect(self._overlays_changed)
            ob.addWidget(c)
        ob.addWidget(QLabel(" opacity "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setFixedWidth(90)
        self.opacity.valueChanged.connect(self._overlays_changed)
        ob.addWidget(self.opacity)
        self.heat_label = QLabel("")
        self.heat_label.setMinimumWidth(260)
        ob.addWidget(self.heat_label)
        self.addToolBarBreak()
        self.addToolBar(ob)
        # Playback keys (Space, arrows) must reach the shortcuts, not a focused checkbox or slider.
        for w in (self.chk_box, self.chk_lm, self.chk_regions, self.chk_heat, self.opacity, self.speed,
                  self.slider):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for b in tb.findChildren(QWidget) + ob.findChildren(QWidget):
            if b.focusPolicy() != Qt.FocusPolicy.NoFocus and not isinstance(b, QComboBox):
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view.setFocus()
        # Menus.
        mb = self.menuBar()
        m_file = mb.addMenu("&File")
        m_file.addAction(self.act_open)
        self.m_camera = m_file.addMenu("Camera")
        self.m_camera.aboutToShow.connect(self._fill_camera_menu)
        self.m_recent = m_file.addMenu("Recent files")
        m_file.addSeparator()
        m_file.addAction(act("Load pain model…", self.load_model_dialog))
        m_file.addAction(act("Load CNN checkpoint (Grad-CAM)…", self.load_cnn_dialog))
        m_file.addAction(act("Session folder…", self.choose_session_dir))
        m_file.addAction(act("Keep sessions for…", self.choose_keep_days))
        m_file.addAction(act("OpenFace FeatureExtraction…", self.choose_openface_bin))
        m_file.addSeparator()
        m_file.addAction(act("Quit", self.close, QKeySequence.StandardKey.Quit))
        m_play = mb.addMenu("&Playback")
        for a in (self.act_play, self.act_back, self.act_fwd, self.act_prev_alert, self.act_next_alert):
            m_play.addAction(a)
        m_play.addSeparator()
        # A click chooses the target face; this gives the choice back to the tracker.
        self.act_auto_target = act("Target face: automatic", lambda: self.set_target(None), "T")
        m_play.addAction(self.act_auto_target)
        m_alarm = mb.addMenu("&Alarms")
        for a in (self.act_ack, self.act_pause_audio, self.act_shot):
            m_alarm.addAction(a)
        m_help = mb.addMenu("&Help")
        m_help.addAction(act("Keys, scales and alarms", self._help_text, QKeySequence.StandardKey.HelpContents))
        m_help.addAction(act("About", self._about))
        # Status bar.
        sb = self.statusBar()
        self.stat_label = QLabel("")
        self.session_label = QLabel("")
        self.session_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.session_label.setMaximumWidth(240)
        notice = QLabel("Not a medical device")
        notice.setToolTip(NOT_A_MEDICAL_DEVICE)
        notice.setStyleSheet("color: #ffb74d;")
        self.cancel_button = QPushButton("Cancel OpenFace")
        self.cancel_button.setToolTip("Stop OpenFace's run; the file is not opened")
        self.cancel_button.clicked.connect(self.cancel_openface)
        self.cancel_button.setVisible(False)
        sb.addPermanentWidget(self.cancel_button)
        sb.addPermanentWidget(self.stat_label)  # permanent: messages never hide the figures
        sb.addPermanentWidget(self.session_label)
        sb.addPermanentWidget(notice)
        self._update_recent_menu()

    def _build_alert_settings(self) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 6, 0, 0)
        cfg = self.alerts.config
        self.alert_enabled = QCheckBox("Pain alerts on")
        self.alert_enabled.setChecked(cfg.enabled)
        form.addRow(self.alert_enabled)

        def spin(value: float, lo: float, hi: float, step: float, suffix: str = "") -> QDoubleSpinBox:
            s = QDoubleSpinBox()
            s.setRange(lo, hi)
            s.setSingleStep(step)
            s.setDecimals(1)
            s.setValue(value)
            s.setSuffix(suffix)
            s.setKeyboardTracking(False)
            return s

        self.sp_high = spin(cfg.high_on, 0.5, 10, 0.5)
        self.sp_mid = spin(cfg.mid_on, 0.5, 10, 0.5)
        self.sp_hyst = spin(cfg.hysteresis, 0, 5, 0.5)
        self.sp_sustain = spin(cfg.sustain_s, 0, 120, 1, " s")
        self.sp_clear = spin(cfg.clear_s, 0, 120, 1, " s")
        self.sp_noface = spin(cfg.no_face_s, 1, 120, 1, " s")
        form.addRow("High (strong pain) ≥", self.sp_high)
        form.addRow("Medium (mid pain) ≥", self.sp_mid)
        form.addRow("Clears below threshold −", self.sp_hyst)
        form.addRow("Sustained for", self.sp_sustain)
        form.addRow("Clears after", self.sp_clear)
        form.addRow("No face alarm after", self.sp_noface)
        self.alert_enabled.toggled.connect(self._alert_settings_changed)
        for s in (self.sp_high, self.sp_mid, self.sp_hyst, self.sp_sustain, self.sp_clear, self.sp_noface):
            s.valueChanged.connect(self._alert_settings_changed)
        return box

    # --------------------------------------------------------------------------------- settings
    def _load_alert_config(self) -> AlertConfig:
        self.settings.beginGroup("alerts")
        d = {k: self.settings.value(k) for k in self.settings.childKeys()}
        self.settings.endGroup()
        return AlertConfig.from_dict(d)

    def _alert_settings_changed(self) -> None:
        old = self.alerts.config
        cfg = AlertConfig(enabled=self.alert_enabled.isChecked(), high_on=self.sp_high.value(),
                          mid_on=self.sp_mid.value(), hysteresis=self.sp_hyst.value(),
                          sustain_s=self.sp_sustain.value(), clear_s=self.sp_clear.value(),
                          no_face_s=self.sp_noface.value(), stall_s=old.stall_s,
                          audio_pause_s=old.audio_pause_s).validated()
        self.set_alert_config(cfg)

    def set_alert_config(self, cfg: AlertConfig) -> None:
        """Apply and remember alert settings."""
        self.alerts.config = cfg
        self._push_scale()
        self.settings.beginGroup("alerts")
        for k, v in cfg.to_dict().items():
            self.settings.setValue(k, v)
        self.settings.endGroup()
        self.curve.set_thresholds(cfg.high_on, cfg.mid_on)
        if self.session:
            self.session.event("alert_settings", **cfg.to_dict())

    def _push_scale(self) -> None:
        """The alarm settings' pain levels go to the scorer too (the record's level and the CSV)."""
        scale = self.alerts.config.scale()

        def set_scale(pipe) -> None:
            pipe.scorer.scale = scale

        self.player.call_in_worker(set_scale)

    def _restore(self) -> None:
        s = self.settings
        geo = s.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 900)
        # Read everything first: setting one widget saves all overlay settings.
        checks = {key: str(s.value(f"overlay/{key}", "true")).lower() == "true"
                  for key in ("box", "landmarks", "regions", "heatmap")}
        opacity = int(s.value("overlay/opacity", 45))
        for key, chk in (("box", self.chk_box), ("landmarks", self.chk_lm), ("regions", self.chk_regions),
                         ("heatmap", self.chk_heat)):
            chk.blockSignals(True)
            chk.setChecked(checks[key])
            chk.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(opacity)
        self.opacity.blockSignals(False)
        sp = float(s.value("playback/speed", 1.0))
        if sp in SPEEDS:
            self.speed.setCurrentIndex(SPEEDS.index(sp))
        engine = self._engine_arg or str(s.value("engine/au", "embedded"))
        self.engine_box.setCurrentIndex(max(0, self.engine_box.findData(engine)))
        self.engine_box.currentIndexChanged.connect(lambda _i: self._engine_changed())
        self.curve.set_thresholds(self.alerts.config.high_on, self.alerts.config.mid_on)
        self._push_scale()
        self._overlays_changed()

    def _overlays_changed(self) -> None:
        o = self.view.options
        o.face_box, o.landmarks = self.chk_box.isChecked(), self.chk_lm.isChecked()
        o.au_regions, o.heatmap = self.chk_regions.isChecked(), self.chk_heat.isChecked()
        o.heat_opacity = self.opacity.value() / 100.0
        s = self.settings
        s.setValue("overlay/box", o.face_box)
        s.setValue("overlay/landmarks", o.landmarks)
        s.setValue("overlay/regions", o.au_regions)
        s.setValue("overlay/heatmap", o.heatmap)
        s.setValue("overlay/opacity", self.opacity.value())
        if hasattr(self, "player"):
            self._update_post_process()
        if not o.heatmap:
            self.heat_label.setText("")
        self.view.update()

    def sessions_root(self) -> Path:
        if self._sessions_root is not None:
            return self._sessions_root
        v = self.settings.value("session/dir")
        return Path(v) if v else default_sessions_dir()

    def choose_session_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder for session recordings", str(self.sessions_root()))
        if d:
            self._sessions_root = None
            self.settings.setValue("session/dir", d)
            self.statusBar().showMessage(f"New sessions go to {d}", 5000)

    def keep_days(self) -> int:
        """Days closed sessions are kept (setting ``session/keep_days``; 0 or unset: keep all)."""
        try:
            return max(0, int(self.settings.value("session/keep_days", 0) or 0))
        except (TypeError, ValueError):
            return 0

    def choose_keep_days(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        n, ok = QInputDialog.getInt(self, "Keep sessions for", "Days closed sessions are kept (0: keep all); "
                                    "applied when the program starts:", self.keep_days(), 0, 36500)
        if ok:
            self.settings.setValue("session/keep_days", n)
            self.statusBar().showMessage(f"Sessions kept {n} days (from the next start)" if n else
                                         "All sessions kept", 5000)

    def apply_retention(self, keep_days: int | None = None) -> list[Path]:
        """Remove closed sessions older than ``keep_days`` (default: the setting) from the sessions folder."""
        from ..core.retention import apply_retention

        days = self.keep_days() if keep_days is None else keep_days
        removed = apply_retention(self.sessions_root(), days)
        if removed:
            self.statusBar().showMessage(f"Removed {len(removed)} session(s) older than {days} days", 10000)
        return removed

    @property
    def au_engine_choice(self) -> str:
        """The engine chosen for the sources opened next: "embedded" or "openface"."""
        return str(self.engine_box.currentData())

    def set_au_engine(self, name: str) -> None:
        """Choose the engine (remembered); a recorded file that is open is reopened with it."""
        i = self.engine_box.findData(name)
        if i < 0:
            raise ValueError(f"unknown AU engine {name!r}: use embedded or openface")
        if i == self.engine_box.currentIndex():
            self._engine_changed()
        else:
            self.engine_box.setCurrentIndex(i)  # -> _engine_changed

    def _engine_changed(self) -> None:
        self.settings.setValue("engine/au", self.au_engine_choice)
        job = self._of_job
        path = job.desc if job is not None else (self.source_desc if self.player.source is not None
                                                  and not self.source_live else "")
        if path:
            self.open_source(path, play=job.play if job is not None else self.player.playing)
        else:
            self.statusBar().showMessage(f"AU engine for the next source: {ENGINES[self.au_engine_choice]}", 5000)

    @property
    def openface_bin(self) -> str | None:
        """FeatureExtraction from --openface-bin, else the setting, else None (the engine's own lookup)."""
        v = self._bin_arg or self.settings.value("engine/openface_bin")
        return str(v) if v else None

    def choose_openface_bin(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "OpenFace's FeatureExtraction", self.openface_bin or "",
                                              "FeatureExtraction (FeatureExtraction*);;All files (*)")
        if path:
            self._bin_arg = None
            self.settings.setValue("engine/openface_bin", path)
            self.statusBar().showMessage(f"OpenFace: using {path}", 5000)

    # ---------------------------------------------------------------------------------- sources
    def open_source(self, spec: str | int, play: bool = True) -> bool:
        """Open a file path or camera index. A bad source gives a clear message, never a crash."""
        try:
            if isinstance(spec, int) or str(spec).strip().isdigit():
                # A camera reopens by itself after an unplug or a hang (technical alarm meanwhile).
                from ..core.reconnect import ReconnectingSource
                from ..core.sources import CameraSource

                idx = int(spec)
                src = ReconnectingSource(lambda: CameraSource(idx), name=f"camera {idx}")
            else:
                src = open_source(spec)
        except AuepaError as e:
            self.show_error(str(e))
            return False
        self.begin_source(src, src.name if src.live else str(spec), play)
        if not src.live:
            self._add_recent(str(Path(str(spec)).resolve()))
        return True

    def begin_source(self, src: Source, desc: str, play: bool = True) -> None:
        """Play an opened source with the chosen AU engine.

        "openface" on a recorded file: OpenFace runs first in an :class:`OpenFaceJob` thread and
        the file starts once its values are ready (see the module docstring); meanwhile the
        previous source is stopped. On a live source: the embedded engine, saying why.
        """
        self._drop_openface_job()
        if self.au_engine_choice != "openface":
            self.start_source(src, desc, play)
            return
        if src.live:
            from ..core.openface import LIVE_REFUSAL

            self.start_source(src, desc, play, note=f"OpenFace not used for {desc}: {LIVE_REFUSAL}",
                              why="live source")
            return
        # Stop what plays now: its frames must not keep arriving while this file waits for OpenFace.
        self.player.stop()
        self._set_play_icon(False)
        # No frames come while OpenFace runs: no stall alarm, nothing of the previous source shown.
        self._apply_events(self.alerts.reset() + self.alerts.source_ok() + self.alerts.watch_stall(False))
        self.slider.setEnabled(False)
        self.spans.clear()
        self.curve.start_file(src.frame_count, src.fps)
        self.pain.set_result(None)
        self.au_panel.set_values({})
        self.pos_label.setText("")
        self._end_session()
        self.current = None
        self.source_desc = desc
        self.source_live = False
        self.last_error = ""
        self._of_job = OpenFaceJob(Path(desc), self.openface_bin, src, desc, play)
        self.cancel_button.setVisible(True)
        self.engine_label.setText(f"AU engine: {ENGINES['openface']} (running…)")
        self._show_openface_progress()
        self.setWindowTitle(f"AuE-IPA Monitor – {Path(desc).name} (OpenFace running)")

    def _show_openface_progress(self) -> None:
        job = self._of_job
        if job is None:
            return
        done, total = job.progress
        pct = f"{100 * done / total:.0f}% ({done}/{total} frames)" if total else f"{done} frames"
        msg = (f"Running OpenFace on {Path(job.desc).name}: {pct}, {time.monotonic() - job.started:.0f} s. "
               "The file plays when its AU values are ready.")
        self.view.clear(msg)
        if self.statusBar().currentMessage() != msg:
            self.statusBar().showMessage(msg)

    def cancel_openface(self) -> None:
        """Stop a running OpenFace job; its file is not opened (choose the embedded engine to view it)."""
        job = self._of_job
        if job is None:
            return
        self._drop_openface_job()
        msg = f"OpenFace cancelled: {Path(job.desc).name} not opened (choose the embedded engine to play it)"
        self.view.clear(msg)
        self.statusBar().showMessage(msg, 10000)
        self.engine_label.setText(f"AU engine: {ENGINES[self.au_engine_choice]}")
        self.setWindowTitle(f"AuE-IPA Monitor {__version__}")

    def _drop_openface_job(self) -> None:
        job, self._of_job = self._of_job, None
        self.cancel_button.setVisible(False)
        if job is not None:
            job.cancel()
            job.src.close()
            self._old_jobs.append(job)
        self._old_jobs = [j for j in self._old_jobs if j.alive]

    def _poll_openface(self) -> None:
        job = self._of_job
        if job is None:
            return
        if not job.done:
            if int(time.monotonic() * 4) != int((time.monotonic() - 0.01) * 4):
                self._show_openface_progress()
            return
        self._of_job = None
        self._old_jobs.append(job)  # its thread is ending: joined at shutdown
        self.cancel_button.setVisible(False)
        if job.engine is not None:
            notes = list(job.engine.info.notes)
            how = "from the cache" if job.engine.info.from_cache else f"in {job.engine.info.seconds:.1f} s"
            self.start_source(job.src, job.desc, job.play, engine=job.engine)
            self.statusBar().showMessage(f"OpenFace values for {Path(job.desc).name} ready ({how})"
                                         + (f"; {notes[0]}" if notes else ""), 8000)
            if self.session:
                self.session.event("openface", csv=str(job.engine.info.csv), from_cache=job.engine.info.from_cache,
                                   seconds=round(job.engine.info.seconds, 2), notes=notes)
            return
        if not self.openface_fallback:
            job.src.close()
            self.show_error(job.error)
            return
        note = f"Playing with the embedded engine: {job.error}"
        self.start_source(job.src, job.desc, job.play, note=note, why="OpenFace failed")
        self.show_error(note)

    def _embedded_engine(self) -> Any:
        if self._embedded is None:
            from ..core.au_engine import EmbeddedAUEngine

            self._embedded = EmbeddedAUEngine()
        return self._embedded

    def start_source(self, src: Source, desc: str, play: bool = True, engine: Any = None, note: str = "",
                     why: str = "") -> None:
        """Play an opened source: new session folder, fresh alert state and curve.

        ``engine``: the AU engine for this source (None: the embedded one); it replaces the
        pipeline's in the processing thread before this source's first frame. ``note``: why
        the chosen engine is not used (status bar, the engine label's tooltip, the session log);
        ``why``: its two-word summary, shown in the engine label.
        """
        self._drop_openface_job()
        if engine is None:
            engine = self._embedded_engine()

        def swap(pipe) -> None:
            pipe.au_engine = engine  # reset by the player on this source's first frame (new epoch)

        self.player.call_in_worker(swap)
        self.engine_in_use = engine.name
        self.engine_note = note
        self._engine_why = f" (OpenFace not used: {why or 'see the tooltip'})" if note else ""
        self.engine_label.setText(f"AU engine: {ENGINES.get(engine.name, engine.name)}{self._engine_why}")
        self.engine_label.setToolTip(note or "The engine that produced the AU values shown (also in the session CSV)")
        self._end_session()
        self.last_error = ""
        self.source_desc = desc
        self.source_live = src.live
        self.source_fps = src.fps
        self.frame_count = src.frame_count
        self.current = None
        self.spans.clear()
        self._last_t = None
        self._last_epoch = None
        self._last_frame: int | None = None
        self._apply_events(self.alerts.reset() + self.alerts.source_ok())
        self.view.clear()
        self._explanation = None
        if self._explainer is not None:
            self._explainer.reset_session()
        self.engagement.reset()
        try:
            self.session = Session(desc, root=self.sessions_root(), info=self._session_info())
            self.session_label.setText(self.fontMetrics().elidedText(
                f"● REC {self.session.path.name}", Qt.TextElideMode.ElideMiddle, 230))
            self.session_label.setToolTip(f"Recording to {self.session.path}")
        except OSError as e:
            self.session = None
            self.show_error(f"cannot create the session folder in {self.sessions_root()}: {e}; not recording")
        if self.session is not None and note:
            self.session.event("au_engine_note", engine=engine.name, note=note)
        if src.live:
            self.curve.start_live()
            self.slider.setEnabled(False)
        else:
            self.curve.start_file(src.frame_count, src.fps)
            self.slider.setEnabled(src.frame_count > 1)
            self.slider.setMaximum(max(1, src.frame_count))
        # A target chosen by a click belongs to its source; --roi applies to the first source only.
        roi, self.initial_roi = self.initial_roi, None
        problem = roi_problem(roi, src.size, desc) if roi is not None else ""
        if problem:  # a region off the frame could never hold a face: say so, pick automatically
            roi = None
            self.show_error(f"{problem}; the target is chosen automatically instead")
        self.player.set_target(roi)
        self._target_chosen = roi is not None
        self.view.target_roi = roi
        self.player.open(src, play=play)
        self.alerts.watch_stall(play, time.monotonic())
        self._set_play_icon(play)
        self.setWindowTitle(f"AuE-IPA Monitor – {Path(desc).name if not src.live else mask_credentials(desc)}")
        self.statusBar().showMessage(note or f"Opened {mask_credentials(desc)}", 15000 if note else 4000)
        self.sourceOpened.emit(desc)

    def show_error(self, message: str) -> None:
        """A one-line message in the view, the status bar and a non-blocking dialog."""
        message = mask_credentials(message)
        self.last_error = message
        self.statusBar().showMessage(message, 15000)
        if self.current is None:
            self.view.clear(message)
        box = QMessageBox(QMessageBox.Icon.Warning, "AuE-IPA Monitor", message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # non-modal: the monitor keeps running behind it
        self._error_box = box

    def open_dialog(self) -> None:
        exts = " ".join(f"*{e}" for e in sorted(VIDEO_EXTS | IMAGE_EXTS))
        path, _ = QFileDialog.getOpenFileName(self, "Open video or image", str(self.settings.value("last_dir", "")),
                                              f"Videos and images ({exts});;All files (*)")
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_source(path)

    def _fill_camera_menu(self) -> None:
        self.m_camera.clear()
        cams = list_cameras()
        if not cams:
            a = self.m_camera.addAction("No camera found")
            a.setEnabled(False)
        for i in cams:
            self.m_camera.addAction(f"Camera {i}", lambda i=i: self.open_source(i))

    def _add_recent(self, path: str) -> None:
        rec = [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", json.dumps(([path] + rec)[:MAX_RECENT]))
        self._update_recent_menu()

    def recent_files(self) -> list[str]:
        try:
            v = json.loads(str(self.settings.value("recent", "[]")))
            return [str(x) for x in v] if isinstance(v, list) else []
        except json.JSONDecodeError:
            return []

    def _update_recent_menu(self) -> None:
        self.m_recent.clear()
        for p in self.recent_files():
            self.m_recent.addAction(p, lambda p=p: self.open_source(p))
        self.m_recent.setEnabled(bool(self.recent_files()))

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802
        if e.mimeData().hasUrls() and any(u.isLocalFile() for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if files:
            self.open_source(files[0])
            e.acceptProposedAction()

    # --------------------------------------------------------------------------------- playback
    def toggle_play(self) -> None:
        if self.player.source is None:
            return
        if self.player.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        self.player.play()
        self.alerts.watch_stall(True, time.monotonic())
        self._set_play_icon(True)

    def pause(self) -> None:
        self.player.pause()
        self._apply_events(self.alerts.watch_stall(False))
        self._set_play_icon(False)

    def _set_play_icon(self, playing: bool) -> None:
        P = QStyle.StandardPixmap
        self.act_play.setIcon(self.style().standardIcon(P.SP_MediaPause if playing else P.SP_MediaPlay))
        self.act_play.setText("Pause" if playing else "Play")

    def seek(self, frame: int) -> None:
        """Show 1-based ``frame`` of a file (temporal state restarts there)."""
        if self.player.source is None or self.source_live:
            return
        self.player.seek(frame)

    def step(self, delta: int) -> None:
        if self.player.source is None or self.source_live:
            return
        self.player.step(delta)
        self._apply_events(self.alerts.watch_stall(False))
        self._set_play_icon(False)

    def _speed_changed(self) -> None:
        sp = float(self.speed.currentData())
        self.player.set_speed(sp)
        self.settings.setValue("playback/speed", sp)

    def prev_alert(self) -> None:
        self._jump_alert(-1)

    def next_alert(self) -> None:
        self._jump_alert(1)

    def _jump_alert(self, direction: int) -> None:
        if self.source_live or not self.spans or self.current is None:
            return
        t = self.current.result.timestamp
        starts = sorted({round(s.start, 3) for s in self.spans})
        cand = [s for s in starts if s > t + 1e-3] if direction > 0 else [s for s in starts if s < t - 1e-3]
        if cand:
            target = cand[0] if direction > 0 else cand[-1]
            self.seek(self.curve.frame_at(target))

    def _view_clicked(self, x: float, y: float) -> None:
        """A click on a face makes it the target (a box around the click, sized like the current face)."""
        if self.current is None:
            return
        r = self.current.result
        if r.face is not None:
            side = max(r.face.box[2], r.face.box[3])
        else:
            side = 0.25 * r.size[1]
        roi = (x - side / 2, y - side / 2, side, side)
        self.set_target(roi)

    def player_has_target(self) -> bool:
        """True when the user chose the target face (click or --roi) for the current source."""
        return getattr(self, "_target_chosen", False)

    def set_target(self, roi: tuple[float, float, float, float] | None) -> None:
        self._target_chosen = roi is not None
        self.player.set_target(roi)
        self.view.target_roi = roi
        self.view.update()
        if self.session:
            self.session.event("target_set", roi=None if roi is None else [round(v, 1) for v in roi])
        if roi is not None:
            self.statusBar().showMessage(f"Target face set at ({roi[0] + roi[2] / 2:.0f}, "
                                         f"{roi[1] + roi[3] / 2:.0f})", 4000)
        if not self.source_live and not self.player.playing and self.player.last_index:
            self.seek(self.player.last_index)  # paused: show the new target on this frame now

    # ----------------------------------------------------------------------------------- alarms
    def acknowledge(self) -> None:
        self._apply_events(self.alerts.acknowledge())

    def pause_audio(self) -> None:
        self._apply_events(self.alerts.pause_audio(time.monotonic()))

    def _apply_events(self, events: list[AlertEvent]) -> None:
        t_now = self._last_t
        for e in events:
            self.events.append(e)
            if self.session:
                self.session.event("alert", **e.log_fields())
            if e.alarm in PAIN_ALARMS:
                if e.kind == "raised":
                    self.spans.append(Span(e.alarm, e.priority, e.t if e.t is not None else (t_now or 0.0)))
                elif e.kind == "cleared":
                    for s in reversed(self.spans):
                        if s.alarm == e.alarm and s.end is None:
                            s.end = e.t if e.t is not None else (t_now if t_now is not None else s.start)
                            break
        if events:
            self._update_banner()
            self._update_spans()

    def _update_banner(self) -> None:
        pr = self.alerts.priority()
        acked = pr != Priority.NONE and self.alerts.sounding(time.monotonic()) == Priority.NONE
        msg = self.alerts.message()
        left = self.alerts.audio_paused_left(time.monotonic())
        if left > 0 and pr != Priority.NONE:
            msg += f"  (audio paused {left:.0f} s)"
        self.banner.set_alarm(pr, msg, acknowledged=acked and left <= 0)

    def _update_spans(self) -> None:
        end = self._last_t or 0.0
        self.curve.set_spans([(s.start, s.end if s.end is not None else max(end, s.start), s.priority)
                              for s in self.spans])

    def ingest(self, p: Processed) -> None:
        """Record one processed frame and run the alert logic on it (also used by tests and scripts)."""
        r = p.result
        if (self._last_epoch is not None and p.epoch != self._last_epoch) or \
                (self._last_t is not None and r.timestamp < self._last_t):
            # After a seek the score history is not continuous: sustain/clear timers restart.
            self._apply_events(self.alerts.reset())
            if self.session:
                # frames.csv gets a new pass from here: say where it starts, so repeated frame
                # numbers can be told apart (csv_row is 1-based, the header not counted).
                self.session.event("playback_jump", from_frame=self._last_frame, to_frame=r.frame,
                                   csv_row=self.session.frames_written + 1)
        self._last_epoch = p.epoch
        self._last_t = r.timestamp
        self._last_frame = r.frame
        if self.session:
            self.session.write_frame(r)
        ev = self.alerts.frame_arrived(time.monotonic())
        ev += self.alerts.update(r.timestamp, r.pain_score, r.frame, r.reason)
        self._apply_events(ev)
        self.curve.add(r.frame, r.timestamp, r.pain_score, r.pspi)

    # ------------------------------------------------------------------------------------- tick
    def _tick(self) -> None:
        while True:
            try:
                n: PlayerNotice = self.player.notices.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                break
            if n.epoch >= self.player.source_epoch:  # not about a source closed meanwhile
                self._notice(n)
        newest: Processed | None = None
        while True:
            try:
                p = self.player.results.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                break
            if p.epoch < self.player.source_epoch:
                continue  # a late result of the previous source: not this session's
            self.ingest(p)
            newest = p
        now = time.monotonic()
        if newest is not None:
            self.show_processed(newest)
            self._display_latency.append((now - newest.captured_wall) * 1000)
            if self.on_frame is not None:
                self.on_frame(newest)
        self._apply_events(self.alerts.check_stall(now))
        st = getattr(self.player.source, "status", None)  # ReconnectingSource: say what it is doing
        if st is not None and getattr(st, "alarm", False) and st.message \
                and self.statusBar().currentMessage() != st.message:
            self.statusBar().showMessage(st.message, 3000)
        self._poll_explanation()
        self._poll_openface()
        self.sound.update(self.alerts.sounding(now), now)
        if self.alerts.priority() != Priority.NONE and int(now * 2) != int((now - 0.01) * 2):
            self._update_banner()  # keeps the audio-pause countdown current
        if now - self._last_curve > 0.1:
            self._last_curve = now
            self.curve.redraw()
            self._update_spans()
            self._update_status(now)
            protect_none()
            if self.session:
                self.session.flush()

    def _notice(self, n: PlayerNotice) -> None:
        if n.kind == "error":
            self._apply_events(self.alerts.source_failed(n.message))
            self.show_error(n.message)
            self._set_play_icon(False)
        elif n.kind == "ended":
            self._apply_events(self.alerts.watch_stall(False))
            self._set_play_icon(False)
            self.statusBar().showMessage(n.message, 5000)
            if self.session:
                incomplete = getattr(self.player.source, "incomplete", "")
                self.session.event("source_ended", source=self.source_desc,
                                   **({"incomplete": incomplete} if incomplete else {}))

    def show_processed(self, p: Processed) -> None:
        """Draw one processed frame (view, panels, slider)."""
        self.current = p
        r = p.result
        self.frames_shown += 1
        self._shown_walls.append(time.monotonic())
        self.view.set_frame(p.image, r)
        self.pain.set_result(r, choose_prompt=r.faces_seen > 1 and not self.player_has_target(),
                             scale=self.alerts.config.scale())
        self.au_panel.set_values(r.au)
        label = f"AU engine: {ENGINES.get(r.au_engine, r.au_engine)}"
        if r.au_missing:
            label += f" – no values: {r.au_missing}"
        else:
            label += self._engine_why
        if self.engine_label.text() != label:
            self.engine_label.setText(label)
        if not self.source_live and self.frame_count:
            if not self.slider.isSliderDown():
                self.slider.blockSignals(True)
                self.slider.setValue(r.frame)
                self.slider.blockSignals(False)
            self.pos_label.setText(f"frame {r.frame}/{self.frame_count}  {r.timestamp:.2f} s")
        else:
            self.pos_label.setText(f"frame {r.frame}  {r.timestamp:.1f} s")
        self._submit_explanation(p)
        if self._explain_worker is not None and self._explanation is not None:
            self._update_heat_label()

    def _update_status(self, now: float) -> None:
        walls = [w for w in self._shown_walls if now - w <= 2.0]
        fps = (len(walls) - 1) / (walls[-1] - walls[0]) if len(walls) > 2 and walls[-1] > walls[0] else 0.0
        lat = self.current.result.latency_ms if self.current else 0.0
        disp = sum(self._display_latency) / len(self._display_latency) if self._display_latency else 0.0
        self.stat_label.setText(f"{fps:5.1f} fps | processing {lat:5.1f} ms | capture→display {disp:5.0f} ms | "
                                f"dropped {self.player.dropped} | device {self.device}")

    # ------------------------------------------------------------------------------ explanation
    def _set_scorer_facts(self) -> None:
        sc = self.pipeline.scorer
        card = sc.card
        facts = [f"Output: {card.output_scale.split(';')[0]}", f"Built {card.created} by {card.built_by}"]
        self.pain.set_card(card.name, card.warning, "\n".join(facts))
        tip = (f"Trained on: {card.training_data}\nOutput: {card.output_scale}\nIntended use: {card.intended_use}"
               f"\nMetrics: {json.dumps(card.metrics, default=str)}")
        for w in (self.pain.facts, self.pain.model, self.pain.warning):
            w.setToolTip(tip)
        self.au_panel.set_core(sc.model.core_aus, [float(v) for v in sc.model.engagement])

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pain regressor model", "", "Model files (*.pt);;All files (*)")
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> bool:
        from ..core.scoring import PainScorer

        try:
            scorer = PainScorer(path, smoothing=self.pipeline.scorer.smoother.enabled)
        except AuepaError as e:
            self.show_error(str(e))
            return False
        if scorer.fallback_reason:
            self.show_error(scorer.fallback_reason)

        scorer.scale = self.alerts.config.scale()

        def swap(pipe) -> None:
            pipe.scorer = scorer

        self.player.call_in_worker(swap)
        self.pain.set_card(scorer.card.name, scorer.card.warning, "")
        QTimer.singleShot(200, self._set_scorer_facts)
        if self.session:
            self.session.event("model_loaded", model=scorer.name, path=str(scorer.path))
        return True

    def load_cnn_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CNN checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.load_cnn(path)

    def load_cnn(self, path: str) -> bool:
        """Load an end-to-end CNN checkpoint; Grad-CAM then runs in its own worker on the newest frame."""
        mod = explain_module()
        if mod is None:
            self.show_error("Grad-CAM is not available in this build (auepa_monitor.core.explain is missing)")
            return False
        try:
            explainer = mod.CnnExplainer(path, device=None)
        except AuepaError as e:
            self.show_error(str(e))
            return False
        if self._explain_worker is not None:
            self._explain_worker.close()
        if self._explainer is not None:
            self._explainer.close()
        if (os.cpu_count() or 1) <= 2:
            import torch

            # On 2 cores Grad-CAM takes one, so MediaPipe keeps the other and the video its pace.
            torch.set_num_threads(1)
        self._explainer = explainer
        self._explanation = None
        card = explainer.card
        self.engagement.set_model(card.name, card.warning, card.training_data, explainer.classes,
                                  f"Output: {card.output_scale}\nMetrics: {json.dumps(card.metrics, default=str)}")
        # The user asked for Grad-CAM: show its engagement (AU intensities stay one tab away).
        self.tabs.setCurrentWidget(self.engagement)
        self._explain_worker = LatestWorker(lambda item: explainer.explain(*item), name="auepa-gradcam")
        self._update_post_process()
        if self.session:
            self.session.event("cnn_loaded", path=str(path))
        self.statusBar().showMessage(f"CNN loaded: {Path(path).name} (Grad-CAM on)", 5000)
        return True

    def _submit_explanation(self, p: Processed) -> None:
        if not self.view.options.heatmap or p.result.face is None:
            if p.result.face is None:
                self.view.set_explanation(None, None)
            return
        if self._explain_worker is not None:
            self._explain_worker.submit((p.image, p.result.face, p.result.frame))
            self._cam_walls[p.result.frame] = p.captured_wall
            while len(self._cam_walls) > 300:
                self._cam_walls.pop(next(iter(self._cam_walls)))
            return
        # No CNN: each AU region shaded by its share of the regressor's current score; the weights
        # are computed in the processing thread (post_process), which owns the scorer's model.
        w = p.extra
        if isinstance(w, Exception):
            self.heat_label.setText(f"AU regressor weights unavailable: {w}")
            return
        if w is None:
            self.heat_label.setText("Heatmap: load a CNN checkpoint for Grad-CAM")
            return
        self.view.set_explanation(None, w)
        note = "" if any(v > 0 for v in w.values()) else " – none raise the score now"
        self.heat_label.setText(f"Heatmap: AU regressor weights (no CNN loaded){note}")

    def _update_post_process(self) -> None:
        """Regressor weights per frame in the processing thread while they are shown (no CNN, heatmap on)."""
        mod = explain_module()
        if self._explain_worker is None and self.view.options.heatmap and mod is not None \
                and hasattr(mod, "regressor_contributions"):
            fn = mod.regressor_contributions

            def weights(pipe, r: FrameResult):
                return fn(pipe.scorer, r.au, r.au_regions) if r.face is not None else None

            self.player.post_process = weights
        else:
            self.player.post_process = None

    def _poll_explanation(self) -> None:
        if self._explain_worker is None:
            return
        ex = self._explain_worker.take()
        if self._explain_worker.error:
            self.heat_label.setText(f"Grad-CAM failed: {self._explain_worker.error}")
        if ex is None:
            return
        self._explanation = ex
        self.explanations += 1
        self.view.set_explanation(heat_to_qimage(ex.heatmap), None)
        self.engagement.set_explanation(ex.frame_index, ex.predicted_class, [float(v) for v in ex.probs],
                                        ex.engagement, ex.session_engagement, ex.session_frames)
        self._update_heat_label()

    def _update_heat_label(self) -> None:
        ex = self._explanation
        if ex is None or self.current is None:
            return
        behind = max(0, self.current.result.frame - ex.frame_index)
        wall = self._cam_walls.get(ex.frame_index)
        age = f", {1000 * (time.monotonic() - wall):.0f} ms old" if wall is not None else ""
        # The CNN's class is a model output: its card's warning goes with it wherever it is shown.
        card = self._explainer.card if self._explainer is not None else None
        warn = card is not None and not card.trained_on_infant_pain
        cls = f"{ex.predicted_class}; not trained on infant pain" if warn else ex.predicted_class
        # Compute time in the tooltip: with the warning the line must still fit a 1024-pixel window.
        self.heat_label.setText(f"Grad-CAM ({cls}): {behind} frames behind{age}")
        self.heat_label.setToolTip(f"Grad-CAM of frame {ex.frame_index}, computed in {ex.ms:.0f} ms")

    # ------------------------------------------------------------------------------- screenshot
    def screenshot_dir(self) -> Path:
        if self.session is not None:
            return self.session.path / "screenshots"
        return self.sessions_root() / "screenshots"

    def save_screenshot(self, path: str | Path | None = None) -> tuple[Path, Path, Path] | None:
        """Save the video with overlays (frame size), the whole window, and a JSON sidecar.

        Returns (video PNG, window PNG, sidecar JSON), or None when no frame is shown yet.
        """
        if self.current is None:
            self.statusBar().showMessage("No frame to save yet", 3000)
            return None
        p = self.current
        r = p.result
        if path is None:
            stem = Path(self.source_desc).stem if not self.source_live else \
                re.sub(r"[^A-Za-z0-9._-]+", "_", mask_credentials(self.source_desc)).strip("_")
            path = self.screenshot_dir() / f"{stem}_f{r.frame:06d}_{time.strftime('%H%M%S')}.png"
        path = Path(path)
        try:
            private_dir(path.parent)  # 0700 when made here (screenshots show the infant's face)
        except OSError as e:
            self.show_error(f"cannot write {path}: {e}")
            return None
        heat = self.view._heat if self.view.options.heatmap else None
        weights = self.view._weights if self.view.options.heatmap else None
        img: QImage = render_annotated(p.image, r, self.view.options, heat=heat, region_weights=weights)
        win_path = path.with_name(path.stem + "_window.png")
        side = path.with_suffix(".json")
        try:  # encoded in memory, written owner-only (0600) whatever the umask
            write_private_bytes(path, _png_bytes(img))
            write_private_bytes(win_path, _png_bytes(self.grab().toImage()))
            write_private_text(side, json.dumps(self.sidecar(p, path, win_path), indent=2, default=str) + "\n")
        except (OSError, ValueError) as e:
            self.show_error(f"cannot write {path}: {e}")
            return None
        if self.session:
            self.session.event("screenshot", path=str(path), frame=r.frame)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return path, win_path, side

    def sidecar(self, p: Processed, png: Path, win_png: Path) -> dict[str, Any]:
        r = p.result
        sc = self.pipeline.scorer
        o = self.view.options
        ex = self._explanation
        return {
            "program": f"AuE-IPA Monitor {__version__}",
            "notice": NOT_A_MEDICAL_DEVICE,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "source": mask_credentials(self.source_desc),
            "live": self.source_live,
            "frame": r.frame,
            "timestamp_s": round(r.timestamp, 3),
            "image": png.name,
            "window_image": win_png.name,
            "size": list(r.size),
            "face": None if r.face is None else {"box": [round(v, 1) for v in r.face.box],
                                                  "quality": round(r.face.quality, 3)},
            "faces_seen": r.faces_seen,
            "scores": {"pain_score": r.pain_score, "pain_raw": r.pain_raw,
                       "pain_level": None if r.pain_score is None else self.alerts.config.scale().level(r.pain_score).label, "pspi": r.pspi,
                       "au": {f"AU{a}": round(v, 3) for a, v in r.au.items()}},
            "model": {"name": sc.name, "path": str(sc.path), "warning": sc.card.warning,
                      "trained_on_infant_pain": sc.card.trained_on_infant_pain, "au_engine": r.au_engine,
                      "au_engine_note": self.engine_note,
                      "cnn": None if ex is None else self._cnn_sidecar(ex)},
            "alarms": {"active": self.alerts.active_alarms(), "priority": self.alerts.priority().label},
            "settings": {"alerts": self.alerts.config.to_dict(),
                         "overlays": {"face_box": o.face_box, "landmarks": o.landmarks, "au_regions": o.au_regions,
                                      "heatmap": o.heatmap, "heat_opacity": o.heat_opacity},
                         "speed": self.player.speed, "smoothing": sc.smoother.enabled,
                         "device": self.device},
        }

    def _cnn_sidecar(self, ex: Any) -> dict[str, Any]:
        """The shown Grad-CAM explanation: its CNN's card facts, prediction and AU engagement (0-1)."""
        card = self._explainer.card if self._explainer is not None else None
        return {"predicted_class": ex.predicted_class, "frame_index": ex.frame_index,
                "name": None if card is None else card.name,
                "trained_on_infant_pain": None if card is None else card.trained_on_infant_pain,
                "warning": None if card is None else card.warning,
                "probs": {c: round(float(p), 4) for c, p in zip(self._explainer.classes if self._explainer else (),
                                                                ex.probs, strict=False)},
                "engagement": {f"AU{a}": round(v, 4) for a, v in ex.engagement.items()},
                "session_engagement": {f"AU{a}": round(v, 4) for a, v in ex.session_engagement.items()},
                "session_frames": ex.session_frames}

    def _session_info(self) -> dict[str, Any]:
        sc = self.pipeline.scorer
        return {"model": sc.name, "model_warning": sc.card.warning, "au_engine": self.engine_in_use,
                "alerts": self.alerts.config.to_dict(), "pain_scale": self.alerts.config.scale().to_dict(),
                "device": self.device}

    # ---------------------------------------------------------------------------------- closing
    def help_text(self) -> str:
        """The keys, the scales and what each alarm means (Help menu)."""
        scale = self.alerts.config.scale()
        return (
            "Keys\n"
            "  Space play/pause, Left/Right step one frame, [ / ] previous/next alert,\n"
            "  S screenshot, A acknowledge the alarm, P audio off for 2 minutes,\n"
            "  T target face automatic (a click on a face makes it the target).\n\n"
            "Scales\n"
            f"  AU intensity 0-5 (FACS), PSPI 0-16, pain score 0-10:\n  {scale.describe()}"
            f"{'' if scale == PAPER_SCALE else ' (the alarm settings; the paper: ' + PAPER_SCALE.describe() + ')'}.\n"
            "  Fit quality 0-1: below 0.5 the frame is tracked but not\n"
            "  scored (face turned, covered or unsure), and the panel says why.\n\n"
            "Alarms\n"
            f"  Red, flashing: strong pain sustained (score ≥ {scale.strong:g}). Yellow: mid pain sustained\n"
            f"  (score ≥ {scale.mid:g}).\n"
            "  Cyan: technical, the signal is lost (no face, face turned away or covered,\n"
            "  camera gone, file unreadable). Acknowledge silences the current alarm.\n\n"
            f"{NOT_A_MEDICAL_DEVICE}")

    def _help_text(self) -> None:
        QMessageBox.information(self, "Keys, scales and alarms", self.help_text())

    def _about(self) -> None:
        QMessageBox.about(self, "About AuE-IPA Monitor",
                          f"AuE-IPA Monitor {__version__}\n\n{NOT_A_MEDICAL_DEVICE}")

    def _end_session(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def shutdown(self) -> None:
        """Stop and join all threads and close the session (idempotent)."""
        self._timer.stop()
        self._drop_openface_job()
        for job in self._old_jobs:
            job.join()
        self._old_jobs.clear()
        self.player.close()
        if self._explain_worker is not None:
            self._explain_worker.close()
            self._explain_worker = None
        if self._explainer is not None:
            self._explainer.close()
            self._explainer = None
        self._end_session()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.shutdown()
        super().closeEvent(e)
