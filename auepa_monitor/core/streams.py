"""Opening live sources the way a monitor needs them: reconnecting by themselves. No Qt.

:func:`open_live` turns a camera index, a V4L2 device path or a stream URL (``rtsp://``,
``http(s)://`` ...) into a :class:`~auepa_monitor.core.reconnect.ReconnectingSource` (technical
alarm while the signal is lost, reopened with back-off, one clock, newest frame wins);
:func:`open_any` does that for live specs and opens files as :func:`sources.open_source` does.
Names and messages carry the URL with its password masked.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .private_files import mask_credentials
from .reconnect import ReconnectingSource
from .sources import CameraSource, Source, StreamSource, is_device_path, is_stream_url, open_source


def is_live_spec(spec: object) -> bool:
    """A camera index, a device path or a stream URL."""
    return isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()) or \
        is_stream_url(spec) or is_device_path(spec)


def open_stream(url: str, stall_timeout: float = 5.0, **kw: Any) -> ReconnectingSource:
    """A stream URL or device path as a self-reconnecting live source.

    ``kw`` go to :class:`ReconnectingSource` (back-off, ``on_status``). The first open happens
    now: a server that is not there gives a :class:`SourceError` at once.
    """
    url = str(url).strip()
    return ReconnectingSource(lambda: StreamSource(url), name=mask_credentials(url), stall_timeout=stall_timeout,
                              **kw)


def open_live(spec: str | int, stall_timeout: float = 5.0, **kw: Any) -> ReconnectingSource:
    """A camera index, device path or stream URL, reconnecting by itself."""
    if isinstance(spec, int) or str(spec).strip().isdigit():
        idx = int(spec)
        return ReconnectingSource(lambda: CameraSource(idx), name=f"camera {idx}", stall_timeout=stall_timeout, **kw)
    return open_stream(str(spec), stall_timeout=stall_timeout, **kw)


def open_any(spec: str | int | Path, **kw: Any) -> Source:
    """:func:`open_live` for live specs, :func:`sources.open_source` for files and folders."""
    if not isinstance(spec, Path) and is_live_spec(spec):
        return open_live(spec, **kw)
    return open_source(spec)


def wait_stream_threads(timeout: float = 6.0) -> bool:
    """Wait until the readers of closed live sources have left the capture library; True when none is left.

    Call it after closing live sources and before the process exits: Python ends daemon threads
    at exit by unwinding them, and one unwound inside OpenCV's native read aborts the process
    ("FATAL: exception not rethrown"). A reader returns within the stream's read timeout.
    """
    end = time.monotonic() + timeout
    left = False
    for t in threading.enumerate():
        if t is not threading.current_thread() and t.daemon and \
                (t.name.startswith("reader ") or t.name in ("close lost source",) or t.name.startswith("reconnect ")):
            t.join(max(0.0, end - time.monotonic()))
            left = left or t.is_alive()
    return not left


__all__ = ["is_live_spec", "open_any", "open_live", "open_stream", "wait_stream_threads"]
