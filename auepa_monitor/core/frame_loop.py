"""The read -> track -> score loop for recorded inputs, on both cores. No Qt.

The one loop over a source's frames: ``analyze``, the benchmarks (``bench_pipeline``, ``soak``,
``compare_engines``) and training's per-row extraction (``training.extract.RowChain``) run
their frames through :func:`process_frames`. The monitor's :class:`~.player.Player` does not:
it paces a file in real time, drops frames it cannot keep up with, seeks and steps on command,
and reads live sources, so its capture and processing threads hand over only the newest frame.

Three stages overlap: a thread decodes frames ahead, a second thread tracks the face in them
(:meth:`Pipeline.track`), and the caller's thread computes AUs and scores (:meth:`Pipeline.finish`)
and writes. Why threads and not processes: OpenCV's decoder and LiteRT's ``invoke`` release the
GIL (measured: two threads of landmark calls run 2.0x one), so the stages run on both cores
without copying frames between processes. The queues are bounded, so memory stays flat however
slow a stage is; results come out in frame order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .sources import Frame, Source

_END = object()


def in_thread(items: Iterable[Any], fn: Callable[[Any], Any] = lambda x: x, depth: int = 4,
              name: str = "auepa-stage") -> Iterator[Any]:
    """``fn(item)`` for each item, computed by a background thread up to ``depth`` items ahead.

    An exception raised while producing an item is raised here, in the caller's thread, after
    the results before it. Closing the iterator early stops the thread.
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
        try:
            for x in items:
                if stop.is_set() or not put(fn(x)):
                    return
        except BaseException as e:  # handed to the consumer, raised there
            put(e)
            return
        put(_END)

    t = threading.Thread(target=work, name=name, daemon=True)
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


def _frames(src: Source, max_frames: int | None) -> Iterator[Frame]:
    n = 0
    while max_frames is None or n < max_frames:
        f = src.read()
        if f is None:
            return
        n += 1
        yield f


def read_ahead(src: Source, max_frames: int | None = None, depth: int = 4) -> Iterator[Frame]:
    """Frames of ``src`` in order, decoded by a background thread up to ``depth`` frames ahead."""
    return in_thread(_frames(src, max_frames), depth=depth, name="auepa-decode")


def process_frames(src: Source, pipe: Any, max_frames: int | None = None) -> Iterator[tuple[Frame, Any]]:
    """Each frame of ``src`` (at most ``max_frames``) with its result, in order.

    ``pipe`` with two stages, ``track(frame)`` (run ahead in its own thread; its result has the
    ``frame``) and ``finish(tracked)`` (in the caller's thread, in frame order), gives what
    ``finish`` returns: a :class:`~.records.FrameResult` for a :class:`~.pipeline.Pipeline`. One without them runs
    ``process(frame)`` in the caller's thread (a list of results for a pipeline of several faces).
    Closing the iterator early stops and joins the threads; the source stays open.
    """
    frames = read_ahead(src, max_frames)
    try:
        if hasattr(pipe, "track") and hasattr(pipe, "finish"):
            tracked_frames = in_thread(frames, pipe.track, name="auepa-track")
            try:
                for tracked in tracked_frames:
                    yield tracked.frame, pipe.finish(tracked)
            finally:
                tracked_frames.close()  # joins the tracking thread before the decoder is closed
        else:
            for frame in frames:
                yield frame, pipe.process(frame)
    finally:
        frames.close()
