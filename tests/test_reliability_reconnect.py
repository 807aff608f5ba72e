"""Lost signal: a camera that stops delivering, hangs or disappears raises the technical alarm,
the session log keeps what was written, and the source reconnects by itself with back-off.

There is no webcam here, so the "camera" is a live source we can unplug and plug back in:
it plays the real frames of a sample video at camera pace. Everything downstream (the
reconnect wrapper, the pipeline, the CSV recorder and the event log) is the real code.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from auepa_monitor.core.errors import SourceError
from auepa_monitor.core.reconnect import ReconnectingSource, SignalState, SignalStatus
from auepa_monitor.core.sources import Frame, Source, VideoFileSource


class Plug:
    """The cable of the pretend camera: 'in', 'out' (unplugged) or 'frozen' (driver hangs)."""

    def __init__(self) -> None:
        self.state = "in"
        self.thawed = threading.Event()
        self.thawed.set()
        self.opens = 0
        self.cameras: list[LoopCamera] = []

    def unplug(self) -> None:
        self.state = "out"

    def freeze(self) -> None:
        self.thawed.clear()
        self.state = "frozen"

    def plug_in(self) -> None:
        self.state = "in"
        self.thawed.set()


class LoopCamera(Source):
    """A live source delivering a real video's frames, looped, at ``fps``, subject to a :class:`Plug`."""

    live = True

    def __init__(self, video: Path, plug: Plug, fps: float = 30.0) -> None:
        if plug.state == "out":
            raise SourceError("camera 0: not found or in use by another program")
        plug.opens += 1
        self._video = VideoFileSource(video)
        self.name, self.fps, self.size = "camera 0", fps, self._video.size
        self._plug = plug
        self._next_at = time.monotonic()
        self.closed = False
        plug.cameras.append(self)

    def read(self) -> Frame | None:
        if self._plug.state == "frozen":
            self._plug.thawed.wait()  # a hung driver: read() blocks
        if self._plug.state == "out":
            return None
        self._next_at += 1.0 / self.fps
        time.sleep(max(0.0, self._next_at - time.monotonic()))
        f = self._video.read()
        if f is None:
            self._video.seek(1)
            f = self._video.read()
        return f

    def close(self) -> None:
        self._video.close()
        self.closed = True


