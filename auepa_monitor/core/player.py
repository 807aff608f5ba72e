"""Playback engine, Qt-free: a capture thread, a newest-frame slot and a processing thread.

Capture reads the source in its own thread. A live source is read as fast as it delivers; a
file is paced to its own frame rate times the playback speed. Capture puts each frame into a
:class:`LatestSlot`, which holds only the newest frame: when processing is slower than the
source, the frame waiting in the slot is replaced and counted as dropped. So a file keeps
its real-time pace and *skips* frames rather than drifting behind, and a live feed never
builds a queue. ``lossless=True`` (scripted screenshots, tests) makes capture wait for
processing instead, so every frame is processed.

Processing runs one :class:`Pipeline` in its own thread. A seek starts a new *epoch*; the
first frame of a new epoch resets the pipeline's temporal state (tracking, smoothing) first.
Results go to a queue the UI drains; the UI thread only draws.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from .errors import AuepaError
from .records import FrameResult
from .sources import Frame, Source

T = TypeVar("T")
SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


class LatestSlot(Generic[T]):
    """A one-item hand-over between threads that keeps only the newest item.

    ``put`` replaces an item nobody took yet and counts it in ``dropped``; with ``lossless``
    it waits until the item was taken instead. A taken item is *in work* until the taker calls
    :meth:`done`; :meth:`wait_idle` waits for no item waiting and none in work.
    """

    def __init__(self, lossless: bool = False) -> None:
        self._cv = threading.Condition()
        self._item: T | None = None
        self._has = False
        self.lossless = lossless
        self.dropped = 0
        self.closed = False
        self._in_work = False

    def put(self, item: T, stop: threading.Event | None = None) -> None:
        with self._cv:
            if self.lossless:
                while self._has and not self.closed and not (stop is not None and stop.is_set()):
                    self._cv.wait(0.05)
            elif self._has:
                self.dropped += 1
            self._item, self._has = item, True
            self._cv.notify_all()

    def get(self, timeout: float = 0.1) -> T | None:
        """The newest item, or None when none came within ``timeout`` seconds."""
        with self._cv:
            if not self._has:
                self._cv.wait(timeout)
            if not self._has:
                return None
            item, self._item, self._has = self._item, None, False
            self._in_work = True  # set with the take, under the lock: wait_idle cannot miss it
            self._cv.notify_all()
            return item

    def done(self) -> None:
        """The taker finished the item it took last."""
        with self._cv:
            self._in_work = False
            self._cv.notify_all()

    def wait_idle(self, stop: threading.Event | None = None) -> None:
        """Wait until no item is waiting or in work (or the slot closed, or ``stop`` is set)."""
        with self._cv:
            while (self._has or self._in_work) and not self.closed and not (stop is not None and stop.is_set()):
                self._cv.wait(0.05)

    def clear(self) -> None:
        """Throw away a waiting item (not counted as dropped: e.g. after a seek)."""
        with self._cv:
            self._item, self._has = None, False
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self.closed = True
            self._cv.notify_all()


@dataclass(frozen=True)
class Captured:
    """A frame as captured: ``wall`` is ``time.monotonic()`` when it was read (seconds)."""

    frame: Frame
    epoch: int
    wall: float


@dataclass(frozen=True)
class Processed:
    """A processed frame: the record, the image it came from, and timing.

    ``captured_wall``/``done_wall``: ``time.monotonic()`` seconds when read and when processed.
    """

    result: FrameResult
    image: np.ndarray
    epoch: int
    captured_wall: float
    done_wall: float
    extra: Any = None


@dataclass(frozen=True)
class PlayerNotice:
    """Something the UI should know: ``kind`` is "ended", "error", "playing" or "paused"."""

    kind: str
    message: str = ""
    epoch: int = 0  # the source epoch it belongs to (see Player.source_epoch)


class Player:
    """Plays one source through one pipeline. Controls may be called from any thread.

    Args:
        pipeline: anything with ``process(Frame) -> FrameResult``, ``reset()`` and ``set_target(roi)``.
        lossless: process every frame (capture waits) instead of keeping real-time pace.
    """

    def __init__(self, pipeline: Any, lossless: bool = False) -> None:
        self.pipeline = pipeline
        self.lossless = lossless
        self.results: queue.Queue[Processed] = queue.Queue()
        self.notices: queue.Queue[PlayerNotice] = queue.Queue()
        self.source: Source | None = None
        self._slot: LatestSlot[Captured] = LatestSlot(lossless)
        self._lock = threading.Condition()
        self._cmds: list[tuple[str, Any]] = []
        self._pipe_cmds: queue.Queue[Callable[[Any], None]] = queue.Queue()
        self._playing = False
        self._speed = 1.0
        self._epoch = 0
        self._source_epoch = 0
        self._stop = threading.Event()
        self._cap_thread: threading.Thread | None = None
        self._proc_thread = threading.Thread(target=self._process_loop, name="auepa-process", daemon=True)
        self._proc_thread.start()
        self.last_index = 0  # 1-based index of the newest frame read
        self.stop_at: int | None = None  # files: pause by itself after reading this frame
        #: optional ``fn(pipeline, result) -> extra`` run in the processing thread after each frame
        #: (e.g. the regressor's per-region weights, which touch the scorer's model).
        self.post_process: Callable[[Any, FrameResult], Any] | None = None

    # -- controls ---------------------------------------------------------------------------
    def open(self, source: Source, play: bool = True) -> None:
        """Play ``source`` (the player owns it and closes it); stops the previous one."""
        self._stop_capture()
        self._slot.clear()
        with self._lock:
            self._cmds.clear()
            self._epoch += 1
            self._source_epoch = self._epoch
            self._playing = play
        self.source = source
        self.last_index = 0
        self._cap_stop = threading.Event()
        self._cap_thread = threading.Thread(target=self._capture_loop,
                                            args=(source, self._cap_stop, self._source_epoch),
                                            name="auepa-capture", daemon=True)
        self._cap_thread.start()

    def stop(self) -> None:
        """Stop and close the current source, if any; results still on their way are of an old epoch."""
        self._stop_capture()
        self._slot.clear()
        with self._lock:
            self._cmds.clear()
            self._epoch += 1
            self._source_epoch = self._epoch
            self._playing = False

    @property
    def epoch(self) -> int:
        """Grows with every open and seek; results of an older source carry a smaller one."""
        return self._epoch

    @property
    def source_epoch(self) -> int:
        """The epoch the current source was opened with (its results never carry less)."""
        return self._source_epoch

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def dropped(self) -> int:
        """Frames captured but replaced by a newer one before processing."""
        return self._slot.dropped

    def play(self) -> None:
        self._command("play")

    def pause(self) -> None:
        self._command("pause")

    def seek(self, index: int) -> None:
        """Jump to 1-based frame ``index`` (files only); the frame is shown even when paused."""
        self._command("seek", int(index))

    def step(self, delta: int) -> None:
        """Pause and move ``delta`` frames (+1 next, -1 previous)."""
        self._command("step", int(delta))

    def set_speed(self, speed: float) -> None:
        """Playback speed of files, 0.25x-4x (kept across sources)."""
        self._speed = min(4.0, max(0.25, float(speed)))
        self._command("speed", self._speed)  # the capture loop re-anchors its clock

    def set_target(self, roi: tuple[float, float, float, float] | None) -> None:
        """Target face by region (frame pixels); applied in the processing thread before the next frame."""
        self._pipe_cmds.put(lambda p: p.set_target(roi))

    def call_in_worker(self, fn: Callable[[Any], None]) -> None:
        """Run ``fn(pipeline)`` in the processing thread before the next frame (e.g. swap the scorer)."""
        self._pipe_cmds.put(fn)

    def close(self) -> None:
        """Stop and join both threads; closes the source (not the pipeline)."""
        self._stop_capture()
        self._stop.set()
        self._slot.close()
        self._proc_thread.join(timeout=10)

    # -- internals --------------------------------------------------------------------------
    def _command(self, name: str, arg: Any = None) -> None:
        with self._lock:
            self._cmds.append((name, arg))
            self._lock.notify_all()

    def _stop_capture(self) -> None:
        src, self.source = self.source, None
        if self._cap_thread is not None:
            self._cap_stop.set()
            with self._lock:
                self._lock.notify_all()
            self._cap_thread.join(timeout=0.5)
            if self._cap_thread.is_alive() and src is not None:
                # Blocked in a live read() (a hung or lost camera): closing the source is what
                # unblocks it. Files never get here, so no decoder is released under a running read.
                src.close()
                src = None
            self._cap_thread.join(timeout=10)
            self._cap_thread = None
        if src is not None:
            src.close()

    def _emit(self, frame: Frame, epoch: int, stop: threading.Event) -> None:
        self.last_index = frame.index
        self._slot.put(Captured(frame, epoch, time.monotonic()), stop)

    def _capture_loop(self, src: Source, stop: threading.Event, src_epoch: int) -> None:
        def note(kind: str, message: str = "") -> None:
            self.notices.put(PlayerNotice(kind, message, src_epoch))

        anchor: tuple[float, float] | None = None  # (wall, source time) that pacing counts from
        at_end = False
        try:
            while not stop.is_set():
                with self._lock:
                    cmds, self._cmds = self._cmds, []
                    epoch = self._epoch
                single: int | None = None  # a frame to read once (seek/step while paused)
                # While a slider is dragged many seeks queue up: only the newest one matters.
                last_seek = max((i for i, (n, _) in enumerate(cmds) if n == "seek"), default=-1)
                cmds = [c for i, c in enumerate(cmds) if c[0] != "seek" or i == last_seek]
                for name, arg in cmds:
                    if name == "play":
                        if at_end and not src.live:
                            src.seek(1)
                            with self._lock:
                                self._epoch += 1
                            at_end = False
                        self._playing, anchor = True, None
                        note("playing")
                    elif name == "pause":
                        self._playing = False
                        note("paused")
                    elif name == "speed":
                        anchor = None
                    elif name in ("seek", "step") and not src.live:
                        target = arg if name == "seek" else max(1, (self.last_index or 1) + arg)
                        if src.frame_count:
                            target = min(target, src.frame_count)
                        if name == "step" and self._playing:
                            self._playing = False
                            note("paused")
                        # Stepping forward reads on without a seek: no reset, smoothing continues.
                        if not (name == "step" and arg == 1 and getattr(src, "position", -1) == target):
                            src.seek(target)
                            self._slot.clear()
                            with self._lock:
                                self._epoch += 1
                        at_end, anchor = False, None
                        single = target
                    epoch = self._epoch
                if self._playing or single is not None:
                    frame = src.read()
                    if frame is None:
                        if src.live:
                            raise AuepaError(f"{src.name}: stopped delivering frames")
                        self._playing, at_end = False, True
                        # Notices after the results of every frame read: the last frame's result
                        # is in ``results`` before "ended" is in ``notices`` (Monitor relies on it).
                        self._slot.wait_idle(stop)
                        if src.incomplete:  # ended before the length the file announced
                            note("error", src.incomplete)
                        note("ended", f"end of {src.name}")
                        continue
                    if self._playing and not src.live and not self.lossless:
                        if anchor is None:
                            anchor = (time.monotonic(), frame.timestamp)
                        due = anchor[0] + (frame.timestamp - anchor[1]) / self._speed
                        with self._lock:
                            while not stop.is_set() and not self._cmds and time.monotonic() < due:
                                self._lock.wait(min(0.05, max(0.0, due - time.monotonic())))
                            interrupted = bool(self._cmds)
                        if interrupted:  # a command came while waiting: handle it, show this frame
                            self._emit(frame, epoch, stop)
                            continue
                    self._emit(frame, epoch, stop)
                    if self.stop_at is not None and frame.index >= self.stop_at and self._playing:
                        self._playing = False
                        note("paused", f"stopped at frame {frame.index}")
                else:
                    with self._lock:
                        if not self._cmds and not stop.is_set():
                            self._lock.wait(0.05)
        except AuepaError as e:
            self._playing = False
            note("error", str(e))
        except Exception as e:  # a decoder crash must not kill the program silently  # noqa: BLE001
            self._playing = False
            note("error", f"{src.name}: reading failed ({type(e).__name__}: {e})")

    def _run_pipe_cmds(self) -> None:
        while True:
            try:
                fn = self._pipe_cmds.get_nowait()
            except queue.Empty:
                return
            fn(self.pipeline)

    def _process_loop(self) -> None:
        last_epoch = -1
        while not self._stop.is_set():
            self._run_pipe_cmds()
            item = self._slot.get(0.05)
            if item is None:
                continue
            try:
                last_epoch = self._process_item(item, last_epoch)
            finally:
                self._slot.done()

    def _process_item(self, item: Captured, last_epoch: int) -> int:
        """Process one captured frame and put its result (or an error notice); returns its epoch."""
        # A command queued while we waited for this frame (e.g. an engine swap just before
        # ``open``) must apply to it: commands come before every frame captured after them.
        self._run_pipe_cmds()
        if item.epoch != last_epoch:
            self.pipeline.reset()
        try:
            result = self.pipeline.process(item.frame)
        except Exception as e:  # noqa: BLE001 - report, keep the worker alive
            self.notices.put(PlayerNotice("error", f"processing frame {item.frame.index} failed: {e}", item.epoch))
            return item.epoch
        extra = None
        post = self.post_process
        if post is not None:
            try:
                extra = post(self.pipeline, result)
            except Exception as e:  # noqa: BLE001 - an add-on must not stop the video
                extra = e
        self.results.put(Processed(result, item.frame.image, item.epoch, item.wall, time.monotonic(), extra))
        return item.epoch


class LatestWorker(Generic[T]):
    """Runs ``fn`` on the newest submitted input in its own thread and keeps the newest output.

    Used for Grad-CAM: it runs on its own schedule and never holds up the video. ``fn``
    exceptions are kept in ``error`` (one line) and the worker goes on.
    """

    def __init__(self, fn: Callable[[Any], T], name: str = "auepa-latest") -> None:
        self.fn = fn
        self._in: LatestSlot[Any] = LatestSlot()
        self._out_lock = threading.Lock()
        self._out: T | None = None
        self._new = False
        self.error = ""
        self.busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        self._in.put(item)

    def take(self) -> T | None:
        """The newest output not taken yet, or None."""
        with self._out_lock:
            if not self._new:
                return None
            self._new = False
            return self._out

    def close(self) -> None:
        self._stop.set()
        self._in.close()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            item = self._in.get(0.05)
            if item is None:
                continue
            self.busy = True
            try:
                out = self.fn(item)
            except Exception as e:  # noqa: BLE001
                self.error = f"{type(e).__name__}: {e}".splitlines()[0]
                self.busy = False
                continue
            self.busy = False
            self.error = ""
            with self._out_lock:
                self._out, self._new = out, True
