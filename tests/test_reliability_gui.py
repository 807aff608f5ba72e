"""Reliability of the monitor window (offscreen): a camera that is unplugged and comes back
through :class:`ReconnectingSource` shows the technical alarm, keeps the session log and
resumes by itself; a GUI session killed with SIGKILL while recording leaves valid logs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("auepa_monitor.ui.main_window")
from PySide6.QtCore import QSettings  # noqa: E402
from test_reliability_reconnect import LoopCamera, Plug  # noqa: E402  (the pluggable camera)

from auepa_monitor.core.alerts import AlertConfig, Priority  # noqa: E402
from auepa_monitor.core.reconnect import ReconnectingSource, SignalState  # noqa: E402
from auepa_monitor.core.recorder import read_events, read_frame_csv  # noqa: E402

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(qtbot, tmp_path):
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.ui.main_window import MainWindow

    pipe = Pipeline()
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(pipe, s, sound=False, sessions_root=tmp_path / "sessions")
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    yield w
    w.shutdown()
    pipe.close()


@pytest.mark.slow
def test_window_alarms_on_lost_camera_and_recovers_by_itself(window, qtbot, faces_dir: Path) -> None:
    win = window
    win.set_alert_config(AlertConfig(stall_s=1.0))
    plug = Plug()
    src = ReconnectingSource(lambda: LoopCamera(faces_dir / "default.wmv", plug, fps=15), name="camera 0",
                             stall_timeout=1.5, backoff_initial=0.1, backoff_max=0.4)
    win.start_source(src, "camera 0")
    qtbot.waitUntil(lambda: win.frames_shown >= 8, timeout=30000)
    assert win.banner.priority == Priority.NONE
    session = win.monitor.session.path
    plug.unplug()
    # The technical alarm shows in the window while the camera is away.
    qtbot.waitUntil(lambda: win.banner.priority == Priority.LOW, timeout=10000)
    assert "no frames" in win.banner.text().lower()
    qtbot.waitUntil(lambda: src.status.alarm and src.status.attempt >= 2, timeout=10000)
    win.monitor.session.flush()
    rows_lost = read_frame_csv(session / "frames.csv")
    before = (session / "frames.csv").read_bytes()
    shown = win.frames_shown
    plug.plug_in()
    # Back by itself: frames flow again, the alarm clears, nothing was lost from the log.
    qtbot.waitUntil(lambda: win.frames_shown >= shown + 8, timeout=30000)
    qtbot.waitUntil(lambda: win.banner.priority == Priority.NONE, timeout=10000)
    assert src.status.state is SignalState.LIVE and src.status.reconnects == 1
    win.shutdown()
    assert (session / "frames.csv").read_bytes().startswith(before)
    rows = read_frame_csv(session / "frames.csv")
    assert len(rows) > len(rows_lost) >= 8
    frames = [int(r["frame"]) for r in rows]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)
    alerts = [(e.get("kind"), e.get("alarm")) for e in read_events(session / "events.jsonl")
              if e["event"] == "alert"]
    assert ("raised", "no_frames") in alerts and ("cleared", "no_frames") in alerts
    assert alerts.index(("raised", "no_frames")) < alerts.index(("cleared", "no_frames"))


def _start_monitor(faces_dir: Path, sessions: Path, tmp_path: Path, stderr) -> subprocess.Popen:
    """The monitor window (offscreen) recording a session of a sample video, as a real process."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen([sys.executable, "-m", "auepa_monitor", "--source", str(faces_dir / "2015-10-15-15-14.avi"),
                             "--session-dir", str(sessions), "--settings", str(tmp_path / "s.ini"), "--mute"],
                            stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO, env=env)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_sigkill_of_a_recording_gui_session_leaves_valid_logs(faces_dir: Path, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    p = _start_monitor(faces_dir, sessions, tmp_path, subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        csv_path = None
        history: list[tuple[float, int]] = []  # (time, complete rows seen on disk)
        while True:
            assert p.poll() is None, "the monitor exited before it could be killed"
            assert time.monotonic() < deadline, "the monitor recorded nothing"
            found = list(sessions.glob("*/frames.csv"))
            if found:
                csv_path = found[0]
                history.append((time.monotonic(), len(read_frame_csv(csv_path))))
                if history[-1][1] >= 40 and history[-1][0] - history[0][0] >= 2.0:
                    break
            time.sleep(0.2)
        t_kill = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL
    assert csv_path is not None
    assert csv_path.read_bytes().endswith(b"\n")
    rows = read_frame_csv(csv_path)  # header intact, whole lines
    seen_1s_before = max(n for t, n in history if t <= t_kill - 1.0)
    assert len(rows) >= history[-1][1] >= seen_1s_before
    frames = [int(r["frame"]) for r in rows]
    assert frames == sorted(frames)
    events_path = csv_path.parent / "events.jsonl"
    assert events_path.read_bytes().endswith(b"\n")
    events = read_events(events_path)
    assert events[0]["event"] == "session_started"
    assert "session_ended" not in [e["event"] for e in events]  # it was killed, not closed


@pytest.mark.slow
def test_sigterm_closes_a_recording_gui_session_with_its_end_event(faces_dir: Path, tmp_path: Path) -> None:
    """A logout or service stop sends SIGTERM: the session is closed as by the window's close button."""
    sessions = tmp_path / "sessions"
    p = _start_monitor(faces_dir, sessions, tmp_path, subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not any(len(read_frame_csv(c)) >= 20 for c in sessions.glob("*/frames.csv")):
            assert p.poll() is None, "the monitor exited before it could be stopped"
            assert time.monotonic() < deadline, "the monitor recorded nothing"
            time.sleep(0.2)
        os.kill(p.pid, signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "SIGTERM: closing the session" in err.decode()
    events = read_events(next(sessions.glob("*/events.jsonl")))
    assert events[0]["event"] == "session_started" and events[-1]["event"] == "session_ended"


@pytest.mark.slow
def test_switching_source_during_an_outage_leaves_no_stale_alarm(window, qtbot, faces_dir: Path) -> None:
    win = window
    plug = Plug()
    src = ReconnectingSource(lambda: LoopCamera(faces_dir / "default.wmv", plug), name="camera 0",
                             stall_timeout=1.0, backoff_initial=0.1, backoff_max=0.5)
    win.start_source(src, "camera 0")
    qtbot.waitUntil(lambda: win.frames_shown >= 5, timeout=30000)
    plug.unplug()
    qtbot.waitUntil(lambda: src.status.alarm, timeout=10000)
    assert win.open_source(str(faces_dir / "default.wmv"))
    qtbot.waitUntil(lambda: win.current is not None and win.current.result.frame >= 20, timeout=30000)
    qtbot.wait(500)
    assert "source_error" not in win.monitor.alerts.active_alarms(), win.last_error
