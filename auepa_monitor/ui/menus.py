"""The monitor window's actions (with their keys), its two toolbars and its menus.

Built here and connected to the window's slots; the alarm controls also sit under the banner
(:func:`alarm_buttons`), never in a toolbar's overflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QMenu, QSizePolicy, QStyle, QToolBar, QToolButton, QWidget

from ..core.player import SPEEDS
from ..core.sources import list_cameras
from . import dialogs

if TYPE_CHECKING:
    from .main_window import MainWindow

P = QStyle.StandardPixmap
Key = QKeySequence.StandardKey


def add_action(win: MainWindow, text: str, slot: Callable[..., object], shortcut: str | Key | None = None,
               icon: QStyle.StandardPixmap | None = None) -> QAction:
    """An action of the window (its key works wherever the focus is in the window)."""
    a = QAction(text, win)
    if icon is not None:
        a.setIcon(win.style().standardIcon(icon))
    if shortcut:
        a.setShortcut(QKeySequence(shortcut))
    a.triggered.connect(slot)
    win.addAction(a)
    return a


def build_actions(win: MainWindow) -> None:
    """The window's ``act_*`` actions, with tooltips naming their keys."""
    win.act_open = add_action(win, "Open…", win.open_dialog, Key.Open, P.SP_DialogOpenButton)
    win.act_play = add_action(win, "Play/Pause", win.toggle_play, "Space", P.SP_MediaPlay)
    win.act_back = add_action(win, "Back", lambda: win.step(-1), "Left", P.SP_MediaSeekBackward)
    win.act_fwd = add_action(win, "Forward", lambda: win.step(1), "Right", P.SP_MediaSeekForward)
    win.act_prev_alert = add_action(win, "Prev alert", win.prev_alert, "[", P.SP_MediaSkipBackward)
    win.act_next_alert = add_action(win, "Next alert", win.next_alert, "]", P.SP_MediaSkipForward)
    win.act_shot = add_action(win, "Screenshot", lambda: win.save_screenshot(), "S", P.SP_DialogSaveButton)
    win.act_ack = add_action(win, "Acknowledge", win.monitor.acknowledge, "A", P.SP_DialogApplyButton)
    win.act_pause_audio = add_action(win, "Audio off 2 min", win.monitor.pause_audio, "P", P.SP_MediaVolumeMuted)
    # A click chooses the target face; this gives the choice back to the tracker.
    win.act_auto_target = add_action(win, "Target face: automatic", lambda: win.set_target(None), "T")
    for a, tip in ((win.act_back, "Step one frame back"), (win.act_fwd, "Step one frame forward"),
                   (win.act_prev_alert, "Jump to the previous alert"), (win.act_next_alert, "Jump to the next alert"),
                   (win.act_shot, "Save the video with overlays, the window and a JSON sidecar"),
                   (win.act_ack, "Acknowledge the active alarms (silences them until a new one)"),
                   (win.act_pause_audio, "Pause alarm sounds for 2 minutes (visual alarms stay)"),
                   (win.act_play, "Play / pause")):
        a.setToolTip(f"{tip} ({a.shortcut().toString()})")


def alarm_buttons(actions: Iterable[QAction]) -> list[QToolButton]:
    """A button for each alarm action, text beside the icon, sharing the row under the banner."""
    out = []
    for a in actions:
        b = QToolButton()
        b.setDefaultAction(a)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        out.append(b)
    return out


def speed_box() -> QComboBox:
    """Playback speeds (files), 1x chosen."""
    box = QComboBox()
    for s in SPEEDS:
        box.addItem(f"{s:g}x", s)
    box.setCurrentIndex(SPEEDS.index(1.0))
    box.setToolTip("Playback speed (files). Frames are skipped when processing cannot keep up.")
    return box


def build_toolbars(win: MainWindow) -> None:
    """Playback (open, play, step, speed, engine, alerts, screenshot), then the overlay bar under it."""
    tb = QToolBar("Playback")
    tb.setObjectName("playback")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for a in (win.act_open, win.act_play, win.act_back, win.act_fwd):
        tb.addAction(a)
    tb.addWidget(win.speed)
    tb.addWidget(win.engines.box)
    tb.addSeparator()
    for a in (win.act_prev_alert, win.act_next_alert, win.act_shot):
        tb.addAction(a)
    win.addToolBar(tb)
    win.addToolBarBreak()
    win.addToolBar(win.overlays)
    # Playback keys (Space, arrows) must reach the shortcuts, not a focused button or slider.
    win.speed.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    for b in tb.findChildren(QWidget) + win.overlays.findChildren(QWidget):
        if b.focusPolicy() != Qt.FocusPolicy.NoFocus and not isinstance(b, QComboBox):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)


def build_menus(win: MainWindow) -> None:
    """File (open, camera, recent, models, folders, OpenFace, quit), Playback, Alarms, Help."""
    mb = win.menuBar()
    m_file = mb.addMenu("&File")
    m_file.addAction(win.act_open)
    win.m_camera = m_file.addMenu("Camera")
    win.m_camera.aboutToShow.connect(lambda: fill_camera_menu(win.m_camera, win.open_source))
    win.m_recent = m_file.addMenu("Recent files")
    m_file.addSeparator()
    for text, slot in (("Load pain model…", win.load_model_dialog),
                       ("Load CNN checkpoint (Grad-CAM)…", win.load_cnn_dialog),
                       ("Session folder…", win.choose_session_dir), ("Keep sessions for…", win.choose_keep_days),
                       ("OpenFace FeatureExtraction…", win.choose_openface_bin)):
        m_file.addAction(add_action(win, text, slot))
    m_file.addSeparator()
    m_file.addAction(add_action(win, "Quit", win.close, Key.Quit))
    m_play = mb.addMenu("&Playback")
    for a in (win.act_play, win.act_back, win.act_fwd, win.act_prev_alert, win.act_next_alert):
        m_play.addAction(a)
    m_play.addSeparator()
    m_play.addAction(win.act_auto_target)
    m_alarm = mb.addMenu("&Alarms")
    for a in (win.act_ack, win.act_pause_audio, win.act_shot):
        m_alarm.addAction(a)
    m_help = mb.addMenu("&Help")
    m_help.addAction(add_action(win, "Keys, scales and alarms", lambda: dialogs.show_help(win, win.help_text()),
                                Key.HelpContents))
    m_help.addAction(add_action(win, "About", lambda: dialogs.show_about(win)))


def fill_camera_menu(menu: QMenu, open_source: Callable[[int], object]) -> None:
    """The cameras found now (looked for each time the menu opens)."""
    menu.clear()
    cams = list_cameras()
    if not cams:
        menu.addAction("No camera found").setEnabled(False)
    for i in cams:
        menu.addAction(f"Camera {i}", lambda i=i: open_source(i))


def fill_recent_menu(menu: QMenu, files: list[str], open_source: Callable[[str], object]) -> None:
    menu.clear()
    for p in files:
        menu.addAction(p, lambda p=p: open_source(p))
    menu.setEnabled(bool(files))
