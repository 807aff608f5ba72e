"""The Qt desktop UI (PySide6 + pyqtgraph). It only shows and controls the Qt-free core."""
