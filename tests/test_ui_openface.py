"""The monitor window with ``--au-engine openface``, offscreen (pytest-qt), real videos, real pipeline.

No real OpenFace exists on the test machines: FeatureExtraction is played by the stand-in
executable (tests/fixtures/fake_feature_extraction.py), started as a real subprocess, which
replays OpenFace 2.2's real output for the sample video (``openface_ref/default.csv``). So
these tests check the window's handling of the engine (the background run, progress, the
swap per file, the fallback, the live refusal, what the UI, the session CSV and the sidecar
say); the values equal OpenFace's real ones because the replayed CSV is OpenFace's own.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from conftest import make_openface_install  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from auepa_monitor.core.alerts import AlertConfig, Priority  # noqa: E402
from auepa_monitor.core.openface import BIN_ENV, LIVE_REFUSAL  # noqa: E402
from auepa_monitor.core.openface_csv import read_openface_csv  # noqa: E402
from auepa_monitor.core.records import REPORTED_AUS, au_column  # noqa: E402
from auepa_monitor.core.sources import VideoFileSource  # noqa: E402

pytestmark = [pytest.mark.gui,
              pytest.mark.skipif(sys.platform == "win32", reason="the stand-in is started through a POSIX shell wrapper")]
REPO = Path(__file__).resolve().parent.parent
OPENFACE_AUS = [a for a in REPORTED_AUS if a not in (27, 43)]  # 27 and 43 come from OpenFace's landmarks


@pytest.fixture
def install(tmp_path, monkeypatch, openface_ref_dir):
    """The stand-in FeatureExtraction replaying OpenFace's real default.csv; a fresh, empty result cache."""
    exe = make_openface_install(tmp_path / "openface")
    monkeypatch.delenv(BIN_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # platformdirs: no run is served from a cache
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "default.csv"))
    monkeypatch.setenv("FAKE_OF_MODE", "ok")
    return exe




def wait_frame(qtbot, win, cond, timeout=60000):
    qtbot.waitUntil(lambda: win.current is not None and cond(win.current.result), timeout=timeout)


def session_rows(win, qtbot) -> list[dict[str, str]]:
    win.pause()
    qtbot.wait(1200)  # the session files are flushed every second
    with open(win.monitor.session.path / "frames.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def assert_rows_equal_reference(rows, ref) -> int:
    """Every row with a face has OpenFace's AU values of its frame (CSV cells are rounded to 2 decimals)."""
    checked = 0
    for row in rows:
        assert row["au_engine"] == "openface", row["frame"]
        if row["success"] != "1":
            continue
        i = ref.row_of(int(row["frame"]))
        for au in OPENFACE_AUS:
            assert float(row[au_column(au)]) == pytest.approx(min(5.0, max(0.0, float(ref.aus[au][i]))), abs=0.006), \
                (row["frame"], au)
        checked += 1
    return checked


class _LiveVideo(VideoFileSource):
    """A real video that presents itself as a live feed (there is no camera on the test machines)."""

    live = True
    frame_count = 0

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.name, self.frame_count = "camera 0", 0


@pytest.mark.slow
def test_file_with_openface_waits_for_it_then_plays_its_values(make_window, qtbot, install, faces_dir,
                                                                openface_ref_dir, monkeypatch, tmp_path):
    ref = read_openface_csv(openface_ref_dir / "default.csv")
    win = make_window(au_engine="openface", openface_bin=str(install))
    assert win.engines.choice == "openface"
    assert win.open_source(str(faces_dir / "default.wmv"))
    # Nothing plays while OpenFace runs: its progress is shown, with a Cancel.
    assert win.monitor.of_job is not None and win.player.source is None and win.current is None
    assert "Running OpenFace on default.wmv" in win.statusBar().currentMessage()
    assert win.cancel_button.isVisible()
    job = win.monitor.of_job
    wait_frame(qtbot, win, lambda r: r.frame >= 12 and r.success)
    assert not win.cancel_button.isVisible()
    assert job.progress[1] == 288 and job.progress[0] > 0  # OpenFace's progress reached the window
    r = win.current.result
    assert r.au_engine == "openface" and win.monitor.engine_in_use == "openface"
    assert win.engine_label.text().startswith("AU engine: OpenFace 2.2")
    i = ref.row_of(r.frame)
    for au in OPENFACE_AUS:
        assert r.au[au] == pytest.approx(min(5.0, max(0.0, float(ref.aus[au][i]))), abs=1e-9), au
    assert win.pipeline.au_engine.source == faces_dir / "default.wmv"
    rows = session_rows(win, qtbot)
    assert len(rows) >= 10 and assert_rows_equal_reference(rows, ref) >= 10
    info = json.loads((win.monitor.session.path / "session.json").read_text())
    assert info["au_engine"] == "openface"
    events = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()]
    run = [e for e in events if e["event"] == "openface"]
    assert len(run) == 1 and not run[0]["from_cache"] and Path(run[0]["csv"]).name.endswith(".csv")
    png, _, side = win.save_screenshot(tmp_path / "shot.png")
    meta = json.loads(side.read_text())
    assert meta["model"]["au_engine"] == "openface" and meta["model"]["au_engine_note"] == ""
    shown = win.current.result
    assert meta["scores"]["au"]["AU12"] == pytest.approx(round(float(ref.aus[12][ref.row_of(shown.frame)]), 3),
                                                         abs=1e-6)

    # A second file gets its own OpenFace run (not the first file's values).
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "multi_face.csv"))
    ref2 = read_openface_csv(openface_ref_dir / "multi_face.csv")
    assert win.open_source(str(faces_dir / "multi_face.avi"))
    assert win.current is None and win.player.source is None
    wait_frame(qtbot, win, lambda r: r.frame >= 5)
    assert win.pipeline.au_engine.source == faces_dir / "multi_face.avi"
    r = win.current.result
    assert r.au_engine == "openface" and "multi_face" in win.monitor.session.path.name
    if r.success:
        i = ref2.row_of(r.frame)
        assert r.au[12] == pytest.approx(min(5.0, max(0.0, float(ref2.aus[12][i]))), abs=1e-9)
    else:
        # Not scored: OpenFace had no values for the target (said, not guessed), or our tracker
        # judged the frame too poor to score (turned, occluded): either way the reason is given.
        assert r.reason and not r.au and (r.reason != "au_missing" or r.au_missing)

    # Choosing the embedded engine in the window reopens the file with it, and is remembered.
    win.set_au_engine("embedded")
    assert win.monitor.of_job is None
    wait_frame(qtbot, win, lambda r: r.au_engine == "embedded" and r.frame >= 3)
    assert win.engine_label.text().startswith("AU engine: embedded")
    assert win.settings.value("engine/au") == "embedded"


