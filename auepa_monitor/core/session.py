"""A monitoring session's folder: per-frame CSV, event log and a small description. No Qt.

Layout: ``<root>/<YYYYmmdd-HHMMSS>_<source>/`` holding ``frames.csv`` (the columns of
``analyze``: :data:`recorder.FRAME_COLUMNS`), ``events.jsonl`` (one JSON object per line) and
``session.json``. Both logs are flushed and fsynced at least once a second (recorder), so a
crash loses at most a second. For a file played with seeks, rows follow the order frames were
processed in (the ``frame`` column says which frame each row is).

Folders are 0700 and files 0600 (:mod:`private_files`). While a session is recorded its folder
holds ``.open``, locked by the recording process (``flock``); closing removes it. A session is
*open* while that lock is held (:func:`is_open`): a crashed session's mark is left unlocked,
so it counts as closed. Retention (:mod:`retention`) never removes an open session.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .. import NOT_A_MEDICAL_DEVICE, __version__
from .private_files import DIR_MODE, mask_credentials, private_dir, private_fd, write_private_text
from .recorder import EventLog, FrameCsvWriter
from .records import FrameResult

try:  # POSIX: an advisory lock the OS drops when the process dies
    import fcntl
except ImportError:  # Windows: a file open in another process cannot be removed
    fcntl = None  # type: ignore[assignment]

#: Environment variable that overrides the default sessions folder (e.g. for scripted checks).
ENV_DIR = "AUEPA_SESSIONS_DIR"
#: The mark of a session being recorded (locked by the recording process).
OPEN_MARK = ".open"


def default_sessions_dir() -> Path:
    """The per-user data folder for sessions (``$AUEPA_SESSIONS_DIR`` when set)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("auepa-monitor", appauthor=False)) / "sessions"


class _OpenMark:
    """``<session>/.open``, created 0600 and locked for as long as the session is recorded."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / OPEN_MARK
        self._fd: int | None = private_fd(self.path)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if self._fd is None:
            return
        try:  # removed while still locked: no moment where it looks like a crashed session
            self.path.unlink()
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def is_open(folder: str | Path) -> bool:
    """Whether a session folder is being recorded now (by this or another process)."""
    mark = Path(folder) / OPEN_MARK
    if fcntl is None:
        try:
            mark.unlink()  # fails while the recording process holds it open
        except FileNotFoundError:
            return False
        except PermissionError:
            return True
        return False
    try:
        fd = os.open(mark, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the lock taken just now
    return False  # left by a process that ended without closing (a crash): not open


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "source"


class Session:
    """One recording session: create, write frames and events, close.

    Args:
        source: a description of the source (file path or "camera N").
        root: folder that holds session folders (default: :func:`default_sessions_dir`).
        info: extra facts written to ``session.json`` (model, engine, settings).
    """

    def __init__(self, source: str, root: str | Path | None = None, info: dict[str, Any] | None = None):
        root = private_dir(Path(root) if root else default_sessions_dir())
        source = mask_credentials(source)  # a camera URL's user:pass@ never reaches a file
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}_{_safe(Path(source).name if source else 'source')}"
        path, i = root / base, 2
        while True:
            try:
                os.mkdir(path, DIR_MODE)
                break
            except FileExistsError:
                path, i = root / f"{base}_{i}", i + 1
        os.chmod(path, DIR_MODE)
        self.path = path
        self.source = source
        self._mark = _OpenMark(path)
        try:
            self.frames = FrameCsvWriter(path / "frames.csv")
            self.events = EventLog(path / "events.jsonl")
            self.frames_written = 0
            meta = {"source": source, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "program": __version__,
                    "notice": NOT_A_MEDICAL_DEVICE, **(info or {})}
            write_private_text(path / "session.json", json.dumps(meta, indent=2, default=str) + "\n")
        except BaseException:
            self._mark.release()
            raise
        self.events.write("session_started", source=source)
        self._closed = False

    def write_frame(self, r: FrameResult) -> None:
        self.frames.write(r)
        self.frames_written += 1

    def event(self, event: str, **fields: Any) -> None:
        fields = {k: mask_credentials(v) if isinstance(v, str) else v for k, v in fields.items()}
        self.events.write(event, **fields)

    def flush(self) -> None:
        """Sync both files if a second passed (call from a timer when frames stop)."""
        if not self._closed:
            self.frames.maybe_sync()
            self.events.maybe_sync()

    def close(self) -> None:
        if self._closed:
            return
        self.events.write("session_ended", frames=self.frames_written)
        self.frames.close()
        self.events.close()
        self._mark.release()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
