"""The alarm settings form (the "Alarms" tab) and the Help text on keys, scales and alarms."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QWidget

from .. import NOT_A_MEDICAL_DEVICE
from ..core.alerts import AlertConfig
from ..core.records import PAPER_SCALE, PainScale


class AlarmForm(QWidget):
    """Pain alarm thresholds and times; ``changed(AlertConfig)`` on every edit (validated)."""

    changed = Signal(object)

    def __init__(self, cfg: AlertConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._base = cfg
        form = QFormLayout(self)
        form.setContentsMargins(0, 6, 0, 0)
        self.enabled = QCheckBox("Pain alerts on")
        self.enabled.setChecked(cfg.enabled)
        form.addRow(self.enabled)

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
        self.enabled.toggled.connect(self._edited)
        for s in (self.sp_high, self.sp_mid, self.sp_hyst, self.sp_sustain, self.sp_clear, self.sp_noface):
            s.valueChanged.connect(self._edited)

    def config(self, clamp: bool = True) -> AlertConfig:
        """The settings shown; ``clamp``: kept in range (:meth:`AlertConfig.validated`, e.g. medium
        lowered to high). ``clamp=False`` gives them as typed, for a caller that reports instead."""
        old = self._base
        c = AlertConfig(enabled=self.enabled.isChecked(), high_on=self.sp_high.value(),
                        mid_on=self.sp_mid.value(), hysteresis=self.sp_hyst.value(),
                        sustain_s=self.sp_sustain.value(), clear_s=self.sp_clear.value(),
                        no_face_s=self.sp_noface.value(), stall_s=old.stall_s,
                        audio_pause_s=old.audio_pause_s)
        return c.validated() if clamp else c

    def set_base(self, cfg: AlertConfig) -> None:
        """The settings not in the form (stall and audio pause times) come from ``cfg``."""
        self._base = cfg

    def _edited(self) -> None:
        self.changed.emit(self.config())


def help_text(scale: PainScale) -> str:
    """The keys, the scales (on the levels of the alarm settings) and what each alarm means."""
    paper = "" if scale == PAPER_SCALE else f" (the alarm settings; the paper: {PAPER_SCALE.describe()})"
    return (
        "Keys\n"
        "  Space play/pause, Left/Right step one frame, [ / ] previous/next alert,\n"
        "  S screenshot, A acknowledge the alarm, P audio off for 2 minutes,\n"
        "  T target face automatic (a click on a face makes it the target).\n\n"
        "Scales\n"
        f"  AU intensity 0-5 (FACS), PSPI 0-16, pain score 0-10:\n  {scale.describe()}{paper}.\n"
        "  Fit quality 0-1: below 0.5 the frame is tracked but not\n"
        "  scored (face turned, covered or unsure), and the panel says why.\n\n"
        "Alarms\n"
        f"  Red, flashing: strong pain sustained (score ≥ {scale.strong:g}). Yellow: mid pain sustained\n"
        f"  (score ≥ {scale.mid:g}).\n"
        "  Cyan: technical, the signal is lost (no face, face turned away or covered,\n"
        "  camera gone, file unreadable). Acknowledge silences the current alarm.\n\n"
        f"{NOT_A_MEDICAL_DEVICE}")
