"""A dark theme: monitors are watched in dim rooms, and the alarm colours stand out on dark."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def apply_dark(app: QApplication) -> None:
    """Fusion style with a dark palette (idempotent)."""
    if app.property("auepa_dark"):
        return
    app.setStyle("Fusion")
    pal = QPalette()
    R = QPalette.ColorRole
    for role, col in ((R.Window, "#202124"), (R.WindowText, "#e8eaed"), (R.Base, "#17181a"),
                      (R.AlternateBase, "#2a2b2e"), (R.ToolTipBase, "#303134"), (R.ToolTipText, "#e8eaed"),
                      (R.Text, "#e8eaed"), (R.Button, "#2d2e31"), (R.ButtonText, "#e8eaed"),
                      (R.BrightText, "#ff5252"), (R.Highlight, "#1e88e5"), (R.HighlightedText, "#ffffff"),
                      (R.Link, "#8ab4f8"), (R.PlaceholderText, "#9aa0a6")):
        pal.setColor(role, QColor(col))
    for role in (R.Text, R.ButtonText, R.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6f7378"))
    app.setPalette(pal)
    app.setProperty("auepa_dark", True)
