"""The monitor session without Qt: a real video through the real pipeline, alarms into events.jsonl.

The alarm-to-event contract is checked on :class:`MonitorSession` run headless, in a process
where PySide6 cannot be imported at all, so nothing of it leans on the window.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
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


def test_every_core_module_imports_without_qt():
    import auepa_monitor.core as core

    names = sorted(p.stem for p in Path(core.__file__).parent.glob("*.py") if p.stem != "__init__")
    names += sorted(f"{p.parent.name}.{p.stem}" for p in Path(core.__file__).parent.glob("*/*.py")
                    if p.stem != "__init__")
    code = "import importlib\n" + "\n".join(f"importlib.import_module('auepa_monitor.core.{n}')" for n in names)
    code += "\nimport auepa_monitor.nets.pain_cnn, auepa_monitor.nets.pain_regressor, auepa_monitor.model_card\n"
    code += "import sys; assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules)\nprint('ok')\n"
    r = run_without_qt(code)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-3000:]
    # The blocker does block: the window cannot be imported there.
    r = run_without_qt("import auepa_monitor.ui.main_window\n")
    assert r.returncode != 0 and "blocked in this test" in r.stderr
