"""Crash safety: a program killed with SIGKILL while it records leaves a per-frame CSV and an
event log that are valid up to the moment of the kill (whole lines, header intact).

The writers send each line to the OS in one ``write`` call as soon as it is complete, so a
kill loses nothing already written; we check it against what the program reported just
before it was killed (its progress bar, its stdout).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from auepa_monitor.core.recorder import (
    FRAME_COLUMNS,
    EventLog,
    FrameCsvWriter,
    complete_lines,
    read_events,
    read_frame_csv,
)

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")


class LineTimes:
    """Reads a pipe on a thread and keeps (monotonic time, text chunk) pairs."""

    def __init__(self, stream) -> None:
        self.chunks: list[tuple[float, str]] = []
        self._t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._t.start()

    def _run(self, stream) -> None:
        for chunk in iter(lambda: stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096), b""):
            self.chunks.append((time.monotonic(), chunk.decode("utf-8", "replace")))

    def join(self) -> None:
        self._t.join(timeout=10)


def progress_before(chunks: list[tuple[float, str]], t: float) -> int:
    """The last frame count tqdm printed before time ``t`` (0 when none)."""
    n = 0
    for when, text in chunks:
        if when > t:
            break
        for m in re.finditer(r"(\d+)/(\d+) \[", text):
            n = int(m.group(1))
    return n


@pytest.mark.slow
def test_sigkill_during_analyze_leaves_a_valid_csv(faces_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    video = faces_dir / "2015-10-15-15-14.avi"  # 842 frames: far longer than we let it run
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    p = subprocess.Popen([sys.executable, "-m", "auepa_monitor", "analyze", str(video), "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=env)
    err = LineTimes(p.stderr)
    # Rows in progress are the partial result; "<stem>.csv" only ever holds a complete run (issue 12).
    csv_path = out / (video.stem + ".partial.csv")
    try:
        deadline = time.monotonic() + 180
        # Let it record for a while: at least 40 frames reported and 2 s of recording.
        while progress_before(err.chunks, time.monotonic()) < 40:
            assert p.poll() is None, "analyze ended before it could be killed"
            assert time.monotonic() < deadline, "analyze made no progress"
            time.sleep(0.1)
        time.sleep(2.0)
        assert p.poll() is None
        t_kill = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err.join()
    assert p.returncode == -signal.SIGKILL
    reported_1s_before = progress_before(err.chunks, t_kill - 1.0)
    reported_at_kill = progress_before(err.chunks, t_kill)
    data = csv_path.read_bytes()
    assert data.endswith(b"\n"), "the writer must leave whole lines only"
    rows = read_frame_csv(csv_path)  # header intact, every line has every cell
    assert len(rows) >= reported_at_kill >= reported_1s_before > 0
    assert [int(r["frame"]) for r in rows] == list(range(1, len(rows) + 1))
    assert len(rows) < 842 and not (out / (video.stem + ".summary.json")).exists()
    assert not (out / (video.stem + ".csv")).exists()
    assert sum(r["success"] == "1" for r in rows) >= 0.8 * len(rows)


_EVENT_WRITER = """
import sys, time
from auepa_monitor.core.recorder import EventLog
log = EventLog(sys.argv[1])
i = 0
while True:
    i += 1
    log.write("tick", n=i, note="x" * (i % 200))
    print(i, flush=True)
    time.sleep(0.002)
"""


def test_sigkill_while_logging_events_leaves_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    p = subprocess.Popen([sys.executable, "-c", _EVENT_WRITER, str(path)], stdout=subprocess.PIPE, cwd=REPO)
    printed = 0
    try:
        for line in p.stdout:
            printed = int(line)
            if printed >= 300:
                break
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    events = read_events(path)
    assert path.read_bytes().endswith(b"\n")
    assert [e["n"] for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= printed  # everything the process said it wrote is there
    assert all(e["event"] == "tick" and "time" in e for e in events)


def test_partial_last_line_is_dropped_by_readers_and_repaired_on_reopen(tmp_path: Path) -> None:
    """If a line was ever cut (kernel stopped inside write), readers drop it and appending repairs it."""
    from auepa_monitor.core.records import FrameResult

    csv_path = tmp_path / "frames.csv"
    w = FrameCsvWriter(csv_path)
    for i in range(1, 4):
        w.write(FrameResult(frame=i, timestamp=i / 30, faces_seen=0, face=None, au_engine="embedded",
                            model_name="prior", size=(640, 480), latency_ms=1.0))
    w.close()
    with csv_path.open("ab") as fh:
        fh.write(b"4,0.133,0.00,0")  # a cut line
    assert len(read_frame_csv(csv_path)) == 3
    w = FrameCsvWriter(csv_path)  # reopening for appending cuts the partial tail first
    w.write(FrameResult(frame=4, timestamp=4 / 30, faces_seen=0, face=None, au_engine="embedded",
                        model_name="prior", size=(640, 480), latency_ms=1.0))
    w.close()
    rows = read_frame_csv(csv_path)
    assert [r["frame"] for r in rows] == ["1", "2", "3", "4"]
    assert complete_lines(csv_path)[0].split(",") == list(FRAME_COLUMNS)

    log = tmp_path / "events.jsonl"
    log.write_bytes(b'{"event": "a"}\n{"event": "b", "n"')
    assert [e["event"] for e in read_events(log)] == ["a"]
    ev = EventLog(log)
    ev.write("c")
    ev.close()
    assert [e["event"] for e in read_events(log)] == ["a", "c"]
    # A header cut before its newline leaves an empty file: the writer writes the header again.
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"frame,timestamp,conf")
    FrameCsvWriter(cut).close()
    assert read_frame_csv(cut) == []