@pytest.mark.slow
def test_live_source_with_openface_keeps_embedded_engine_and_says_why(make_window, qtbot, install, faces_dir):
    win = make_window(au_engine="openface", openface_bin=str(install))
    win.begin_source(_LiveVideo(faces_dir / "default.wmv"), "camera 0")
    assert win.monitor.of_job is None  # OpenFace is not started for a live source
    assert win.monitor.engine_in_use == "embedded" and LIVE_REFUSAL in win.engine_label.toolTip()
    assert "OpenFace not used for camera 0" in win.statusBar().currentMessage()
    wait_frame(qtbot, win, lambda r: r.frame >= 3)
    assert win.current.result.au_engine == "embedded"
    assert win.engine_label.text() == "AU engine: embedded (OpenFace not used: live source)"
    assert win.last_error == "" and win.isVisible()
    events = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()]
    assert any(LIVE_REFUSAL in json.dumps(e) for e in events)
    # A camera index that does not exist: the usual one-line message, no crash, no OpenFace run.
    assert not win.open_source(7)
    assert win.last_error == "camera 7: not found or in use by another program" and win.monitor.of_job is None


@pytest.mark.slow
def test_broken_openface_falls_back_to_embedded_visibly(make_window, qtbot, install, faces_dir, monkeypatch):
    monkeypatch.setenv("FAKE_OF_MODE", "fail")  # FeatureExtraction exits with code 3
    win = make_window(au_engine="openface", openface_bin=str(install))
    assert win.open_source(str(faces_dir / "default.wmv"))
    wait_frame(qtbot, win, lambda r: r.frame >= 3)
    msg = win.last_error
    assert msg.startswith("Playing with the embedded engine: OpenFace") and "exit code 3" in msg and "\n" not in msg
    assert win.current.result.au_engine == "embedded" and win.monitor.engine_in_use == "embedded"
    assert win.engine_label.text() == "AU engine: embedded (OpenFace not used: OpenFace failed)"
    assert msg == win.engine_label.toolTip()
    rows = session_rows(win, qtbot)
    assert rows and {row["au_engine"] for row in rows} == {"embedded"}
    # A FeatureExtraction setting that does not exist: named in the message, same fallback.
    win2 = make_window(au_engine="openface", openface_bin=str(install.parent / "nope" / "FeatureExtraction"))
    assert win2.open_source(str(faces_dir / "default.wmv"))
    wait_frame(qtbot, win2, lambda r: r.frame >= 2)
    assert "nope/FeatureExtraction" in win2.last_error and win2.current.result.au_engine == "embedded"


