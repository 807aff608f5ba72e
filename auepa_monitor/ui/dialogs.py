"""The window's dialogs: file choosers, the sessions settings, messages, Help and About.

Each returns what the user chose (None or '' when cancelled); the window acts on it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from .. import NOT_A_MEDICAL_DEVICE, __version__
from ..core.sources import IMAGE_EXTS, VIDEO_EXTS
from .settings_store import SettingsStore


def ask_media(parent: QWidget, store: SettingsStore) -> str:
    """A video or image to open (its folder is remembered for the next time); '' when cancelled."""
    exts = " ".join(f"*{e}" for e in sorted(VIDEO_EXTS | IMAGE_EXTS))
    path, _ = QFileDialog.getOpenFileName(parent, "Open video or image", store.last_dir(),
                                          f"Videos and images ({exts});;All files (*)")
    if path:
        store.set_last_dir(str(Path(path).parent))
    return path


def ask_model(parent: QWidget) -> str:
    """A pain regressor model file; '' when cancelled."""
    return QFileDialog.getOpenFileName(parent, "Pain regressor model", "", "Model files (*.pt);;All files (*)")[0]


def ask_cnn(parent: QWidget) -> str:
    """An end-to-end CNN checkpoint (Grad-CAM); '' when cancelled."""
    return QFileDialog.getOpenFileName(parent, "CNN checkpoint", "", "Checkpoints (*.pt *.pth);;All files (*)")[0]


def ask_sessions_dir(parent: QWidget, current: Path) -> str:
    """The folder for session recordings; '' when cancelled."""
    return QFileDialog.getExistingDirectory(parent, "Folder for session recordings", str(current))


def ask_keep_days(parent: QWidget, current: int) -> int | None:
    """Days closed sessions are kept (0: keep all); None when cancelled."""
    n, ok = QInputDialog.getInt(parent, "Keep sessions for", "Days closed sessions are kept (0: keep all); "
                                "applied when the program starts:", current, 0, 36500)
    return n if ok else None


def error_box(parent: QWidget, message: str) -> QMessageBox:
    """A non-modal warning with ``message`` (the monitor keeps running behind it); deleted on close."""
    box = QMessageBox(QMessageBox.Icon.Warning, "AuE-IPA Monitor", message, parent=parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def show_help(parent: QWidget, text: str) -> None:
    QMessageBox.information(parent, "Keys, scales and alarms", text)


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About AuE-IPA Monitor", f"AuE-IPA Monitor {__version__}\n\n{NOT_A_MEDICAL_DEVICE}")
