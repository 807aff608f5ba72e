"""The monitor session without Qt: a real video through the real pipeline, alarms into events.jsonl.

The alarm-to-event contract is checked on :class:`MonitorSession` run headless, in a process
where PySide6 cannot be imported at all, so nothing of it leans on the window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: Makes ``import PySide6`` (and pyqtgraph, which would pull it in) fail in the process it runs in.
QT_BLOCKER = textwrap.dedent('''
    import sys
    class _NoQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6"):
                raise ImportError(f"{name} is blocked in this test (the core must not need Qt)")
            return None
    sys.meta_path.insert(0, _NoQt())
''')


def run_without_qt(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", QT_BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=REPO, timeout=timeout)


HEADLESS = '''
    import json, sys
    from pathlib import Path
    from auepa_monitor.core.alerts import AlertConfig
    from auepa_monitor.core.monitor import MonitorListener, MonitorSession
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    video, root = sys.argv[1], Path(sys.argv[2])
    seen = {"frames": 0, "alarms": []}

    class Count(MonitorListener):
        def frame(self, p):
            seen["frames"] += 1
        def alarms(self, events):
            seen["alarms"] += [(e.kind, e.alarm) for e in events]

    pipe = Pipeline()
    # Thresholds this adult's resting face (score ~1) crosses: alarms within a second.
    cfg = AlertConfig(high_on=0.5, mid_on=0.3, hysteresis=0.1, sustain_s=0.5, clear_s=0.5)
    mon = MonitorSession(pipe, alert_config=cfg, sessions_root=root, lossless=True, listener=Count())
    mon.player.stop_at = 40
    mon.start_source(VideoFileSource(video), video)
    mon.run(until=lambda: mon.latest is not None and mon.latest.result.frame >= 40, timeout=240)
    folder = mon.session.path
    spans = mon.span_ranges()
    mon.close()
    pipe.close()
    print(json.dumps({"folder": str(folder), "seen": seen, "spans": [[a, b, int(p)] for a, b, p in spans],
                      "qt": any(m.startswith("PySide6") for m in sys.modules)}))
'''


@pytest.mark.slow
def test_alarms_reach_events_jsonl_headless_without_qt(faces_dir, tmp_path):
    video = faces_dir / "default.wmv"
    r = subprocess.run([sys.executable, "-c", QT_BLOCKER + textwrap.dedent(HEADLESS), str(video), str(tmp_path)],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["qt"] is False
    folder = Path(out["folder"])
    events = [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "session_started" and events[-1]["event"] == "session_ended"
    alerts = [e for e in events if e["event"] == "alert"]
    # Every alarm change the session saw is in the log, in order, with its source time and frame.
    assert [(e["kind"], e["alarm"]) for e in alerts] == [tuple(a) for a in out["seen"]["alarms"]]
    raised = [e for e in alerts if e["kind"] == "raised"]
    assert {e["alarm"] for e in raised} >= {"strong_pain", "mid_pain"}
    strong = next(e for e in raised if e["alarm"] == "strong_pain")
    assert strong["priority"] == "high" and strong["t"] >= 0.5 and strong["frame"] >= 1
    assert strong["message"] == "Strong pain alert raised (score ≥ 0.5)"
    # The span the curve shades starts where the alarm was raised.
    assert any(abs(a - strong["t"]) < 1e-6 and p == 3 for a, _b, p in out["spans"])
    # frames.csv holds every ingested frame; the scale of the alarm settings named the levels.
    rows = (folder / "frames.csv").read_text().splitlines()
    assert len(rows) - 1 == out["seen"]["frames"] >= 40
    header = rows[0].split(",")
    levels = {row.split(",")[header.index("pain_level")] for row in rows[1:]}
    assert "strong pain" in levels
    meta = json.loads((folder / "session.json").read_text())
    assert meta["pain_scale"] == {"weak": 0.5, "mid": 0.5, "strong": 0.5}  # mid is at least 0.5


def _qt_free_modules() -> list[str]:
    """Every module of the Qt-free core: all of ``auepa_monitor/core`` and ``auepa_monitor/nets``, any depth."""
    pkg = REPO / "auepa_monitor"
    names = []
    for sub in ("core", "nets"):
        for p in sorted((pkg / sub).rglob("*.py")):
            parts = list(p.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            names.append(".".join(parts))
    return names


def test_every_core_module_imports_without_qt():
    names = _qt_free_modules()
    assert "auepa_monitor.core.monitor" in names and "auepa_monitor.nets.pain_cnn" in names and len(names) > 40
    code = "import importlib\n" + "\n".join(f"importlib.import_module({n!r})" for n in names)
    code += "\nimport auepa_monitor.model_card\n"
    code += "import sys; assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules)\nprint('ok')\n"
    r = run_without_qt(code)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]
    # The blocker does block: the window cannot be imported there.
    r = run_without_qt("import auepa_monitor.ui.main_window\n")
    assert r.returncode != 0 and "blocked in this test" in r.stderr


def _crafted(mon, scores, fps: float = 10.0, t0: float = 0.0) -> None:
    """Crafted records through the session's own path for processed frames (alarms, spans)."""
    import numpy as np

    from auepa_monitor.core.player import Processed
    from auepa_monitor.core.records import FrameResult, PainLevel

    img = np.zeros((48, 64, 3), np.uint8)
    for i, s in enumerate(scores):
        t = t0 + i / fps
        r = FrameResult(frame=int(round(t * fps)) + 1, timestamp=t, faces_seen=1, face=None, pain_score=s,
                        pain_raw=s, pain_level=PainLevel.from_score(s), pspi=0.0, size=(64, 48))
        mon.ingest(Processed(r, img, 0, time.monotonic(), time.monotonic()))


