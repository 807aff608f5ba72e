"""A live source that notices a lost camera/stream and reopens it by itself, with back-off. No Qt.

Why: a bedside monitor must never stop silently. A camera can stop delivering (a USB hiccup,
a hung driver: ``read`` blocks or returns nothing) or disappear (unplugged: opening fails).
:class:`ReconnectingSource` wraps any :class:`~auepa_monitor.core.sources.Source` opener,
reads it on a background thread, and

* reports the *lost signal* state (the technical alarm) within ``stall_timeout`` seconds of
  the last frame, or at once when the source says it ended or raised;
* closes the dead source and reopens it with exponential back-off
  (``backoff_initial`` * ``backoff_factor`` ** n seconds, at most ``backoff_max``) until it
  delivers again, then reports LIVE again;
* renumbers frames and keeps one clock for the whole session, so the per-frame record and
  the log stay monotonic across reconnects (the outage shows as a gap in time).

Usage::

    src = ReconnectingSource(lambda: CameraSource(0), on_status=show_status)
    # Either as any Source: read() waits through outages and returns None only after close(),
    # so an existing capture loop keeps running and resumes by itself when the camera returns;
    # or polling, so the loop stays responsive during an outage:
    while running:
        frame = src.read(timeout=0.1)  # Frame, or None when no new frame came in time
        st = src.status                # SignalStatus: state, message, attempt, retry_in ...
        if st.alarm: ...               # show the technical alarm (signal lost)
    src.close()                        # makes a waiting read() return None at once

``on_status`` is called on the wrapper's supervisor thread with a :class:`SignalStatus` at
every state change and every failed reopen attempt; a Qt UI must hand it to the GUI thread
(e.g. through a queue or a queued signal) or poll :attr:`ReconnectingSource.status` from a
timer. After a reconnect the camera may come back at another size; the pipeline resets its
face tracking on a size change by itself.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AuepaError, SourceError
from .sources import Frame, Source


class SignalState(enum.Enum):
    """State of the wrapped source."""

    CONNECTING = "connecting"  # opened, no frame yet
    LIVE = "live"  # frames arrive
    LOST = "lost"  # no frame for stall_timeout s, or the source ended/failed: technical alarm
    CLOSED = "closed"  # close() was called


@dataclass(frozen=True)
class SignalStatus:
    """A snapshot of the source's state, for display and for the event log.

    Attributes:
        state: the current :class:`SignalState`.
        message: one line for the user (why the signal is lost, or that it came back).
        attempt: reopen attempts since the signal was lost (0 while live).
        retry_in: seconds until the next reopen attempt (0 when none is pending).
        lost_for: seconds since the last frame while LOST (0 otherwise).
        frames: frames delivered so far in this session (all connections together).
        reconnects: how many times the signal came back after a loss.
    """

    state: SignalState
    message: str = ""
    attempt: int = 0
    retry_in: float = 0.0
    lost_for: float = 0.0
    frames: int = 0
    reconnects: int = 0

    @property
    def alarm(self) -> bool:
        """True while the technical alarm must show (signal lost)."""
        return self.state is SignalState.LOST


class ReconnectingSource(Source):
    """Wraps a live source opener; see the module docstring.

    Args:
        opener: opens the underlying source (e.g. ``lambda: open_source(0)``); raises
            :class:`SourceError` (or another :class:`AuepaError`/``OSError``) when it cannot.
        name: shown in messages (default: the first source's name).
        stall_timeout: seconds without a frame after which the signal counts as lost.
        backoff_initial, backoff_factor, backoff_max: reopen delays in seconds:
            initial, initial*factor, ... capped at max.
        on_status: called with a :class:`SignalStatus` on every change (supervisor thread).
        clock: monotonic clock in seconds (frame timestamps are measured with it).

    The first open happens in the constructor, on the caller's thread, so a camera that is
    not there at all gives the user a :class:`SourceError` at once rather than an alarm.
    """

    live = True

    def __init__(self, opener: Callable[[], Source], name: str = "", stall_timeout: float = 3.0,
                 backoff_initial: float = 0.5, backoff_factor: float = 2.0, backoff_max: float = 10.0,
                 on_status: Callable[[SignalStatus], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if stall_timeout <= 0 or backoff_initial <= 0 or backoff_factor < 1 or backoff_max < backoff_initial:
            raise ValueError("stall_timeout and backoff_initial must be > 0, backoff_factor >= 1, "
                             "backoff_max >= backoff_initial")
        self._opener = opener
        self.stall_timeout = stall_timeout
        self.backoff_initial = backoff_initial
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self._on_status = on_status
        self._clock = clock
        first = opener()  # SourceError goes to the caller
        self.name = name or first.name
        self.fps = first.fps
        self.size = first.size
        self.frame_count = 0
        self._lock = threading.Lock()
        self._frames: queue.Queue[Frame] = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._t0 = clock()
        self._n = 0
        self._last_frame_at = self._t0  # last frame delivered (for lost_for)
        self._stall_from = self._t0  # last frame or (re)open of the current connection
        self._status = SignalStatus(SignalState.CONNECTING, f"{self.name}: connecting")
        self._supervisor = threading.Thread(target=self._supervise, args=(first,), name=f"reconnect {self.name}",
                                            daemon=True)
        self._supervisor.start()

    # -- consumer API -------------------------------------------------------------------
    @property
    def status(self) -> SignalStatus:
        """The current state (thread-safe snapshot); ``lost_for`` is computed now."""
        with self._lock:
            st = self._status
            if st.state is SignalState.LOST:
                st = _replace(st, lost_for=round(self._clock() - self._last_frame_at, 2), frames=self._n)
            else:
                st = _replace(st, frames=self._n)
        return st

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame.

        ``timeout=None`` (the :class:`Source` contract, what a plain capture loop calls): wait
        until a frame comes, across outages and reconnects; None only after :meth:`close`.
        ``timeout=seconds``: wait at most that long; None then means "no frame in time" (the
        signal may be lost: see :attr:`status`), not the end of the stream.
        """
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while not self._stop.is_set():
            wait = 0.1 if end is None else min(0.1, end - time.monotonic())
            try:
                return self._frames.get(timeout=max(0.0, wait))
            except queue.Empty:
                if end is not None and time.monotonic() >= end:
                    return None
        return None

    def close(self) -> None:
        """Stop reading and reconnecting; a waiting :meth:`read` returns None.

        The underlying source is closed as soon as its reader leaves ``read()`` (at once for a
        working source; a hung driver is released when its read returns).
        """
        if self._stop.is_set():
            return
        self._stop.set()
        self._supervisor.join(timeout=2.0)
        self._set(SignalStatus(SignalState.CLOSED, f"{self.name}: closed", reconnects=self._status.reconnects))

    # -- internals ----------------------------------------------------------------------
    def _set(self, st: SignalStatus) -> None:
        with self._lock:
            st = _replace(st, frames=self._n)
            self._status = st
        if self._on_status is not None:
            try:
                self._on_status(st)
            except Exception:  # noqa: BLE001 - a broken display callback must not stop reconnection
                pass

    def _push(self, f: Frame) -> None:
        now = self._clock()
        with self._lock:
            self._n += 1
            self._last_frame_at = self._stall_from = now
            frame = Frame(self._n, now - self._t0, f.image)
        while True:  # a live view wants the newest frame: drop the oldest when the consumer lags
            try:
                self._frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                except queue.Empty:
                    pass

    def _supervise(self, src: Source | None) -> None:
        """Run connections one after another until close(): read, detect the loss, reopen."""
        reconnects = 0
        delay = self.backoff_initial
        while not self._stop.is_set():
            assert src is not None
            why, delivered, reader = self._run_connection(src, reconnects)
            _close_when_done(src, reader)
            src = None
            if self._stop.is_set():
                return
            self._set(SignalStatus(SignalState.LOST, f"{self.name}: signal lost ({why})", reconnects=reconnects))
            attempt = 0
            if delivered:  # a source that opens but never delivers keeps its longer back-off
                delay = self.backoff_initial
            while src is None:
                attempt += 1
                self._set(SignalStatus(SignalState.LOST, f"{self.name}: signal lost ({why}); "
                                       f"reconnect attempt {attempt} in {delay:.1f} s", attempt=attempt,
                                       retry_in=delay, reconnects=reconnects))
                if self._stop.wait(delay):
                    return
                try:
                    src = self._opener()
                except (AuepaError, OSError) as e:
                    why = str(e).splitlines()[0] if str(e) else type(e).__name__
                except Exception as e:  # noqa: BLE001 - drivers raise anything; keep trying
                    why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                delay = min(self.backoff_max, delay * self.backoff_factor)
            reconnects += 1

    def _run_connection(self, src: Source, reconnects: int) -> tuple[str, bool, threading.Thread]:
        """Read ``src`` on a reader thread until it fails or stalls.

        Returns why it was lost, whether it delivered any frame, and the reader thread (which
        may still be inside a hung ``read()``).
        """
        ended = threading.Event()
        reason: list[str] = []
        got_first = threading.Event()

        def reader() -> None:
            try:
                while not self._stop.is_set() and not ended.is_set():
                    f = src.read()
                    if ended.is_set():  # this connection was given up while read() hung
                        return
                    if f is None:
                        reason.append("the source stopped delivering frames")
                        return
                    self._push(f)
                    got_first.set()
            except (AuepaError, OSError) as e:
                reason.append(str(e).splitlines()[0] if str(e) else type(e).__name__)
            except Exception as e:  # noqa: BLE001 - report any driver failure as a lost signal
                reason.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            finally:
                ended.set()

        t = threading.Thread(target=reader, name=f"reader {self.name}", daemon=True)
        with self._lock:
            self._stall_from = self._clock()  # the stall clock starts when the connection opens
        t.start()
        live_reported = False
        poll = min(0.05, self.stall_timeout / 4)
        while not self._stop.is_set():
            if ended.wait(poll):
                break
            if got_first.is_set() and not live_reported:
                msg = f"{self.name}: live" if reconnects == 0 else f"{self.name}: signal back (reconnected)"
                self._set(SignalStatus(SignalState.LIVE, msg, reconnects=reconnects))
                live_reported = True
            with self._lock:
                idle = self._clock() - self._stall_from
            if idle > self.stall_timeout:
                ended.set()  # the reader may be stuck inside read(); it exits when read() returns
                return f"no frame for {idle:.1f} s", got_first.is_set(), t
        ended.set()
        return (reason[0] if reason else "the source stopped delivering frames"), got_first.is_set(), t


def _replace(st: SignalStatus, **kw: object) -> SignalStatus:
    from dataclasses import replace

    return replace(st, **kw)


def _close_when_done(src: Source, reader: threading.Thread) -> None:
    """Close a given-up source once its reader has left ``read()``, on a side thread.

    Releasing a capture while another thread is inside its ``read()`` can crash native code,
    and a hung driver must not block reconnection; so the close waits for the reader, off the
    supervisor's thread. A read that never returns leaves that one handle open.
    """

    def close() -> None:
        reader.join()
        try:
            src.close()
        except Exception:  # noqa: BLE001 - the source is being discarded anyway
            pass

    threading.Thread(target=close, name="close lost source", daemon=True).start()


__all__ = ["ReconnectingSource", "SignalState", "SignalStatus", "SourceError"]
