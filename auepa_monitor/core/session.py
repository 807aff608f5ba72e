"""A monitoring session's folder: per-frame CSV, event log and a small description. No Qt.

Layout: ``<root>/<YYYYmmdd-HHMMSS>_<source>/`` holding ``frames.csv`` (the columns of
``analyze``: :data:`recorder.FRAME_COLUMNS`), ``events.jsonl`` (one JSON object per line) and
``session.json``. Both logs are flushed and fsynced at least once a second (recorder), so a
crash loses at most a second. For a file played with seeks, rows follow the order frames were
processed in (the ``frame`` column says which frame each row is).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from .. import NOT_A_MEDICAL_DEVICE, __version__
from .recorder import EventLog, FrameCsvWriter
from .records import FrameResult

#: Environment variable that overrides the default sessions folder (e.g. for scripted checks).
ENV_DIR = "AUEPA_SESSIONS_DIR"


def default_sessions_dir() -> Path:
    """The per-user data folder for sessions (``$AUEPA_SESSIONS_DIR`` when set)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("auepa-monitor", appauthor=False)) / "sessions"


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
        root = Path(root) if root else default_sessions_dir()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}_{_safe(Path(source).name if source else 'source')}"
        path, i = root / base, 2
        while path.exists():
            path, i = root / f"{base}_{i}", i + 1
        path.mkdir(parents=True)
        self.path = path
        self.source = source
        self.frames = FrameCsvWriter(path / "frames.csv")
        self.events = EventLog(path / "events.jsonl")
        self.frames_written = 0
        meta = {"source": source, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "program": __version__,
                "notice": NOT_A_MEDICAL_DEVICE, **(info or {})}
        (path / "session.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        self.events.write("session_started", source=source)
        self._closed = False

    def write_frame(self, r: FrameResult) -> None:
        self.frames.write(r)
        self.frames_written += 1

    def event(self, event: str, **fields: Any) -> None:
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
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed
