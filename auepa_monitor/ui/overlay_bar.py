"""The overlay toolbar: which overlays the video shows, the heatmap's opacity, and the heatmap's label."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QLabel, QSlider, QToolBar

from .overlay import OverlayOptions
from .settings_store import OVERLAY_KEYS, SettingsStore


class OverlayBar(QToolBar):
    """Face box, landmarks, AU regions and heatmap check boxes, the heatmap opacity (0-100 %) and
    the label saying what the heatmap shows. ``changed`` on every edit; the choices are remembered
    in ``store``."""

    changed = Signal()

    def __init__(self, store: SettingsStore) -> None:
        super().__init__("Overlays")
        self.setObjectName("overlays")
        self.store = store
        self.chk_box = QCheckBox("Face box")
        self.chk_lm = QCheckBox("Landmarks")
        self.chk_regions = QCheckBox("AU regions")
        self.chk_heat = QCheckBox("Heatmap")
        for c in self.checks:
            c.setChecked(True)
            c.toggled.connect(self.changed)
            self.addWidget(c)
        self.addWidget(QLabel(" opacity "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.setFixedWidth(90)
        self.opacity.valueChanged.connect(self.changed)
        self.addWidget(self.opacity)
        self.heat_label = QLabel("")
        self.heat_label.setMinimumWidth(260)
        self.addWidget(self.heat_label)
        # Playback keys (Space, arrows) must reach the window's shortcuts, not a focused box or slider.
        for w in (*self.checks, self.opacity):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    @property
    def checks(self) -> tuple[QCheckBox, QCheckBox, QCheckBox, QCheckBox]:
        """The check boxes in the order of :data:`OVERLAY_KEYS`."""
        return self.chk_box, self.chk_lm, self.chk_regions, self.chk_heat

    def restore(self) -> None:
        """Show the remembered choices (without ``changed``: setting one box would save them all)."""
        checks, opacity = self.store.overlays()
        for key, chk in zip(OVERLAY_KEYS, self.checks, strict=True):
            chk.blockSignals(True)
            chk.setChecked(checks[key])
            chk.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(opacity)
        self.opacity.blockSignals(False)

    def apply(self, o: OverlayOptions) -> None:
        """Set ``o`` to the choices shown and remember them; the label is emptied with the heatmap off."""
        o.face_box, o.landmarks = self.chk_box.isChecked(), self.chk_lm.isChecked()
        o.au_regions, o.heatmap = self.chk_regions.isChecked(), self.chk_heat.isChecked()
        o.heat_opacity = self.opacity.value() / 100.0
        self.store.set_overlays({k: c.isChecked() for k, c in zip(OVERLAY_KEYS, self.checks, strict=True)},
                                self.opacity.value())
        if not o.heatmap:
            self.heat_label.setText("")
