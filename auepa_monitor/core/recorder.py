"""Per-frame CSV and event log writers, crash-safe: each line reaches the OS whole as soon as it is
written (a killed process loses nothing), and is fsynced within a second (power loss).

Columns follow OpenFace's names where they overlap, so existing analysis scripts read the file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .private_files import private_dir, private_fd
from .records import REPORTED_AUS, FrameResult, au_column

#: The cells :func:`score_cells` fills: every AU, PSPI and the pain score's (scored frames only).
SCORE_COLUMNS: tuple[str, ...] = (*(au_column(a) for a in REPORTED_AUS), "pspi", "pain_score", "pain_raw",
                                  "pain_level")
FRAME_COLUMNS: tuple[str, ...] = (
    "frame", "face_id", "timestamp", "confidence", "success", "face_x", "face_y", "face_w", "face_h",
    "pose_Rx", "pose_Ry", "pose_Rz", *SCORE_COLUMNS, "faces_seen", "au_engine", "model", "reason",
)


def score_cells(au: Mapping[int, float], pspi: float, score: float, raw: float, level: str) -> list[str]:
    """The ``SCORE_COLUMNS`` cells of a scored frame: AU intensities 0-5, PSPI 0-16, the smoothed
    and raw pain scores 0-10 and the level's label."""
    return [*(f"{au.get(a, 0.0):.2f}" for a in REPORTED_AUS), f"{pspi:.2f}", f"{score:.2f}", f"{raw:.2f}", level]


def frame_row(r: FrameResult) -> list[Any]:
    """One CSV row for a frame.

    Box and pose cells are filled whenever the target is tracked; AU and score cells only on
    scored frames (``success`` 1); ``reason`` says why a frame was not scored.
    """
    f = r.face
    row: list[Any] = [r.frame, r.face_id, f"{r.timestamp:.3f}", f"{r.confidence:.2f}", int(r.success)]
    if f is not None:
        row += [f"{v:.1f}" for v in f.box]
        # OpenFace's pose_Rx/Ry/Rz are pitch/yaw/roll in radians.
        row += [f"{math.radians(v):.3f}" for v in (f.pose.pitch, f.pose.yaw, f.pose.roll)]
    else:
        row += [""] * 7
    if r.success:
        row += score_cells(r.au, r.pspi, r.pain_score, r.pain_raw, r.pain_level.label)
    else:
        row += [""] * len(SCORE_COLUMNS)
    row += [r.faces_seen, r.au_engine, r.model_name, r.reason]
    return row


class _SyncedFile:
    """An append-only text file written in whole lines and fsynced every ``interval`` seconds while written.

    Why: a monitor can be killed at any moment (SIGKILL, power loss). Each line goes to the OS
    in one ``write`` call on an ``O_APPEND`` descriptor as soon as it is complete (no Python
    buffer that a kill would lose or cut in the middle of a line), so a killed process loses
    nothing it wrote; ``fsync`` at least once a second (on the next write) bounds what an OS
    crash or power loss can take. A line can only be cut if the kernel itself stops inside the
    ``write`` call; readers treat a last line without its newline as incomplete and drop it,
    and opening the file again for appending removes such a tail first.
    """

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        self.path = Path(path)
        private_dir(self.path.parent, warn=False)  # owner-only (0700) when made here
        _drop_partial_tail(self.path)
        # Owner-only (0600) whatever the umask; O_BINARY (Windows only): no newline translation.
        self._fd: int | None = private_fd(self.path, append=True)
        self.interval = interval
        self._last = time.monotonic()
        self._dirty = False

    def _write_text(self, text: str) -> None:
        """Append complete line(s) ``text`` (ending with a newline) in one system call."""
        if self._fd is None:
            raise ValueError(f"{self.path.name} is closed")
        data = text.encode("utf-8")
        while data:  # a regular file takes it whole; loop only for the rare short write
            n = os.write(self._fd, data)
            data = data[n:]
        self._dirty = True

    def maybe_sync(self, force: bool = False) -> None:
        """fsync if at least ``interval`` seconds passed since the last one (or ``force``)."""
        now = time.monotonic()
        if self._fd is not None and self._dirty and (force or now - self._last >= self.interval):
            os.fsync(self._fd)
            self._last = now
            self._dirty = False

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        if self._fd is not None:
            self.maybe_sync(force=True)
            os.close(self._fd)
            self._fd = None


def _drop_partial_tail(path: Path) -> None:
    """Cut an incomplete last line (no final newline) left by a crash in the middle of a write."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - 65536)  # lines are far shorter than this
        fh.seek(start)
        tail = fh.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(start + cut + 1 if cut >= 0 else start)


class FrameCsvWriter(_SyncedFile):
    """Appends one row per :class:`FrameResult`; writes the header when the file is new."""

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        super().__init__(path, interval)
        self._buf = io.StringIO()
        self._w = csv.writer(self._buf)
        if os.fstat(self._fd).st_size == 0:  # new (or emptied by a crash before the header was whole)
            self.write_row(FRAME_COLUMNS)
            self.maybe_sync(force=True)

    def write_row(self, row: Any) -> None:
        """Append one row of cells (in ``FRAME_COLUMNS`` order) as a whole line."""
        self._buf.seek(0)
        self._buf.truncate()
        self._w.writerow(row)
        self._write_text(self._buf.getvalue())

    def write(self, r: FrameResult) -> None:
        self.write_row(frame_row(r))
        self.maybe_sync()


class EventLog(_SyncedFile):
    """JSON-lines event log: one object per line with ``time`` (ISO, local) and ``event``."""

    def write(self, event: str, **fields: Any) -> None:
        rec = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "event": event, **fields}
        self._write_text(json.dumps(rec, default=str) + "\n")
        self.maybe_sync(force=True)  # events are rare and matter: sync each one


def complete_lines(path: Path) -> list[str]:
    """The file's lines without line ends, dropping a last line cut off by a crash (no newline)."""
    data = Path(path).read_bytes()
    cut = data.rfind(b"\n")
    text = data[: cut + 1].decode("utf-8") if cut >= 0 else ""
    return text.splitlines()


def frame_csv_rows(path: Path) -> Iterator[list[str]]:
    """The rows of a per-frame CSV after its header, as lists of cells in :data:`FRAME_COLUMNS`
    order, complete lines only. Raises ValueError when the header is not :data:`FRAME_COLUMNS`."""
    rows = csv.reader(complete_lines(path))
    if tuple(next(rows, ())) != FRAME_COLUMNS:
        raise ValueError(f"{Path(path).name}: not a per-frame CSV of this program (header differs)")
    return rows


def read_frame_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a per-frame CSV as dicts (column -> text), complete lines only.

    Raises ValueError when the header is not :data:`FRAME_COLUMNS` or a row has the wrong
    number of cells.
    """
    out = []
    for i, row in enumerate(frame_csv_rows(path), start=2):
        if len(row) != len(FRAME_COLUMNS):
            raise ValueError(f"{Path(path).name}: line {i} has {len(row)} cells, {len(FRAME_COLUMNS)} expected")
        out.append(dict(zip(FRAME_COLUMNS, row, strict=True)))
    return out


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events of a JSON-lines event log, complete lines only (ValueError on a malformed line)."""
    out = []
    for i, line in enumerate(complete_lines(path), start=1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(f"{Path(path).name}: line {i} is not JSON: {e}") from None
    return out