def wait_for(pred, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def video(faces_dir: Path) -> Path:
    return faces_dir / "default.wmv"


def test_first_open_failure_is_a_clear_error(video: Path) -> None:
    plug = Plug()
    plug.unplug()
    with pytest.raises(SourceError, match="camera 0: not found"):
        ReconnectingSource(lambda: LoopCamera(video, plug))


def test_bad_settings_rejected(video: Path) -> None:
    plug = Plug()
    with pytest.raises(ValueError, match="backoff_max"):
        ReconnectingSource(lambda: LoopCamera(video, plug), backoff_initial=5, backoff_max=1)


def test_unplugged_camera_alarms_backs_off_and_reconnects(video: Path) -> None:
    plug = Plug()
    seen: list[SignalStatus] = []
    # Unplugging is noticed at once (read() returns None); the stall timeout only guards a
    # hung driver, so it is generous here and a busy test machine causes no false loss.
    src = ReconnectingSource(lambda: LoopCamera(video, plug), stall_timeout=2.0, backoff_initial=0.1,
                             backoff_factor=2.0, backoff_max=0.4, on_status=seen.append)
    try:
        frames = [src.read(timeout=2.0) for _ in range(10)]
        assert all(f is not None for f in frames)
        assert wait_for(lambda: src.status.state is SignalState.LIVE)
        n_before = len(seen)
        plug.unplug()
        assert wait_for(lambda: src.status.alarm, timeout=3.0), src.status
        assert "signal lost" in src.status.message and "stopped delivering" in src.status.message
        # Let several reopen attempts fail: the delays must grow and stop at backoff_max.
        assert wait_for(lambda: src.status.attempt >= 5, timeout=5.0), src.status
        delays = [s.retry_in for s in seen[n_before:] if s.state is SignalState.LOST and s.attempt > 0]
        assert delays[:5] == pytest.approx([0.1, 0.2, 0.4, 0.4, 0.4])
        assert "not found" in src.status.message  # the reopen error is shown to the user
        assert src.status.lost_for > 0.5
        assert all(s.alarm for s in seen[n_before:])  # no false "live" while unplugged
        opens_while_out = plug.opens
        plug.plug_in()
        assert wait_for(lambda: src.status.state is SignalState.LIVE, timeout=3.0), src.status
        assert plug.opens == opens_while_out + 1
        st = src.status
        assert st.reconnects == 1 and not st.alarm and "reconnected" in st.message
        after = [src.read(timeout=2.0) for _ in range(8)]  # the first ones may be queued before the loss
        assert all(f is not None for f in after)
        # One session clock and numbering across the outage.
        idx = [f.index for f in frames + after]
        ts = [f.timestamp for f in frames + after]
        assert idx == sorted(idx) and len(set(idx)) == len(idx)
        assert ts == sorted(ts)
        assert max(b - a for a, b in zip(ts, ts[1:], strict=False)) > 0.5  # the outage is a gap in time
    finally:
        src.close()
    assert src.status.state is SignalState.CLOSED
    assert src.read(timeout=0.1) is None


def test_hung_driver_counts_as_lost_after_stall_timeout(video: Path) -> None:
    plug = Plug()
    src = ReconnectingSource(lambda: LoopCamera(video, plug), stall_timeout=1.0, backoff_initial=0.1,
                             backoff_max=0.2)
    try:
        assert src.read(timeout=2.0) is not None
        plug.freeze()
        t0 = time.monotonic()
        assert wait_for(lambda: src.status.alarm, timeout=3.0), src.status
        assert time.monotonic() - t0 >= 0.8
        assert "no frame for" in src.status.message
        assert wait_for(lambda: plug.opens >= 3, timeout=3.0)  # reopened although the old read() hangs
        plug.plug_in()
        assert wait_for(lambda: src.status.state is SignalState.LIVE, timeout=3.0), src.status
        assert src.read(timeout=2.0) is not None
    finally:
        plug.plug_in()
        src.close()


def test_close_while_the_driver_hangs(video: Path) -> None:
    plug = Plug()
    src = ReconnectingSource(lambda: LoopCamera(video, plug), stall_timeout=5.0)
    assert src.read(timeout=2.0) is not None
    plug.freeze()
    time.sleep(0.2)
    src.close()  # returns although read() hangs in the driver
    assert src.status.state is SignalState.CLOSED and src.read() is None
    assert not plug.cameras[0].closed  # never released under a thread that is inside read()
    plug.plug_in()
    assert wait_for(lambda: plug.cameras[0].closed, timeout=3.0)  # released once read() returned


def test_video_file_feed_disappears_and_returns(video: Path, tmp_path: Path) -> None:
    """A real VideoFileSource as the feed: the file goes away (reopen fails: 'no such file')
    and comes back. Its end also counts as a lost signal for a live feed, which reopens it."""
    feed = tmp_path / "feed.wmv"
    shutil.copy(video, feed)
    src = ReconnectingSource(lambda: VideoFileSource(feed), stall_timeout=1.0, backoff_initial=0.05,
                             backoff_max=0.2)
    try:
        assert src.read(timeout=2.0) is not None
        feed.rename(tmp_path / "away.wmv")
        # The open capture may still play to the end of the file; then the reopen fails.
        assert wait_for(lambda: src.status.alarm and "no such file" in src.status.message, timeout=30.0), \
            src.status
        (tmp_path / "away.wmv").rename(feed)
        assert wait_for(lambda: src.status.state is SignalState.LIVE and src.status.reconnects >= 1,
                        timeout=5.0), src.status
    finally:
        src.close()


@pytest.mark.slow
def test_session_log_survives_loss_and_records_after_reconnect(video: Path, tmp_path: Path) -> None:
    """The monitor's loop in miniature: pipeline + CSV recorder + event log around an outage."""
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.recorder import EventLog, FrameCsvWriter

    plug = Plug()
    events = EventLog(tmp_path / "events.jsonl")
    last_state: list[SignalState] = []

    def log_status(st: SignalStatus) -> None:
        if not last_state or st.state is not last_state[-1]:
            events.write("signal_" + st.state.value, message=st.message)
            last_state.append(st.state)

    src = ReconnectingSource(lambda: LoopCamera(video, plug, fps=15), stall_timeout=2.0, backoff_initial=0.1,
                             backoff_max=0.3, on_status=log_status)
    csv_path = tmp_path / "session.csv"
    writer = FrameCsvWriter(csv_path)
    pipe = Pipeline()
    rows_before = 0
    try:
        def record(n: int) -> int:
            got = 0
            while got < n:
                f = src.read(timeout=3.0)
                assert f is not None, src.status
                writer.write(pipe.process(f))
                got += 1
            return got

        rows_before = record(8)
        plug.unplug()
        assert wait_for(lambda: src.status.alarm, timeout=3.0)
        while (f := src.read(timeout=0)) is not None:  # frames captured just before the loss
            writer.write(pipe.process(f))
            rows_before += 1
        writer.maybe_sync(force=True)
        snapshot = csv_path.read_text()
        # While the alarm is on, nothing comes in and nothing already written changes.
        assert src.read(timeout=0.3) is None
        assert csv_path.read_text() == snapshot
        plug.plug_in()
        assert wait_for(lambda: src.status.state is SignalState.LIVE, timeout=3.0)
        record(5)
    finally:
        src.close()
        writer.close()
        pipe.close()
        events.close()
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == rows_before + 5
    assert csv_path.read_text().startswith(snapshot)
    frames = [int(r["frame"]) for r in rows]
    assert frames == sorted(frames)
    assert sum(r["success"] == "1" for r in rows) >= 10  # real faces were scored on both sides
    kinds = [json.loads(line)["event"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert kinds[:3] == ["signal_live", "signal_lost", "signal_live"] and kinds[-1] == "signal_closed"
