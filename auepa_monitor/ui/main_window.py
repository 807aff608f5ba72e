"""The monitor window: layout and wiring around a :class:`~auepa_monitor.core.monitor.MonitorSession`.

The session (Qt-free) owns the source, the player's threads, the pipeline, the alarms, the
recording, the alarm spans, the OpenFace run over a file and the screenshot facts; its pump
thread drains the player. What happens reaches the window through a
:class:`~.bridge.QtMonitorBridge`, as Qt signals received on the GUI thread; the window draws
and forwards the user's controls. A 10 ms timer only redraws (curve, status, sounds, banner
countdown) and takes Grad-CAM maps from their worker (:class:`~.explanation.Explanations`).
Beside it: the actions, toolbars and menus (:mod:`.menus`), the overlay bar, the status bar,
the AU engine's box and label (:mod:`.engine_display`) and the dialogs.

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

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSlider,
    QSplitter,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..core.alerts import AlertConfig, AlertEvent, Priority, Span
from ..core.errors import AuepaError
from ..core.monitor import ENGINES, MonitorSession, OpenFaceJob, SeveralFaces, open_spec, target_around
from ..core.player import SPEEDS, PlayerNotice, Processed
from ..core.private_files import mask_credentials
from ..core.sources import Source
from . import dialogs, menus
from .alarm_form import AlarmForm, help_text
from .bridge import QtMonitorBridge
from .curve import PainCurve
from .engine_display import EngineDisplay
from .explanation import Explanations, explain_module
from .model_facts import show_scorer
from .overlay import render_annotated
from .overlay_bar import OverlayBar
from .panels import AlertBanner, AUPanel, EngagementPanel, PainPanel
from .pyside_fix import protect_none
from .screenshot import write_trio
from .settings_store import SettingsStore
from .sound import AlarmSound
from .status_bar import DisplayRate, MonitorStatusBar
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
        self._other_person = False  # a person_changed row was shown since the last choice of target
        self._several = SeveralFaces()  # several faces in view lately: ask for a click on the infant
        self.frames_shown = 0
        self.rate = DisplayRate()
        self._last_curve = 0.0
        self._shown_job: OpenFaceJob | None = None
        #: The alarm spans as last shown (updated with the banner, so the two always agree).
        self.spans: list[Span] = []
        self.on_frame: Callable[[Processed], None] | None = None  # hook for scripted runs
        # Command-line choices apply to this run; choices made in the window are remembered.
        self.engines = EngineDisplay(self.store, au_engine, str(openface_bin) if openface_bin else None)
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
        self.engines.changed.connect(self._engine_changed)
        self._restore()
        show_scorer(self.pain, self.au_panel, pipeline.scorer)
        self.monitor.start_pump()
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    # The session's, for the command-line front end (ui/app.py) and scripts that set them on the window.
    player = property(lambda self: self.monitor.player)
    last_error = property(lambda self: self.monitor.last_error, lambda self, m: setattr(self.monitor, "last_error", m))
    initial_roi = property(lambda self: self.monitor.initial_roi,
                           lambda self, roi: setattr(self.monitor, "initial_roi", roi))
    openface_fallback = property(lambda self: self.monitor.openface_fallback,
                                 lambda self, on: setattr(self.monitor, "openface_fallback", on))

    # ----------------------------------------------------------------------------------- layout
    def _build_ui(self) -> None:
        self.view = VideoView()
        self.view.clicked.connect(self._view_clicked)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setMinimum(1)
        self.slider.sliderMoved.connect(self.seek)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows step frames, not the slider
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
        menus.build_actions(self)
        # An alarm's controls sit under the banner, never in a toolbar's overflow (1024x768 included).
        self.ack_button, self.audio_button = menus.alarm_buttons((self.act_ack, self.act_pause_audio))
        alarm_row = QHBoxLayout()
        alarm_row.setContentsMargins(0, 0, 0, 0)
        alarm_row.addWidget(self.ack_button)
        alarm_row.addWidget(self.audio_button)
        rv.addLayout(alarm_row)
        rv.addWidget(self.pain)
        self.engine_label = self.engines.label
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
        self.speed = menus.speed_box()
        self.speed.currentIndexChanged.connect(lambda _i: self._speed_changed())
        self.overlays = OverlayBar(self.store)
        self.overlays.changed.connect(self._overlays_changed)
        self.opacity, self.heat_label = self.overlays.opacity, self.overlays.heat_label
        self.chk_box, self.chk_lm = self.overlays.chk_box, self.overlays.chk_lm
        self.chk_regions, self.chk_heat = self.overlays.chk_regions, self.overlays.chk_heat
        menus.build_toolbars(self)
        self.view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view.setFocus()
        menus.build_menus(self)
        self.status = MonitorStatusBar(self.statusBar(), self.cancel_openface)
        self.stat_label, self.session_label, self.cancel_button = \
            self.status.figures, self.status.session, self.status.cancel
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
        self.overlays.restore()
        sp = self.store.speed()
        if sp in SPEEDS:
            self.speed.setCurrentIndex(SPEEDS.index(sp))
        cfg = self.monitor.alerts.config
        self.curve.set_thresholds(cfg.high_on, cfg.mid_on)
        self._overlays_changed()

    def _overlays_changed(self) -> None:
        self.overlays.apply(self.view.options)
        if hasattr(self, "explain"):  # not while the window is being built
            self.explain.update_post_process()
        self.view.update()

    def sessions_root(self) -> Path:
        return self._sessions_root if self._sessions_root is not None else self.store.sessions_dir()

    def choose_session_dir(self) -> None:
        d = dialogs.ask_sessions_dir(self, self.sessions_root())
        if d:
            self._sessions_root = None
            self.store.set_sessions_dir(d)
            self.statusBar().showMessage(f"New sessions go to {d}", 5000)

    def choose_keep_days(self) -> None:
        n = dialogs.ask_keep_days(self, self.store.keep_days())
        if n is not None:
            self.store.set_keep_days(n)
            self.statusBar().showMessage(f"Sessions kept {n} days (from the next start)" if n else
                                         "All sessions kept", 5000)

    def apply_retention(self, keep_days: int | None = None) -> list[Path]:
        """Remove closed sessions older than ``keep_days`` (default: the setting) from the sessions folder."""
        from ..core.retention import apply_retention

        days = self.store.keep_days() if keep_days is None else keep_days
        removed = apply_retention(self.sessions_root(), days)
        if removed:
            self.statusBar().showMessage(f"Removed {len(removed)} session(s) older than {days} days", 10000)
        return removed

    def set_au_engine(self, name: str) -> None:
        """Choose the engine (remembered); a recorded file that is open is reopened with it."""
        self.engines.select(name)

    def _engine_changed(self) -> None:
        again = self.monitor.reopen_spec()
        if again is not None:
            self.open_source(again[0], play=again[1])
        else:
            self.statusBar().showMessage(f"AU engine for the next source: {ENGINES[self.engines.choice]}", 5000)

    def choose_openface_bin(self) -> None:
        path = self.engines.choose_openface_bin(self)
        if path:
            self.statusBar().showMessage(f"OpenFace: using {path}", 5000)

    # ---------------------------------------------------------------------------------- sources
    def open_source(self, spec: str | int, play: bool = True) -> bool:
        """Open a file path, camera index or stream URL. A bad source gives a clear message, never a crash."""
        try:
            src = open_spec(spec)
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
        self.monitor.begin_source(src, desc, play, engine=self.engines.choice, openface_bin=self.engines.openface_bin)

    def start_source(self, src: Source, desc: str, play: bool = True, engine: Any = None, note: str = "",
                     why: str = "") -> None:
        """Play an opened source now with ``engine`` (None: the embedded one): see MonitorSession."""
        self.monitor.start_source(src, desc, play, engine=engine, note=note, why=why)

    def _on_source_started(self, src: Source, desc: str, play: bool, note: str) -> None:
        self._shown_job = None
        self._other_person = False
        self.spans = []
        self.status.cancel.setVisible(False)
        self.current = None
        self.view.clear()
        self.explain.new_source()
        self.engines.show_started(self.monitor, note)
        self.status.show_session(self.monitor.session)
        if src.live:
            self.curve.start_live()
            self.slider.setEnabled(False)
        else:
            self.curve.start_file(src.frame_count, src.fps)
            self.slider.setEnabled(src.frame_count > 1)
            self.slider.setMaximum(max(1, src.frame_count))
        self.view.target_roi = self.monitor.target
        self._set_play_icon(play)
        self.setWindowTitle(f"AuE-IPA Monitor – {self.monitor.source.title}")
        self.statusBar().showMessage(note or f"Opened {mask_credentials(desc)}", 15000 if note else 4000)
        self.sourceOpened.emit(desc)

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
            self.status.show_session(None)
            self.status.cancel.setVisible(True)
            self.engines.show_running()
            self.setWindowTitle(f"AuE-IPA Monitor – {Path(job.desc).name} (OpenFace running)")
        msg = job.progress_text()
        self.view.clear(msg)
        self.status.say(msg)

    def _on_openface_done(self, job: OpenFaceJob) -> None:
        self.status.cancel.setVisible(False)
        if job.engine is not None:
            self.statusBar().showMessage(job.ready_text(), 8000)
        else:  # with the fallback the file now plays with the embedded engine, and says so
            self.show_error(job.error if not self.monitor.openface_fallback else self.monitor.engine_note)

    def cancel_openface(self) -> None:
        """Stop a running OpenFace job; its file is not opened (choose the embedded engine to view it)."""
        job = self.monitor.drop_openface_job()
        self.status.cancel.setVisible(False)
        if job is None:
            return
        msg = f"OpenFace cancelled: {Path(job.desc).name} not opened (choose the embedded engine to play it)"
        self.view.clear(msg)
        self.statusBar().showMessage(msg, 10000)
        self.engines.show_choice()
        self.setWindowTitle(f"AuE-IPA Monitor {__version__}")

    def show_error(self, message: str) -> None:
        """A one-line message in the view, the status bar and a non-blocking dialog."""
        message = mask_credentials(message)
        self.monitor.last_error = message
        self.statusBar().showMessage(message, 15000)
        if self.current is None:
            self.view.clear(message)
        self._error_box = dialogs.error_box(self, message)

    def open_dialog(self) -> None:
        path = dialogs.ask_media(self, self.store)
        if path:
            self.open_source(path)

    def recent_files(self) -> list[str]:
        return self.store.recent_files()

    def _update_recent_menu(self) -> None:
        menus.fill_recent_menu(self.m_recent, self.recent_files(), self.open_source)

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
        self._other_person = False

    def step(self, delta: int) -> None:
        if self.player.source is not None and not self.monitor.source.live:
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
        if self.monitor.source.live or self.current is None:
            return
        t = self.monitor.alert_start_from(self.current.result.timestamp, direction)
        if t is not None:
            self.seek(self.curve.frame_at(t))

    def _view_clicked(self, x: float, y: float) -> None:
        """A click on a face makes it the target (a box around the click, sized like the current face)."""
        if self.current is not None:
            self.set_target(target_around(self.current.result, x, y))

    def set_target(self, roi: tuple[float, float, float, float] | None) -> None:
        self.monitor.set_target(roi)
        self._other_person = False  # the user chose again
        self.view.target_roi = roi
        self.view.update()
        if roi is not None:
            self.statusBar().showMessage(f"Target face set at ({roi[0] + roi[2] / 2:.0f}, "
                                         f"{roi[1] + roi[3] / 2:.0f})", 4000)
        if not self.monitor.source.live and not self.player.playing and self.player.last_index:
            self.seek(self.player.last_index)  # paused: show the new target on this frame now

    # ----------------------------------------------------------------------------------- alarms
    def _on_alarms(self, _events: list[AlertEvent]) -> None:
        with self.monitor.lock:
            self.spans = list(self.monitor.spans.spans)
        self._update_banner()
        self.curve.set_spans(self.monitor.span_ranges())

    def _update_banner(self) -> None:
        pr, msg, sounding, left = self.monitor.alarm_state()
        acked = pr != Priority.NONE and sounding == Priority.NONE
        if left > 0 and pr != Priority.NONE:
            msg += f"  (audio paused {left:.0f} s)"
        self.banner.set_alarm(pr, msg, acknowledged=acked and left <= 0)

    def _on_frame(self, p: Processed) -> None:
        """A frame was ingested: on the curve; drawn when it is the newest (older ones are skipped)."""
        if p.epoch < self.player.source_epoch:
            return  # queued before its source was replaced
        r = p.result
        self.curve.add(r.frame, r.timestamp, r.pain_score, r.pspi)
        if p is not self.monitor.latest and self.monitor.latest is not None:
            return
        self.show_processed(p)
        self.rate.latency_ms.append((time.monotonic() - p.captured_wall) * 1000)
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
        if st is not None and getattr(st, "alarm", False) and st.message:
            self.status.say(st.message, 3000)
        self.explain.poll(self.current)
        pr, _msg, sounding, _left = self.monitor.alarm_state(now)
        self.sound.update(sounding, now)
        if pr != Priority.NONE and int(now * 2) != int((now - 0.01) * 2):
            self._update_banner()  # keeps the audio-pause countdown current
        if now - self._last_curve > 0.1:
            self._last_curve = now
            self.curve.redraw()
            self.curve.set_spans(self.monitor.span_ranges())
            lat = self.current.result.latency_ms if self.current else 0.0
            self.status.show_figures(self.rate, now, lat, self.player.dropped, self.device)
            protect_none()

    def show_processed(self, p: Processed) -> None:
        """Draw one processed frame (view, panels, slider)."""
        self.current = p
        r = p.result
        self.frames_shown += 1
        self.rate.shown.append(time.monotonic())
        self.view.set_frame(p.image, r)
        # Said once in the row, kept on screen: the face followed became someone else.
        self._other_person = self._other_person or r.reason == "person_changed"
        self.pain.set_result(r, choose_prompt=self._several.update(r) and self.monitor.target is None,
                             scale=self.monitor.scale, other_person=self._other_person)
        self.au_panel.set_values(r.au)
        self.engines.show_values(self.monitor, r.au_engine, r.au_missing)
        count = self.monitor.source.frame_count
        if not self.monitor.source.live and count:
            if not self.slider.isSliderDown():
                self.slider.blockSignals(True)
                self.slider.setValue(r.frame)
                self.slider.blockSignals(False)
            self.pos_label.setText(f"frame {r.frame}/{count}  {r.timestamp:.2f} s")
        else:
            self.pos_label.setText(f"frame {r.frame}  {r.timestamp:.1f} s")
        self.explain.submit(p)
        self.explain.update_label(p)

    # ------------------------------------------------------------------------------ models
    def load_model_dialog(self) -> None:
        path = dialogs.ask_model(self)
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> bool:
        try:
            scorer = self.monitor.load_scorer(path)
        except AuepaError as e:
            self.show_error(str(e))
            return False
        show_scorer(self.pain, self.au_panel, scorer)
        return True

    def load_cnn_dialog(self) -> None:
        path = dialogs.ask_cnn(self)
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
    def save_screenshot(self, path: str | Path | None = None) -> tuple[Path, Path, Path] | None:
        """Save the video with overlays (frame size), the whole window, and a JSON sidecar.

        Returns (video PNG, window PNG, sidecar JSON), or None when no frame is shown yet.
        """
        if self.current is None:
            self.statusBar().showMessage("No frame to save yet", 3000)
            return None
        p = self.current
        path = Path(path) if path is not None else self.monitor.screenshot_dir() / self.monitor.screenshot_name(p)
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

    def shutdown(self) -> None:
        """Stop and join all threads and close the session (idempotent)."""
        self._timer.stop()
        self.monitor.close()
        self.explain.close()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.shutdown()
        super().closeEvent(e)
