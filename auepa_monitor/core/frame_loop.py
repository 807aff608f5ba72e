"""The read -> process loop for recorded inputs, on both cores: decoding runs ahead in a thread. No Qt.

Why a thread and not a process: OpenCV's decoder and LiteRT's ``invoke`` both release the
GIL, so a decode thread overlaps with tracking on the second core without copying frames
between processes. The queue is bounded, so memory stays flat however slow the pipeline is.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Protocol

from .records import FrameResult
from .sources import Frame, Source

_END = object()


class FrameProcessor(Protocol):
    def process(self, frame: Frame) -> FrameResult: ...


def read_ahead(src: Source, max_frames: int | None = None, depth: int = 4) -> Iterator[Frame]:
    """Frames of ``src`` in order, decoded by a background thread up to ``depth`` frames ahead.

    An error raised by the source (e.g. a corrupt file) is raised here, in the caller's thread,
    after the frames read before it. Closing the iterator early stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        n = 0
        try:
            while not stop.is_set() and (max_frames is None or n < max_frames):
                f = src.read()
                if f is None:
                    break
                n += 1
                if not put(f):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put(e)
            return
        put(_END)

    t = threading.Thread(target=work, name="auepa-decode", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


def process_frames(src: Source, pipe: FrameProcessor, max_frames: int | None = None) -> Iterator[tuple[Frame, FrameResult]]:
    """Each frame of ``src`` with its :class:`FrameResult`, in order (decode overlapped with processing)."""
    for frame in read_ahead(src, max_frames):
        yield frame, pipe.process(frame)