def test_alarm_starts_found_from_a_time_both_ways(pipeline, tmp_path):
    from auepa_monitor.core.alerts import AlertConfig
    from auepa_monitor.core.monitor import MonitorSession

    cfg = AlertConfig(high_on=7.5, mid_on=5.0, hysteresis=1.0, sustain_s=1.0, clear_s=1.0)
    mon = MonitorSession(pipeline, alert_config=cfg, sessions_root=tmp_path)
    try:
        assert mon.alert_start_from(0.0, 1) is None  # no alarm yet
        # Two episodes of strong pain (2-5 s and 9-12 s) with calm between them.
        _crafted(mon, [1.0] * 20 + [9.0] * 30 + [1.0] * 40 + [9.0] * 30)
        starts = sorted(set(mon.alert_starts()))
        assert len(starts) >= 2 and 2.0 <= starts[0] <= 3.5 and 9.0 <= starts[-1] <= 10.5
        assert mon.alert_start_from(0.0, 1) == starts[0]
        assert mon.alert_start_from(starts[0], 1) == starts[1]  # the start itself is not "after" it
        assert mon.alert_start_from(starts[0] + 0.0005, 1) == starts[1]  # within 1 ms: the same time
        assert mon.alert_start_from(20.0, -1) == starts[-1]
        assert mon.alert_start_from(starts[0], -1) is None
    finally:
        mon.close()


def test_engine_change_reopens_the_recorded_file_only(pipeline, faces_dir, tmp_path):
    from auepa_monitor.core.monitor import MonitorSession
    from auepa_monitor.core.sources import VideoFileSource

    mon = MonitorSession(pipeline, sessions_root=tmp_path)
    try:
        assert mon.reopen_spec() is None  # nothing open
        video = str(faces_dir / "default.wmv")
        mon.start_source(VideoFileSource(video), video, play=False)
        assert mon.reopen_spec() == (video, False)
        mon.play()  # a command to the capture thread: playing a moment later
        end = time.monotonic() + 10
        while not mon.player.playing and time.monotonic() < end:
            time.sleep(0.01)
        assert mon.reopen_spec() == (video, True)
        assert mon.source.title == "default.wmv"
    finally:
        mon.close()


