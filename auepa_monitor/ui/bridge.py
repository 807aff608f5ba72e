"""The Qt side of a :class:`~auepa_monitor.core.monitor.MonitorSession`: its listener calls as Qt signals.

The bridge lives in the GUI thread. A call made in another thread (the session's pump) emits a
signal that Qt queues to the GUI thread; a call made in the GUI thread itself (a control, a
test feeding frames) is delivered at once. The window connects these signals to its own
methods (a QObject's methods: a lambda or a plain object would run in the emitting thread).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class QtMonitorBridge(QObject):
    """A :class:`MonitorListener` whose every call is a signal."""

    frameReady = Signal(object)  # Processed
    alarmsChanged = Signal(object)  # list[AlertEvent]
    noticed = Signal(object)  # PlayerNotice
    sourceStarted = Signal(object, str, bool, str)  # Source, description, playing, engine note
    openfaceWaiting = Signal(object)  # OpenFaceJob
    openfaceDone = Signal(object)  # OpenFaceJob
    errorRaised = Signal(str)

    def frame(self, p) -> None:
        self.frameReady.emit(p)

    def alarms(self, events) -> None:
        self.alarmsChanged.emit(events)

    def notice(self, n) -> None:
        self.noticed.emit(n)

    def source_started(self, src, desc: str, play: bool, note: str) -> None:
        self.sourceStarted.emit(src, desc, play, note)

    def openface_waiting(self, job) -> None:
        self.openfaceWaiting.emit(job)

    def openface_done(self, job) -> None:
        self.openfaceDone.emit(job)

    def error(self, message: str) -> None:
        self.errorRaised.emit(message)

