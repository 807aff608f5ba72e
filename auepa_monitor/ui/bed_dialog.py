"""The ward's "Edit bed" dialog: a bed's name, source, target region and alarm settings.

The dialog only gathers what was typed; applying it is the caller's (``apply(bed, problems)``,
the ward window's :meth:`~auepa_monitor.ui.ward_window.WardWindow.edit_bed`), which validates the
whole ward (:func:`~auepa_monitor.core.ward.replace_bed`) and raises
:class:`~auepa_monitor.core.ward.WardConfigError` naming every problem: the dialog then lists
them and stays open, with nothing changed. A password typed in a stream URL is moved into the
credential store by the caller and never written to the ward file.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import Qt
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
        self.number = number
        self.setWindowTitle(f"Edit bed {number} - {bed.name}")
        self.setMinimumWidth(540)

        self.name_edit = QLineEdit(bed.name)
        self.source_edit = QLineEdit(bed.source)
        self.source_edit.setPlaceholderText("file, camera index, /dev/videoN or rtsp:// / http:// URL")
        source_hint = _hint("A video file (relative to the ward file), a camera index such as "
                            "<nobr>0</nobr>, a device such as <nobr>/dev/video0</nobr>, or an "
                            "<nobr>rtsp://</nobr> or <nobr>http://</nobr> URL. A password typed in a "
                            "URL is moved to the credential store, never into the ward file.")
        #: Where the bed's camera password is kept, when it has one.
        self.credential_label = _hint(
            f"Its password is kept in the credential store (<nobr>{bed.credential}</nobr>) and stays "
            f"while the source is a stream URL without a password typed in it." if bed.credential else "")
        self.roi_edit = QLineEdit(format_roi(tuple(bed.roi)) if bed.roi is not None else "")  # type: ignore[arg-type]
        self.roi_edit.setPlaceholderText("none: the tracker picks the face")
        w, h = frame_size
        self.roi_hint = _hint("x, y, width, height in frame pixels from the top-left corner"
                              + (f" (this source's frame is <nobr>{w} x {h}</nobr>)" if w > 0 and h > 0 else "")
                              + "; empty: the tracker picks the face.")

        form = QFormLayout()
        form.addRow("Name", self.name_edit)
        form.addRow("Source", _stack(self.source_edit, source_hint,
                                     *([self.credential_label] if bed.credential else [])))
        form.addRow("Target region", _stack(self.roi_edit, self.roi_hint))

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
        lay.addStretch(1)
        lay.addWidget(self.error_label)
        lay.addWidget(self.buttons)
        self.resize(self.minimumWidth(), 1)  # as tall as the wrapped hints need at this width
        self._fit_height()

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

    def readable(self, problem: str) -> str:
        """A validation problem in the dialog's words: this bed's "bed N (name): " prefix dropped,
        the ward file's keys named as the fields that hold them; any password masked."""
        p = re.sub(rf"^bed {self.number}( \([^)]*\))?: ", "", mask_credentials(problem))
        p = p.replace("'roi' must be [x, y, w, h] in pixels", "the target region must be x, y, w, h in pixels")
        p = re.sub(r"\bmid_on \(([^)]*)\) is above high_on \(([^)]*)\)",
                   r"the Medium alarm threshold (\1) is above the High one (\2)", p)
        return p[:1].upper() + p[1:]

    def show_problems(self, problems: list[str]) -> None:
        """List ``problems`` above the buttons (none: hide the list); the dialog grows to fit."""
        lines = [self.readable(p) for p in problems]
        self.error_label.setText("Not applied:\n" + "\n".join(f"• {p}" for p in lines) if lines else "")
        self.error_label.setVisible(bool(lines))
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow to the height the contents need at the present width (the size hint is taken at
        a narrower width, where the wrapped hints and problems are taller or shorter)."""
        lay = self.layout()
        lay.activate()
        need = lay.totalHeightForWidth(self.width()) if lay.hasHeightForWidth() else lay.totalSizeHint().height()
        if need > self.height():
            self.resize(self.width(), need)

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


def _hint(html: str) -> QLabel:
    """A small grey explanation under a field (rich text, wrapped)."""
    label = QLabel(html)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setWordWrap(True)
    label.setStyleSheet(HINT_STYLE)
    return label


def _stack(*widgets: QWidget) -> QWidget:
    """A field and its explanations, one under the other, close together."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(2)
    for w in widgets:
        lay.addWidget(w)
    return box