def test_click_target_and_source_specs(pipeline, faces_dir):
    from auepa_monitor.core.errors import AuepaError
    from auepa_monitor.core.monitor import open_spec, target_around
    from auepa_monitor.core.records import FrameResult
    from auepa_monitor.core.sources import VideoFileSource

    # Without a face: a square a quarter of the frame height, centred on the click.
    r = FrameResult(frame=1, timestamp=0.0, faces_seen=0, face=None, size=(640, 480))
    assert target_around(r, 100.0, 200.0) == (40.0, 140.0, 120.0, 120.0)
    with open_spec(str(faces_dir / "default.wmv")) as src:
        assert isinstance(src, VideoFileSource) and not src.live
        face = pipeline.process(src.read())
    assert face.face is not None
    side = max(face.face.box[2], face.face.box[3])
    x, y, w, h = target_around(face, 300.0, 250.0)
    assert w == h == side and (x + w / 2, y + h / 2) == (300.0, 250.0)
    with pytest.raises(AuepaError):
        open_spec(str(faces_dir / "no such video.mp4"))


def test_loading_a_model_the_user_named(pipeline, tmp_path):
    from auepa_monitor.core.alerts import AlertConfig
    from auepa_monitor.core.errors import AuepaError
    from auepa_monitor.core.monitor import MonitorSession

    mon = MonitorSession(pipeline, alert_config=AlertConfig(high_on=6.0, mid_on=4.0), sessions_root=tmp_path)
    try:
        bad = tmp_path / "foreign.pt"
        bad.write_bytes(b"not a model")
        with pytest.raises(AuepaError):
            mon.load_scorer(bad)
        sc = mon.load_scorer(pipeline.scorer.path)
        # The new model names scores on the alarm settings' levels and smooths as the old one did.
        assert sc.scale == mon.scale and sc.scale.strong == 6.0
        assert sc.smoother.enabled == pipeline.scorer.smoother.enabled
    finally:
        mon.close()


@pytest.mark.slow
def test_headless_run_to_the_end_records_the_last_frame(pipeline, faces_dir, tmp_path):
    """``run()`` stops when the file ended; the last frame's result is recorded by then (the player
    says "ended" only after the results of every frame it read), in frames.csv too."""
    import csv

    from auepa_monitor.core.monitor import MonitorSession
    from auepa_monitor.core.sources import ImageSource

    mon = MonitorSession(pipeline, sessions_root=tmp_path, lossless=True)
    try:
        src = ImageSource(faces_dir / "image_sequence")
        n = src.frame_count
        mon.start_source(src, str(faces_dir / "image_sequence"))
        mon.run(timeout=240)
        assert mon.ended and mon.latest is not None
        assert mon.latest.result.frame == n and mon.frames_ingested == n
        folder = mon.session.path
    finally:
        mon.close()
    with open(folder / "frames.csv", newline="") as fh:
        assert [int(r["frame"]) for r in csv.DictReader(fh)] == list(range(1, n + 1))


def test_several_faces_are_remembered_for_the_prompts():
    """The click-the-infant prompts must not flicker with the detector's count at one frame: several
    faces seen count for 10 s of source time; time going back (a seek, a new source) forgets them."""
    from auepa_monitor.core.monitor import SeveralFaces
    from auepa_monitor.core.records import FrameResult

    seen = SeveralFaces()
    at = lambda t, n: seen.update(FrameResult(frame=int(t * 30) + 1, timestamp=t, faces_seen=n, face=None))  # noqa: E731
    assert not at(0.0, 1)
    assert at(1.0, 2) and at(1.5, 1) and at(11.0, 1)
    assert not at(11.1, 1)
    assert at(12.0, 3) and not at(2.0, 1)  # back in time: forgotten
