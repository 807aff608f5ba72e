"""Crash logs for IT: one file per run that went wrong, in the user's platform log folder. No Qt.

:func:`install` (called by the ``auepa-monitor`` command, never by code that imports the package)
opens ``crash-<YYYYmmdd-HHMMSS>-<pid>.log`` in :func:`log_dir` with a header line (time, version,
command, whether it runs from the bundle) and then:

- ``faulthandler`` writes the Python stack of every thread there on a fatal signal (a crash in
  native code: Qt, torch, LiteRT, OpenCV; an abort), which no Python code can catch;
- ``sys.excepthook`` and ``threading.excepthook`` write any uncaught exception there (also one
  raised in a Qt slot, after which the window goes on), then call the previous hook (stderr).

A run that ends normally with nothing written removes its file, so the folder holds only runs that
crashed, raised, or were killed (a killed run leaves the header alone). The newest
:data:`KEEP` files are kept. Files are owner-only (0600 in a 0700 folder, core/private_files.py);
they hold program stacks and messages, which can name an input file, never patient values.
Camera passwords in a message are masked.
"""

from __future__ import annotations

import atexit
import faulthandler
import os
import platform
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from . import __version__

LOG_ENV = "AUEPA_LOG_DIR"
#: Crash logs kept (newest first); older ones are removed at start-up.
KEEP = 20

_state: dict[str, Any] = {}


def log_dir() -> Path:
    """``$AUEPA_LOG_DIR``, else the per-user log folder (Linux ``~/.local/state/auepa-monitor/log``)."""
    env = os.environ.get(LOG_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("auepa-monitor", appauthor=False))


def _prune(folder: Path, keep: int) -> None:
    logs = sorted(folder.glob("crash-*.log"), key=lambda p: p.name, reverse=True)
    for old in logs[keep:]:
        try:
            old.unlink()
        except OSError:
            pass


def _write(text: str) -> None:
    fh: IO[str] | None = _state.get("file")
    if fh is None:
        return
    from .core.private_files import mask_credentials

    try:
        fh.write(mask_credentials(text))
        fh.flush()
        _state["wrote"] = True
    except (OSError, ValueError):
        pass


def _excepthook(exc_type, exc, tb) -> None:
    if not issubclass(exc_type, KeyboardInterrupt):
        _write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} uncaught exception:\n"
               + "".join(traceback.format_exception(exc_type, exc, tb)))
    _state["prev_excepthook"](exc_type, exc, tb)


def _thread_excepthook(args) -> None:
    if args.exc_type is not SystemExit:
        name = args.thread.name if args.thread is not None else "?"
        _write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} uncaught exception in thread {name}:\n"
               + "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))
    _state["prev_thread_excepthook"](args)


def _at_exit() -> None:
    fh = _state.pop("file", None)
    if fh is None:
        return
    try:
        faulthandler.disable()
    finally:
        fh.close()
    if not _state.get("wrote"):
        try:
            _state["path"].unlink()
        except OSError:
            pass


def install(command: str = "window") -> Path | None:
    """Start this run's crash log; returns its path (None when the log folder cannot be written,
    in which case the program runs without one). Only the first call in a process does anything."""
    if "path" in _state:
        return _state["path"]
    from .core.private_files import open_private, private_dir

    try:
        folder = private_dir(log_dir(), warn=False)
        _prune(folder, KEEP - 1)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        fh = open_private(path, "a")
    except OSError:
        return None
    frozen = "bundle" if getattr(sys, "frozen", False) else "source install"
    fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S %z')} AuE-IPA Monitor {__version__} ({frozen}), command "
             f"{command}, pid {os.getpid()}, Python {platform.python_version()}, {platform.platform()}\n"
             "A run that ended normally removes this file; this one crashed, raised an error, or was killed "
             "(then nothing follows this line). Send it to IT.\n")
    fh.flush()
    _state.update(path=path, file=fh, wrote=False, prev_excepthook=sys.excepthook,
                  prev_thread_excepthook=threading.excepthook)
    faulthandler.enable(file=fh, all_threads=True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    atexit.register(_at_exit)
    return path
