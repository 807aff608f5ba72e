"""The AU engine's box (the toolbar's choice for the sources opened next) and label (beside the AU bars)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QLabel, QWidget

from ..core.monitor import ENGINES, MonitorSession
from .settings_store import SettingsStore

LABEL_TIP = "The engine that produced the AU values shown (also in the session CSV)"


class EngineDisplay(QObject):
    """The engine choice and what the label says of the values shown.

    Command-line choices (``engine_arg``, ``bin_arg``) apply to this run; choices made in the
    window are remembered in ``store``. ``changed`` when the user chooses an engine (also the
    one already chosen, through :meth:`select`): the window then reopens its recorded file.
    """

    changed = Signal()

    def __init__(self, store: SettingsStore, engine_arg: str | None, bin_arg: str | None) -> None:
        super().__init__()
        self.store = store
        self._bin_arg = bin_arg
        self.box = QComboBox()
        for name, label in ENGINES.items():
            self.box.addItem(f"AU engine: {label}", name)
        self.box.setToolTip("AU intensity engine for the sources opened next (changing it reopens the file). "
                            "OpenFace runs over the whole file first; cameras use the embedded engine.")
        self.box.setCurrentIndex(max(0, self.box.findData(engine_arg or store.engine())))
        self.box.currentIndexChanged.connect(self._chosen)  # after the first choice: not remembered
        self.label = QLabel("AU engine: embedded")
        self.label.setWordWrap(True)
        self.label.setToolTip(LABEL_TIP)

    @property
    def choice(self) -> str:
        """The engine for the sources opened next: "embedded" or "openface"."""
        return str(self.box.currentData())

    def select(self, name: str) -> None:
        """Choose ``name`` (remembered; ``changed`` even when it was chosen already)."""
        i = self.box.findData(name)
        if i < 0:
            raise ValueError(f"unknown AU engine {name!r}: use embedded or openface")
        if i == self.box.currentIndex():
            self._chosen()
        else:
            self.box.setCurrentIndex(i)  # -> _chosen

    def _chosen(self, *_: object) -> None:
        self.store.set_engine(self.choice)
        self.changed.emit()

    @property
    def openface_bin(self) -> str | None:
        """FeatureExtraction from --openface-bin, else the setting, else None (the engine's own lookup)."""
        return self._bin_arg or self.store.openface_bin()

    def choose_openface_bin(self, parent: QWidget) -> str | None:
        """Ask for FeatureExtraction (remembered; replaces --openface-bin); the path, or None."""
        path, _ = QFileDialog.getOpenFileName(parent, "OpenFace's FeatureExtraction", self.openface_bin or "",
                                              "FeatureExtraction (FeatureExtraction*);;All files (*)")
        if not path:
            return None
        self._bin_arg = None
        self.store.set_openface_bin(path)
        return path

    def show_values(self, monitor: MonitorSession, name: str, missing: str = "") -> None:
        """The engine of the values shown; ``missing``: why a frame has none; else why OpenFace is not used."""
        why = f" (OpenFace not used: {monitor.engine_why or 'see the tooltip'})" if monitor.engine_note else ""
        text = f"AU engine: {ENGINES.get(name, name)}" + (f" – no values: {missing}" if missing else why)
        if self.label.text() != text:
            self.label.setText(text)

    def show_started(self, monitor: MonitorSession, note: str) -> None:
        """A source started: its engine, and ``note`` (why the chosen one is not used) in the tooltip."""
        self.show_values(monitor, monitor.engine_in_use)
        self.label.setToolTip(note or LABEL_TIP)

    def show_running(self) -> None:
        self.label.setText(f"AU engine: {ENGINES['openface']} (running…)")

    def show_choice(self) -> None:
        self.label.setText(f"AU engine: {ENGINES[self.choice]}")
