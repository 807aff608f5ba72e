"""The ward's "Edit bed" dialog: a bed's name, source, target region and alarm settings.

The dialog only gathers what was typed; applying it is the caller's (``apply(bed, problems)``,
the ward window's :meth:`~auepa_monitor.ui.ward_window.WardWindow.edit_bed`), which validates the
whole ward (:func:`~auepa_monitor.core.ward.replace_bed`) and raises
:class:`~auepa_monitor.core.ward.WardConfigError` naming every problem: the dialog then lists
them and stays open, with nothing changed. A password typed in a stream URL is moved into the
credential store by the caller and never written to the ward file.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.private_files import mask_credentials
from ..core.roi import format_roi
from ..core.ward import Bed, WardConfigError, bed_alerts, parse_bed_roi
from .alarm_form import AlarmForm

HINT_STYLE = "color: #757575; font-size: 11px;"
ERROR_STYLE = ("color: #b71c1c; background: #ffebee; border: 1px solid #e57373; border-radius: 3px; "
               "padding: 6px;")


class BedDialog(QDialog):
    """Edit one bed (see the module docstring).

    Args:
        bed: the bed as configured; number: its place in the ward (1-based, for the title).
        apply: called with the edited :class:`Bed` and the dialog's own problems (an unreadable
            target region); raises :class:`WardConfigError` when the ward would be invalid.
        frame_size: the bed's frame (width, height) when its source is open ((0, 0): unknown);
            a target region off that frame is refused while the source is unchanged.
    """

    def __init__(self, bed: Bed, number: int, apply: Callable[[Bed, list[str]], object],
                 frame_size: tuple[int, int] = (0, 0), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bed = bed
        self._apply = apply
        self._size = frame_size
        self.setWindowTitle(f"Edit bed {number} - {bed.name}")
        self.setMinimumWidth(520)

        self.name_edit = QLineEdit(bed.name)
        self.source_edit = QLineEdit(bed.source)
        self.source_edit.setPlaceholderText("file, camera index, /dev/videoN or rtsp:// / http:// URL")
        source_hint = QLabel("A video file (relative to the ward file), a camera index such as 0, "
                             "/dev/videoN, or an rtsp:// or http:// URL. A password typed in a URL "
                             "is moved to the credential store, never into the ward file.")
        source_hint.setWordWrap(True)
        source_hint.setStyleSheet(HINT_STYLE)
        self.credential_label = QLabel(
            f"Password kept in the credential store ({bed.credential}); it stays while the source "
            f"is a stream URL without a password typed in it." if bed.credential else "")
        self.credential_label.setWordWrap(True)
        self.credential_label.setStyleSheet(HINT_STYLE)
        self.credential_label.setVisible(bool(bed.credential))
        self.roi_edit = QLineEdit(format_roi(tuple(bed.roi)) if bed.roi is not None else "")  # type: ignore[arg-type]
        self.roi_edit.setPlaceholderText("none: the tracker picks the face")
        w, h = frame_size
        self.roi_hint = roi_hint = QLabel("x, y, width, height in frame pixels from the top-left corner"
                          + (f" (this source's frame is {w} x {h})" if w > 0 and h > 0 else "")
                          + "; empty: the tracker picks the face.")
        roi_hint.setWordWrap(True)
        roi_hint.setStyleSheet(HINT_STYLE)

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Source", self.source_edit)
        form.addRow("", source_hint)
        form.addRow("", self.credential_label)
        form.addRow("Target region", self.roi_edit)
        form.addRow("", roi_hint)

        self.alarm_form = AlarmForm(bed.alert_config())
        alarms = QGroupBox("Alarms for this bed")
        QVBoxLayout(alarms).addWidget(self.alarm_form)

        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.apply_button: QPushButton = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.try_apply)
        self.buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(alarms)
        lay.addWidget(self.error_label)
        lay.addWidget(self.buttons)

    def edited_bed(self) -> tuple[Bed, list[str]]:
        """The bed as typed, and the problems found here (an unreadable or off-frame region)."""
        source = self.source_edit.text().strip()
        size = self._size if source == self.bed.source.strip() else (0, 0)  # a new source: size unknown
        problems: list[str] = []
        try:
            roi = parse_bed_roi(self.roi_edit.text(), size)
        except ValueError as e:
            roi, problems = None, [str(e)]
        alerts = bed_alerts(self.alarm_form.config(clamp=False), self.bed.alerts)
        return Bed(self.name_edit.text().strip(), source, self.bed.credential, roi, alerts), problems

    def show_problems(self, problems: list[str]) -> None:
        """List ``problems`` above the buttons (none: hide the list)."""
        lines = [mask_credentials(p) for p in problems]
        self.error_label.setText("Not applied:\n" + "\n".join(f"• {p}" for p in lines) if lines else "")
        self.error_label.setVisible(bool(lines))
        self.adjustSize()

    def try_apply(self) -> bool:
        """Apply the edit: close on success; on a problem list every one and stay open."""
        bed, problems = self.edited_bed()
        try:
            self._apply(bed, problems)
        except WardConfigError as e:
            self.show_problems(e.problems)
            return False
        self.show_problems([])
        self.accept()
        return True
