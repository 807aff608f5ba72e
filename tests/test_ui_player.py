"""The Qt-free playback engine: newest-frame slot, pacing and drops, seeks and steps, stop/join."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from auepa_monitor.core.player import LatestSlot, LatestWorker, Player
from auepa_monitor.core.records import FrameResult
from auepa_monitor.core.sources import Frame, Source


class CountingPipeline:
    """A real, deliberately slow per-frame stage: records what it saw (frame numbers, resets)."""

    def __init__(self, ms: float = 0.0) -> None:
        self.ms = ms
        self.seen: list[int] = []
        self.resets = 0
        self.target = None

    def process(self, f: Frame) -> FrameResult:
        time.sleep(self.ms / 1000)
        self.seen.append(f.index)
        return FrameResult(frame=f.index, timestamp=f.timestamp, faces_seen=0, face=None, size=(8, 6))

    def reset(self) -> None:
        self.resets += 1

    def set_target(self, roi) -> None:
        self.target = roi


class ArraySource(Source):
    """A file-like source of ``n`` tiny frames at ``fps`` (seekable)."""

    def __init__(self, n: int = 60, fps: float = 100.0) -> None:
        self.n, self.fps, self.frame_count, self.name = n, fps, n, "array"
        self.size = (8, 6)
        self._next = 1

    @property
    def position(self) -> int:
        return self._next

    def read(self):
        if self._next > self.n:
            return None
        f = Frame(self._next, (self._next - 1) / self.fps, np.full((6, 8, 3), self._next % 255, np.uint8))
        self._next += 1
        return f

    def seek(self, index: int) -> None:
        self._next = min(max(1, index), self.n)


@pytest.fixture
def player_factory():
    made = []
    before = set(threading.enumerate())  # threads other test modules left are not this test's business

    def make(pipe, **kw):
        p = Player(pipe, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
    ours = [t for t in threading.enumerate() if t not in before and t.name.startswith("auepa-")]
    for t in ours:
        t.join(timeout=2.0)
    assert not any(t.is_alive() for t in ours), [t.name for t in ours if t.is_alive()]


def drain(pl, timeout=5.0, until=None):
    out, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            out.append(pl.results.get(timeout=0.05))
        except Exception:  # noqa: BLE001 - queue.Empty
            pass
        if until is not None and until(out):
            break
    return out


def test_slot_keeps_newest_and_counts_drops():
    s = LatestSlot()
    for i in range(5):
        s.put(i)
    assert s.get() == 4 and s.dropped == 4 and s.get(0.01) is None


def test_lossless_processes_every_frame_in_order(player_factory):
    pipe = CountingPipeline(ms=2)
    pl = player_factory(pipe, lossless=True)
    pl.open(ArraySource(40))
    # "ended" comes after the last frame's result: when it is there, all 40 results are too.
    kinds = []
    while "ended" not in kinds:
        kinds.append(pl.notices.get(timeout=30).kind)
    res = [pl.results.get_nowait() for _ in range(pl.results.qsize())]
    assert [r.result.frame for r in res] == list(range(1, 41)) and pl.dropped == 0


def test_slow_processing_skips_frames_but_keeps_pace(player_factory):
    pipe = CountingPipeline(ms=30)  # source at 100 fps, processing ~33 fps
    pl = player_factory(pipe)
    pl.open(ArraySource(60, fps=100.0))
    res = drain(pl, until=lambda o: o and o[-1].result.frame >= 58)
    frames = [r.result.frame for r in res]
    # It skipped frames (counted) and reached the end, rather than working through a backlog.
    assert frames == sorted(frames) and frames[-1] >= 58 and pl.dropped > 10
    assert len(frames) + pl.dropped <= 60 and pl.results.empty()


def test_speed_changes_pace(player_factory):
    pipe = CountingPipeline(ms=20)
    pl = player_factory(pipe)
    pl.set_speed(10.0)  # clamped to 4x
    pl.open(ArraySource(60, fps=50.0))
    res = drain(pl, until=lambda o: o and o[-1].result.frame >= 58)
    assert pl.speed == 4.0 and res[-1].result.frame >= 58 and pl.dropped > 0  # 200 fps asked, ~50 processed


def test_seek_step_and_reset(player_factory):
    pipe = CountingPipeline()
    pl = player_factory(pipe)
    pl.open(ArraySource(60, fps=30.0), play=False)
    pl.seek(30)
    assert [r.result.frame for r in drain(pl, until=lambda o: len(o) >= 1)] == [30]
    resets = pipe.resets
    pl.step(1)
    assert [r.result.frame for r in drain(pl, until=lambda o: len(o) >= 1)] == [31]
    assert pipe.resets == resets  # stepping forward continues the temporal state
    pl.step(-1)
    assert [r.result.frame for r in drain(pl, until=lambda o: len(o) >= 1)] == [30]
    assert pipe.resets == resets + 1  # stepping back is a seek: state restarts
    pl.set_target((1.0, 2.0, 3.0, 4.0))
    pl.seek(10)
    drain(pl, until=lambda o: len(o) >= 1)
    assert pipe.target == (1.0, 2.0, 3.0, 4.0)


def test_live_source_failure_is_reported(player_factory):
    class Dying(ArraySource):
        live = True

    pl = player_factory(CountingPipeline())
    pl.open(Dying(5))
    end = time.monotonic() + 5
    kinds = []
    while time.monotonic() < end and "error" not in kinds:
        try:
            n = pl.notices.get(timeout=0.1)
            kinds.append(n.kind)
        except Exception:  # noqa: BLE001
            pass
    assert "error" in kinds


def test_latest_worker_runs_on_newest():
    seen = []
    w = LatestWorker(lambda x: (time.sleep(0.05), seen.append(x), x * 2)[-1])
    try:
        for i in range(10):
            w.submit(i)
        end = time.monotonic() + 3
        out = None
        while time.monotonic() < end and out != 18:
            out = w.take() or out
            time.sleep(0.01)
        assert out == 18 and len(seen) < 10  # older inputs were skipped
    finally:
        w.close()
