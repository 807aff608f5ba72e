"""Session folder: CSV with the analyze columns, JSON-lines events, default folder."""

from __future__ import annotations

import csv
import json

from auepa_monitor.core.recorder import FRAME_COLUMNS
from auepa_monitor.core.records import FrameResult
from auepa_monitor.core.session import ENV_DIR, Session, default_sessions_dir


def test_session_writes_csv_and_events(tmp_path):
    s = Session("/videos/baby one.avi", root=tmp_path, info={"model": "prior"})
    assert s.path.parent == tmp_path and "baby_one.avi" in s.path.name
    for i in range(3):
        s.write_frame(FrameResult(frame=i + 1, timestamp=i / 30, faces_seen=0, face=None, size=(64, 48)))
    s.event("alert", kind="raised", alarm="strong_pain")
    # Readable before close: events are synced each, frames at most a second late (header now).
    events = [json.loads(x) for x in (s.path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events] == ["session_started", "alert"] and "time" in events[1]
    s.close()
    rows = list(csv.reader((s.path / "frames.csv").open()))
    assert tuple(rows[0]) == FRAME_COLUMNS and [r[0] for r in rows[1:]] == ["1", "2", "3"]
    meta = json.loads((s.path / "session.json").read_text())
    assert meta["model"] == "prior" and "not a medical device" in meta["notice"]
    s2 = Session("/videos/baby one.avi", root=tmp_path)  # same second: a separate folder
    assert s2.path != s.path
    s2.close()


def test_default_dir_is_per_user_and_overridable(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_DIR, raising=False)
    d = default_sessions_dir()
    assert "auepa-monitor" in str(d) and d.name == "sessions"
    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    assert default_sessions_dir() == tmp_path