@pytest.mark.slow
def test_waiting_for_openface_then_cancel(make_window, qtbot, install, faces_dir, monkeypatch):
    monkeypatch.setenv("FAKE_OF_MODE", "hang")  # FeatureExtraction never finishes
    win = make_window(au_engine="openface", openface_bin=str(install))
    win.set_alert_config(AlertConfig(stall_s=1.0))
    win.begin_source(_LiveVideo(faces_dir / "default.wmv"), "camera 0")  # something plays before
    wait_frame(qtbot, win, lambda r: r.frame >= 2)
    assert win.open_source(str(faces_dir / "default.wmv"))
    job = win.monitor.of_job
    assert win.current is None and win.player.source is None and not win.player.playing
    qtbot.wait(2500)  # longer than stall_s: waiting for OpenFace is not a stalled source
    assert not job.done and win.player.source is None and win.current is None
    assert "no_frames" not in win.monitor.alerts.active_alarms() and win.banner.priority == Priority.NONE
    assert "Running OpenFace on default.wmv" in win.statusBar().currentMessage()
    win.cancel_openface()
    assert win.monitor.of_job is None and not win.cancel_button.isVisible()
    assert "OpenFace cancelled" in win.statusBar().currentMessage()
    qtbot.waitUntil(lambda: job.done, timeout=15000)  # the hanging process was killed
    assert job.engine is None and "cancel" in job.error
    qtbot.wait(300)
    assert win.current is None and win.player.source is None and win.monitor.session is None


def test_engine_choice_is_remembered_and_command_line_wins(make_window, tmp_path):
    ini = tmp_path / "engine.ini"
    win = make_window(ini)
    assert win.engines.choice == "embedded" and win.engines.openface_bin is None
    win.set_au_engine("openface")
    win.settings.setValue("engine/openface_bin", "/opt/OpenFace/build/bin/FeatureExtraction")
    win.settings.sync()
    again = make_window(ini)
    assert again.engines.choice == "openface"
    assert again.engines.openface_bin == "/opt/OpenFace/build/bin/FeatureExtraction"
    cli = make_window(ini, au_engine="embedded", openface_bin="/elsewhere/FeatureExtraction")
    assert cli.engines.choice == "embedded" and cli.engines.openface_bin == "/elsewhere/FeatureExtraction"
    assert QSettings(str(ini), QSettings.Format.IniFormat).value("engine/au") == "openface"  # not overwritten
    with pytest.raises(ValueError, match="unknown AU engine"):
        make_window(ini, au_engine="dlib")


@pytest.mark.slow
def test_cli_screenshot_with_openface(faces_dir, openface_ref_dir, tmp_path):
    exe = make_openface_install(tmp_path / "openface")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AUEPA_SESSIONS_DIR": str(tmp_path / "s"),
           BIN_ENV: str(exe), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "FAKE_OF_CSV": str(openface_ref_dir / "default.csv"), "FAKE_OF_MODE": "ok"}
    out = tmp_path / "of.png"
    cmd = [sys.executable, "-m", "auepa_monitor", "--settings", str(tmp_path / "s.ini"), "--au-engine", "openface",
           "--source", str(faces_dir / "default.wmv"), "--frames", "8", "--screenshot", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["frame"] == 8 and meta["model"]["au_engine"] == "openface"
    ref = read_openface_csv(openface_ref_dir / "default.csv")
    i = ref.row_of(8)
    for au in OPENFACE_AUS:
        assert meta["scores"]["au"][f"AU{au}"] == pytest.approx(round(min(5.0, max(0.0, float(ref.aus[au][i]))), 3),
                                                                abs=1e-6), au
    sessions = list((tmp_path / "s").glob("*/frames.csv"))
    assert len(sessions) == 1
    with open(sessions[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(x["frame"]) for x in rows] == list(range(1, 9)) and assert_rows_equal_reference(rows, ref) >= 1
    # OpenFace failing in scripted mode: exit 2 with the reason, no screenshot of embedded values.
    env["FAKE_OF_MODE"] = "fail"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache2")  # the first run's result is cached: start empty
    out2 = tmp_path / "fail.png"
    r = subprocess.run(cmd[:-1] + [str(out2)], capture_output=True, text=True, env=env, cwd=REPO, timeout=240)
    assert r.returncode == 2 and "OpenFace" in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]
    assert not out2.exists()
