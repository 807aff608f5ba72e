"""Per-frame CSV and event log writers, crash-safe: flushed and fsynced at least once a second.

Columns follow OpenFace's names where they overlap, so existing analysis scripts read the file.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from .records import REPORTED_AUS, FrameResult, au_column

FRAME_COLUMNS: tuple[str, ...] = (
    "frame", "timestamp", "confidence", "success", "face_x", "face_y", "face_w", "face_h",
    "pose_Rx", "pose_Ry", "pose_Rz",
    *(au_column(a) for a in REPORTED_AUS),
    "pspi", "pain_score", "pain_raw", "pain_level", "faces_seen", "au_engine", "model",
)


def frame_row(r: FrameResult) -> list[Any]:
    """One CSV row for a frame; AU and score cells are empty when no face was found."""
    f = r.face
    row: list[Any] = [r.frame, f"{r.timestamp:.3f}", f"{r.confidence:.2f}", int(r.success)]
    if f is not None:
        row += [f"{v:.1f}" for v in f.box]
        # OpenFace's pose_Rx/Ry/Rz are pitch/yaw/roll in radians.
        import math

        row += [f"{math.radians(v):.3f}" for v in (f.pose.pitch, f.pose.yaw, f.pose.roll)]
        row += [f"{r.au.get(a, 0.0):.2f}" for a in REPORTED_AUS]
        row += [f"{r.pspi:.2f}", f"{r.pain_score:.2f}", f"{r.pain_raw:.2f}", r.pain_level.label]
    else:
        row += [""] * (4 + 3 + len(REPORTED_AUS) + 4)
    row += [r.faces_seen, r.au_engine, r.model_name]
    return row


class _SyncedFile:
    """A text file flushed and fsynced when at least ``interval`` seconds passed since the last sync."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self.interval = interval
        self._last = time.monotonic()

    def maybe_sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._last = now

    def close(self) -> None:
        if not self._fh.closed:
            self.maybe_sync(force=True)
            self._fh.close()


class FrameCsvWriter(_SyncedFile):
    """Appends one row per :class:`FrameResult`; writes the header when the file is new."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        new = not Path(path).exists() or Path(path).stat().st_size == 0
        super().__init__(path, interval)
        self._w = csv.writer(self._fh)
        if new:
            self._w.writerow(FRAME_COLUMNS)
            self.maybe_sync(force=True)

    def write(self, r: FrameResult) -> None:
        self._w.writerow(frame_row(r))
        self.maybe_sync()


class EventLog(_SyncedFile):
    """JSON-lines event log: one object per line with ``time`` (ISO, local) and ``event``."""

    def write(self, event: str, **fields: Any) -> None:
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": event, **fields}
        self._fh.write(json.dumps(rec, default=str) + "\n")
        self.maybe_sync(force=True)  # events are rare and matter: sync each one
