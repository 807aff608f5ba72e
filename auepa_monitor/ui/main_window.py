"""The monitor window: layout and wiring around a :class:`~auepa_monitor.core.monitor.MonitorSession`.

The session (Qt-free) owns the source, the player's threads, the pipeline, the alarms, the
recording, the alarm spans, the OpenFace run over a file and the screenshot facts; its pump
thread drains the player. What happens reaches the window through a
:class:`~.bridge.QtMonitorBridge`, as Qt signals received on the GUI thread; the window draws
and forwards the user's controls. A 10 ms timer only redraws (curve, status, sounds, banner
countdown) and takes Grad-CAM maps from their worker (:class:`~.explanation.Explanations`).

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
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
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
from ..core.alerts import AlertConfig, AlertEvent, AlertMonitor, Priority, Span
from ..core.errors import AuepaError
from ..core.monitor import ENGINES, MonitorSession, OpenFaceJob
from ..core.player import SPEEDS, Player, PlayerNotice, Processed
from ..core.private_files import mask_credentials
from ..core.session import Session
from ..core.sources import IMAGE_EXTS, VIDEO_EXTS, Source, list_cameras, open_source
from .alarm_form import AlarmForm, help_text
from .bridge import QtMonitorBridge
from .curve import PainCurve
from .explanation import Explanations, explain_module
from .overlay import render_annotated
from .panels import AlertBanner, AUPanel, EngagementPanel, PainPanel
from .pyside_fix import protect_none
from .screenshot import write_trio
from .settings_store import SettingsStore
from .sound import AlarmSound
from .theme import apply_dark
from .video_view import VideoView

__all__ = ["ENGINES", "MainWindow", "OpenFaceJob", "Span", "explain_module"]


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
        self.store = SettingsStore(settings)
        self.device = device
        self._sessions_root = Path(sessions_root) if sessions_root else None
        self.bridge = QtMonitorBridge(self)
        self.monitor = MonitorSession(pipeline, alert_config=self.store.alert_config(), lossless=lossless,
                                      sessions_root=self.sessions_root, device=device, listener=self.bridge)
        self.sound = AlarmSound(enabled=sound)
        self.current: Processed | None = None  # the frame shown
        self.frames_shown = 0
        self._shown_walls: deque[float] = deque(maxlen=120)
        self._display_latency: deque[float] = deque(maxlen=60)
        self._last_curve = 0.0
        self._shown_job: OpenFaceJob | None = None
        self._spans_shown: list[Span] = []
        self.on_frame: Callable[[Processed], None] | None = None  # hook for scripted runs
        # Command-line choices apply to this run; choices made in the window are remembered.
        self._engine_arg = au_engine
        self._bin_arg = str(openface_bin) if openface_bin else None
        self.setWindowTitle(f"AuE-IPA Monitor {__version__}")
        self.setAcceptDrops(True)
        self._build_ui()
        self.explain = Explanations(self.view, self.engagement, self.heat_label, self.player)
        b = self.bridge
        b.frameReady.connect(self._on_frame)
        b.alarmsChanged.connect(self._on_alarms)
        b.noticed.connect(self._on_notice)
        b.sourceStarted.connect(self._on_source_started)
        b.openfaceWaiting.connect(self._on_openface_waiting)
        b.openfaceDone.connect(self._on_openface_done)
        b.errorRaised.connect(self.show_error)
        self._restore()
        self._set_scorer_facts(pipeline.scorer)
        self.monitor.start_pump()
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # The session's state, as the window's (scripts and tests use these names).
    player: Player = property(lambda self: self.monitor.player)  # type: ignore[assignment]
    alerts: AlertMonitor = property(lambda self: self.monitor.alerts)  # type: ignore[assignment]
    #: The alarm spans as last shown (updated with the banner, so the two always agree).
    spans: list[Span] = property(lambda self: self._spans_shown)  # type: ignore[assignment]
    events: list[AlertEvent] = property(lambda self: self.monitor.events)  # type: ignore[assignment]
    _of_job = property(lambda self: self.monitor.of_job)
    engine_in_use: str = property(lambda self: self.monitor.engine_in_use)  # type: ignore[assignment]
    engine_note: str = property(lambda self: self.monitor.engine_note)  # type: ignore[assignment]
    frame_count: int = property(lambda self: self.monitor.source.frame_count)  # type: ignore[assignment]
    source_desc: str = property(lambda self: self.monitor.source.desc)  # type: ignore[assignment]
    source_live: bool = property(lambda self: self.monitor.source.live)  # type: ignore[assignment]
    explanations: int = property(lambda self: self.explain.count)  # type: ignore[assignment]
    _explanation = property(lambda self: self.explain.explanation)
    _explainer = property(lambda self: self.explain.explainer)

    @property
    def last_error(self) -> str:
        """The last one-line message shown to the user ('' since the current source started)."""
        return self.monitor.last_error

    @last_error.setter
    def last_error(self, message: str) -> None:
        self.monitor.last_error = message

    @property
    def session(self) -> Session | None:
        return self.monitor.session

    @session.setter
    def session(self, s: Session | None) -> None:
        self.monitor.session = s

    @property
    def initial_roi(self) -> tuple[float, float, float, float] | None:
        return self.monitor.initial_roi

    @initial_roi.setter
    def initial_roi(self, roi: tuple[float, float, float, float] | None) -> None:
        self.monitor.initial_roi = roi

    @property
    def openface_fallback(self) -> bool:
        """On an OpenFace failure play with the embedded engine (False: show the error, open nothing)."""
        return self.monitor.openface_fallback

    @openface_fallback.setter
    def openface_fallback(self, on: bool) -> None:
        self.monitor.openface_fallback = on

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
        rv.setContentsMargins(4, 0, 0, 0)
        rv.addWidget(self.banner)
        alarm_row = QHBoxLayout()  # filled with the alarm controls below
        alarm_row.setContentsMargins(0, 0, 0, 0)
        rv.addLayout(alarm_row)
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
        self.alarm_form = AlarmForm(self.monitor.alerts.config)
        self.alarm_form.changed.connect(self.set_alert_config)
        for name in ("enabled", "sp_high", "sp_mid", "sp_hyst", "sp_sustain", "sp_clear", "sp_noface"):
            setattr(self, "alert_enabled" if name == "enabled" else name, getattr(self.alarm_form, name))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.alarm_form)
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

        def act(text: str, slot, shortcut: str | QKeySequence | None = None, icon=None) -> QAction:
            a = QAction(text, self)
            if icon is not None:
                a.setIcon(st.standardIcon(icon))
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
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
        # An alarm's controls sit under the banner, never in a toolbar's overflow (1024x768 included).
        self.ack_button, self.audio_button = QToolButton(), QToolButton()
        for b, a in ((self.ack_button, self.act_ack), (self.audio_button, self.act_pause_audio)):
            b.setDefaultAction(a)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            alarm_row.addWidget(b)
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

    # --------------------------------------------------------------------------------- settings
    def set_alert_config(self, cfg: AlertConfig) -> None:
        """Apply and remember alert settings (their pain levels name scores everywhere)."""
        self.monitor.set_alert_config(cfg)
        self.alarm_form.set_base(cfg)
        self.store.set_alert_config(cfg)
        self.curve.set_thresholds(cfg.high_on, cfg.mid_on)

    def _restore(self) -> None:
        geo = self.settings.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        else:
            self.resize(1400, 900)
        # Read everything first: setting one widget saves all overlay settings.
        checks, opacity = self.store.overlays()
        for key, chk in zip(("box", "landmarks", "regions", "heatmap"),
                            (self.chk_box, self.chk_lm, self.chk_regions, self.chk_heat), strict=True):
            chk.blockSignals(True)
            chk.setChecked(checks[key])
            chk.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(opacity)
        self.opacity.blockSignals(False)
        sp = self.store.speed()
        if sp in SPEEDS:
            self.speed.setCurrentIndex(SPEEDS.index(sp))
        engine = self._engine_arg or self.store.engine()
        self.engine_box.setCurrentIndex(max(0, self.engine_box.findData(engine)))
        self.engine_box.currentIndexChanged.connect(lambda _i: self._engine_changed())
        self.curve.set_thresholds(self.alerts.config.high_on, self.alerts.config.mid_on)
        self._overlays_changed()

    def _overlays_changed(self) -> None:
        o = self.view.options
        o.face_box, o.landmarks = self.chk_box.isChecked(), self.chk_lm.isChecked()
        o.au_regions, o.heatmap = self.chk_regions.isChecked(), self.chk_heat.isChecked()
        o.heat_opacity = self.opacity.value() / 100.0
        self.store.set_overlays({"box": o.face_box, "landmarks": o.landmarks, "regions": o.au_regions,
                                 "heatmap": o.heatmap}, self.opacity.value())
        if hasattr(self, "explain"):
            self.explain.update_post_process()
        if not o.heatmap:
            self.heat_label.setText("")
        self.view.update()

    def sessions_root(self) -> Path:
        return self._sessions_root if self._sessions_root is not None else self.store.sessions_dir()

    def choose_session_dir(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder for session recordings", str(self.sessions_root()))
        if d:
            self._sessions_root = None
            self.store.set_sessions_dir(d)
            self.statusBar().showMessage(f"New sessions go to {d}", 5000)

    def keep_days(self) -> int:
        return self.store.keep_days()

    def choose_keep_days(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        n, ok = QInputDialog.getInt(self, "Keep sessions for", "Days closed sessions are kept (0: keep all); "
                                    "applied when the program starts:", self.keep_days(), 0, 36500)
        if ok:
            self.store.set_keep_days(n)
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
        self.store.set_engine(self.au_engine_choice)
        job = self.monitor.of_job
        path = job.desc if job is not None else (self.source_desc if self.player.source is not None
                                                  and not self.source_live else "")
        if path:
            self.open_source(path, play=job.play if job is not None else self.player.playing)
        else:
            self.statusBar().showMessage(f"AU engine for the next source: {ENGINES[self.au_engine_choice]}", 5000)

    @property
    def openface_bin(self) -> str | None:
        """FeatureExtraction from --openface-bin, else the setting, else None (the engine's own lookup)."""
        return self._bin_arg or self.store.openface_bin()

    def choose_openface_bin(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "OpenFace's FeatureExtraction", self.openface_bin or "",
                                              "FeatureExtraction (FeatureExtraction*);;All files (*)")
        if path:
            self._bin_arg = None
            self.store.set_openface_bin(path)
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
            else:  # a stream URL (IP camera) reconnects by itself too
                from ..core.streams import is_live_spec, open_live

                src = open_live(spec) if is_live_spec(spec) else open_source(spec)
        except AuepaError as e:
            self.show_error(str(e))
            return False
        self.begin_source(src, src.name if src.live else str(spec), play)
        if not src.live:
            self.store.add_recent(str(Path(str(spec)).resolve()))
            self._update_recent_menu()
        return True

    def begin_source(self, src: Source, desc: str, play: bool = True) -> None:
        """Play an opened source with the chosen AU engine (OpenFace first runs over a recorded file)."""
        self.monitor.begin_source(src, desc, play, engine=self.au_engine_choice, openface_bin=self.openface_bin)

    def start_source(self, src: Source, desc: str, play: bool = True, engine: Any = None, note: str = "",
                     why: str = "") -> None:
        """Play an opened source now with ``engine`` (None: the embedded one): see MonitorSession."""
        self.monitor.start_source(src, desc, play, engine=engine, note=note, why=why)

    def _on_source_started(self, src: Source, desc: str, play: bool, note: str) -> None:
        self._shown_job = None
        self._spans_shown = []
        self.cancel_button.setVisible(False)
        self.current = None
        self.view.clear()
        self.explain.new_source()
        self._show_engine(self.monitor.engine_in_use)
        self.engine_label.setToolTip(note or "The engine that produced the AU values shown (also in the session CSV)")
        s = self.monitor.session
        self.session_label.setText("" if s is None else self.fontMetrics().elidedText(
            f"● REC {s.path.name}", Qt.TextElideMode.ElideMiddle, 230))
        self.session_label.setToolTip("" if s is None else f"Recording to {s.path}")
        if src.live:
            self.curve.start_live()
            self.slider.setEnabled(False)
        else:
            self.curve.start_file(src.frame_count, src.fps)
            self.slider.setEnabled(src.frame_count > 1)
            self.slider.setMaximum(max(1, src.frame_count))
        self.view.target_roi = self.monitor.target
        self._set_play_icon(play)
        self.setWindowTitle(f"AuE-IPA Monitor – {Path(desc).name if not src.live else mask_credentials(desc)}")
        self.statusBar().showMessage(note or f"Opened {mask_credentials(desc)}", 15000 if note else 4000)
        self.sourceOpened.emit(desc)

    def _show_engine(self, name: str, missing: str = "") -> None:
        m = self.monitor
        why = f" (OpenFace not used: {m.engine_why or 'see the tooltip'})" if m.engine_note else ""
        label = f"AU engine: {ENGINES.get(name, name)}" + (f" – no values: {missing}" if missing else why)
        if self.engine_label.text() != label:
            self.engine_label.setText(label)

    def _on_openface_waiting(self, job: OpenFaceJob) -> None:
        if job is not self.monitor.of_job:
            return  # dropped meanwhile
        if job is not self._shown_job:  # the file waits: nothing of the previous source stays shown
            self._shown_job = job
            self._set_play_icon(False)
            self.slider.setEnabled(False)
            self.curve.start_file(job.src.frame_count, job.src.fps)
            self.pain.set_result(None)
            self.au_panel.set_values({})
            self.pos_label.setText("")
            self.current = None
            self.session_label.setText("")
            self.cancel_button.setVisible(True)
            self.engine_label.setText(f"AU engine: {ENGINES['openface']} (running…)")
            self.setWindowTitle(f"AuE-IPA Monitor – {Path(job.desc).name} (OpenFace running)")
        done, total = job.progress
        pct = f"{100 * done / total:.0f}% ({done}/{total} frames)" if total else f"{done} frames"
        msg = (f"Running OpenFace on {Path(job.desc).name}: {pct}, {time.monotonic() - job.started:.0f} s. "
               "The file plays when its AU values are ready.")
        self.view.clear(msg)
        if self.statusBar().currentMessage() != msg:
            self.statusBar().showMessage(msg)

    def _on_openface_done(self, job: OpenFaceJob) -> None:
        self.cancel_button.setVisible(False)
        if job.engine is not None:
            info = job.engine.info
            how = "from the cache" if info.from_cache else f"in {info.seconds:.1f} s"
            notes = list(info.notes)
            self.statusBar().showMessage(f"OpenFace values for {Path(job.desc).name} ready ({how})"
                                         + (f"; {notes[0]}" if notes else ""), 8000)
        else:  # with the fallback the file now plays with the embedded engine, and says so
            self.show_error(job.error if not self.openface_fallback else self.monitor.engine_note)

    def cancel_openface(self) -> None:
        """Stop a running OpenFace job; its file is not opened (choose the embedded engine to view it)."""
        job = self.monitor.drop_openface_job()
        self.cancel_button.setVisible(False)
        if job is None:
            return
        msg = f"OpenFace cancelled: {Path(job.desc).name} not opened (choose the embedded engine to play it)"
        self.view.clear(msg)
        self.statusBar().showMessage(msg, 10000)
        self.engine_label.setText(f"AU engine: {ENGINES[self.au_engine_choice]}")
        self.setWindowTitle(f"AuE-IPA Monitor {__version__}")

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
        path, _ = QFileDialog.getOpenFileName(self, "Open video or image", self.store.last_dir(),
                                              f"Videos and images ({exts});;All files (*)")
        if path:
            self.store.set_last_dir(str(Path(path).parent))
            self.open_source(path)

    def _fill_camera_menu(self) -> None:
        self.m_camera.clear()
        cams = list_cameras()
        if not cams:
            self.m_camera.addAction("No camera found").setEnabled(False)
        for i in cams:
            self.m_camera.addAction(f"Camera {i}", lambda i=i: self.open_source(i))

    def recent_files(self) -> list[str]:
        return self.store.recent_files()

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
        if self.player.source is not None:
            self.pause() if self.player.playing else self.play()

    def play(self) -> None:
        self.monitor.play()
        self._set_play_icon(True)

    def pause(self) -> None:
        self.monitor.pause()
        self._set_play_icon(False)

    def _set_play_icon(self, playing: bool) -> None:
        P = QStyle.StandardPixmap
        self.act_play.setIcon(self.style().standardIcon(P.SP_MediaPause if playing else P.SP_MediaPlay))
        self.act_play.setText("Pause" if playing else "Play")

    def seek(self, frame: int) -> None:
        """Show 1-based ``frame`` of a file (temporal state restarts there)."""
        self.monitor.seek(frame)

    def step(self, delta: int) -> None:
        if self.player.source is not None and not self.source_live:
            self.monitor.step(delta)
            self._set_play_icon(False)

    def _speed_changed(self) -> None:
        sp = float(self.speed.currentData())
        self.player.set_speed(sp)
        self.store.set_speed(sp)

    def prev_alert(self) -> None:
        self._jump_alert(-1)

    def next_alert(self) -> None:
        self._jump_alert(1)

    def _jump_alert(self, direction: int) -> None:
        if self.source_live or self.current is None:
            return
        t = self.current.result.timestamp
        starts = self.monitor.alert_starts()
        cand = [s for s in starts if s > t + 1e-3] if direction > 0 else [s for s in starts if s < t - 1e-3]
        if cand:
            self.seek(self.curve.frame_at(cand[0] if direction > 0 else cand[-1]))

    def _view_clicked(self, x: float, y: float) -> None:
        """A click on a face makes it the target (a box around the click, sized like the current face)."""
        if self.current is None:
            return
        r = self.current.result
        side = max(r.face.box[2], r.face.box[3]) if r.face is not None else 0.25 * r.size[1]
        self.set_target((x - side / 2, y - side / 2, side, side))

    def player_has_target(self) -> bool:
        """True when the user chose the target face (click or --roi) for the current source."""
        return self.monitor.target is not None

    def set_target(self, roi: tuple[float, float, float, float] | None) -> None:
        self.monitor.set_target(roi)
        self.view.target_roi = roi
        self.view.update()
        if roi is not None:
            self.statusBar().showMessage(f"Target face set at ({roi[0] + roi[2] / 2:.0f}, "
                                         f"{roi[1] + roi[3] / 2:.0f})", 4000)
        if not self.source_live and not self.player.playing and self.player.last_index:
            self.seek(self.player.last_index)  # paused: show the new target on this frame now

    # ----------------------------------------------------------------------------------- alarms
    def acknowledge(self) -> None:
        self.monitor.acknowledge()

    def pause_audio(self) -> None:
        self.monitor.pause_audio()

    def _on_alarms(self, _events: list[AlertEvent]) -> None:
        with self.monitor.lock:
            self._spans_shown = list(self.monitor.spans.spans)
        self._update_banner()
        self.curve.set_spans(self.monitor.span_ranges())

    def _update_banner(self) -> None:
        pr, msg, sounding, left = self.monitor.alarm_state()
        acked = pr != Priority.NONE and sounding == Priority.NONE
        if left > 0 and pr != Priority.NONE:
            msg += f"  (audio paused {left:.0f} s)"
        self.banner.set_alarm(pr, msg, acknowledged=acked and left <= 0)

    def ingest(self, p: Processed) -> None:
        """Record one processed frame and run the alert logic on it (tests and scripts)."""
        self.monitor.ingest(p)

    def _on_frame(self, p: Processed) -> None:
        """A frame was ingested: on the curve; drawn when it is the newest (older ones are skipped)."""
        if p.epoch < self.player.source_epoch:
            return  # queued before its source was replaced
        r = p.result
        self.curve.add(r.frame, r.timestamp, r.pain_score, r.pspi)
        if p is not self.monitor.latest and self.monitor.latest is not None:
            return
        self.show_processed(p)
        self._display_latency.append((time.monotonic() - p.captured_wall) * 1000)
        if self.on_frame is not None:
            self.on_frame(p)

    def _on_notice(self, n: PlayerNotice) -> None:
        if n.kind == "error":
            self.show_error(n.message)
            self._set_play_icon(False)
        elif n.kind == "ended":
            self._set_play_icon(False)
            self.statusBar().showMessage(n.message, 5000)

    # ------------------------------------------------------------------------------------- tick
    def _tick(self) -> None:
        now = time.monotonic()
        st = getattr(self.player.source, "status", None)  # ReconnectingSource: say what it is doing
        if st is not None and getattr(st, "alarm", False) and st.message \
                and self.statusBar().currentMessage() != st.message:
            self.statusBar().showMessage(st.message, 3000)
        self.explain.poll(self.current)
        pr, _msg, sounding, _left = self.monitor.alarm_state(now)
        self.sound.update(sounding, now)
        if pr != Priority.NONE and int(now * 2) != int((now - 0.01) * 2):
            self._update_banner()  # keeps the audio-pause countdown current
        if now - self._last_curve > 0.1:
            self._last_curve = now
            self.curve.redraw()
            self.curve.set_spans(self.monitor.span_ranges())
            self._update_status(now)
            protect_none()

    def show_processed(self, p: Processed) -> None:
        """Draw one processed frame (view, panels, slider)."""
        self.current = p
        r = p.result
        self.frames_shown += 1
        self._shown_walls.append(time.monotonic())
        self.view.set_frame(p.image, r)
        self.pain.set_result(r, choose_prompt=r.faces_seen > 1 and not self.player_has_target(),
                             scale=self.monitor.scale)
        self.au_panel.set_values(r.au)
        self._show_engine(r.au_engine, r.au_missing)
        if not self.source_live and self.frame_count:
            if not self.slider.isSliderDown():
                self.slider.blockSignals(True)
                self.slider.setValue(r.frame)
                self.slider.blockSignals(False)
            self.pos_label.setText(f"frame {r.frame}/{self.frame_count}  {r.timestamp:.2f} s")
        else:
            self.pos_label.setText(f"frame {r.frame}  {r.timestamp:.1f} s")
        self.explain.submit(p)
        self.explain.update_label(p)

    def _update_status(self, now: float) -> None:
        walls = [w for w in self._shown_walls if now - w <= 2.0]
        fps = (len(walls) - 1) / (walls[-1] - walls[0]) if len(walls) > 2 and walls[-1] > walls[0] else 0.0
        lat = self.current.result.latency_ms if self.current else 0.0
        disp = sum(self._display_latency) / len(self._display_latency) if self._display_latency else 0.0
        self.stat_label.setText(f"{fps:5.1f} fps | processing {lat:5.1f} ms | capture→display {disp:5.0f} ms | "
                                f"dropped {self.player.dropped} | device {self.device}")

    # ------------------------------------------------------------------------------ models
    def _set_scorer_facts(self, sc: Any) -> None:
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
        self.monitor.set_scorer(scorer)
        self._set_scorer_facts(scorer)
        return True

    def load_cnn_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CNN checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")
        if path:
            self.load_cnn(path)

    def load_cnn(self, path: str) -> bool:
        """Load an end-to-end CNN checkpoint; Grad-CAM then runs in its own worker on the newest frame."""
        err = self.explain.load_cnn(path)
        if err:
            self.show_error(err)
            return False
        # The user asked for Grad-CAM: show its engagement (AU intensities stay one tab away).
        self.tabs.setCurrentWidget(self.engagement)
        self.monitor.event("cnn_loaded", path=str(path))
        self.statusBar().showMessage(f"CNN loaded: {Path(path).name} (Grad-CAM on)", 5000)
        return True

    # ------------------------------------------------------------------------------- screenshot
    def screenshot_dir(self) -> Path:
        return self.monitor.screenshot_dir()

    def save_screenshot(self, path: str | Path | None = None) -> tuple[Path, Path, Path] | None:
        """Save the video with overlays (frame size), the whole window, and a JSON sidecar.

        Returns (video PNG, window PNG, sidecar JSON), or None when no frame is shown yet.
        """
        if self.current is None:
            self.statusBar().showMessage("No frame to save yet", 3000)
            return None
        p = self.current
        path = Path(path) if path is not None else self.screenshot_dir() / self.monitor.screenshot_name(p)
        o = self.view.options
        img: QImage = render_annotated(p.image, p.result, o, heat=self.view._heat if o.heatmap else None,
                                       region_weights=self.view._weights if o.heatmap else None)
        view = {"overlays": {"face_box": o.face_box, "landmarks": o.landmarks, "au_regions": o.au_regions,
                             "heatmap": o.heatmap, "heat_opacity": o.heat_opacity}}
        win_png = path.with_name(path.stem + "_window.png")
        try:  # encoded in memory, written owner-only (0600) whatever the umask
            paths = write_trio(path, img, self.grab().toImage(),
                               self.monitor.sidecar(p, path, win_png, view=view, cnn=self.explain.sidecar()))
        except (OSError, ValueError) as e:
            self.show_error(f"cannot write {path}: {e}")
            return None
        self.monitor.event("screenshot", path=str(path), frame=p.result.frame)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return paths

    # ---------------------------------------------------------------------------------- closing
    def help_text(self) -> str:
        """The keys, the scales and what each alarm means (Help menu)."""
        return help_text(self.monitor.scale)

    def _help_text(self) -> None:
        QMessageBox.information(self, "Keys, scales and alarms", self.help_text())

    def _about(self) -> None:
        QMessageBox.about(self, "About AuE-IPA Monitor", f"AuE-IPA Monitor {__version__}\n\n{NOT_A_MEDICAL_DEVICE}")

    def shutdown(self) -> None:
        """Stop and join all threads and close the session (idempotent)."""
        self._timer.stop()
        self.monitor.close()
        self.explain.close()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.shutdown()
        super().closeEvent(e)
