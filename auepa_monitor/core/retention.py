"""Session retention: remove closed sessions older than a number of days. No Qt.

Applied when the window starts (``--keep-days N`` or the setting ``session/keep_days``; 0 or
unset keeps everything). Only folders that are sessions of this program are considered (a
``YYYYmmdd-HHMMSS_`` name and a ``session.json``); a session being recorded (:func:`session.is_open`)
is never removed, by this or another process. A session's age is counted from its last write
(the newest file in it), so a long session is kept for the full period after it ended.

What was removed is logged (one line) and appended to ``<sessions folder>/retention.log`` (0600).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from .private_files import open_private
from .session import is_open

log = logging.getLogger(__name__)
DAY_S = 86400.0
_SESSION_NAME = re.compile(r"^\d{8}-\d{6}_")
LOG_NAME = "retention.log"


def is_session_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and bool(_SESSION_NAME.match(path.name)) \
        and (path / "session.json").is_file()


def last_write(folder: Path) -> float:
    """The newest modification time (epoch seconds) of the folder and everything in it."""
    newest = folder.stat().st_mtime
    for p in folder.rglob("*"):
        try:
            newest = max(newest, p.lstat().st_mtime)
        except OSError:
            continue
    return newest


def expired_sessions(root: str | Path, keep_days: float, now: float | None = None) -> list[Path]:
    """Closed sessions in ``root`` whose last write is more than ``keep_days`` days before ``now``."""
    root = Path(root)
    if not keep_days or keep_days <= 0 or not root.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days * DAY_S
    out = []
    for p in sorted(root.iterdir()):
        if is_session_folder(p) and last_write(p) < cutoff and not is_open(p):
            out.append(p)
    return out


def apply_retention(root: str | Path, keep_days: float | None, now: float | None = None) -> list[Path]:
    """Remove the :func:`expired_sessions` of ``root``; returns the folders removed."""
    if not keep_days or keep_days <= 0:
        return []
    root = Path(root)
    removed, failed = [], []
    for p in expired_sessions(root, keep_days, now):
        if is_open(p):  # opened again meanwhile? (never by this program, but checked right before)
            continue
        try:
            shutil.rmtree(p)
            removed.append(p)
        except OSError as e:
            failed.append(f"{p.name} ({e.strerror or e})")
    if removed or failed:
        msg = (f"retention (keep {keep_days:g} days): removed {len(removed)} closed session(s) from {root}"
               + (f": {', '.join(p.name for p in removed)}" if removed else "")
               + (f"; could not remove {', '.join(failed)}" if failed else ""))
        log.info(msg)
        try:
            with open_private(root / LOG_NAME, "a") as fh:
                fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {msg}\n")
        except OSError as e:
            log.warning("warning: cannot write %s: %s", root / LOG_NAME, e)
    return removed
