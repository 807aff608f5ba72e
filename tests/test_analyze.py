"""``auepa-monitor analyze`` as a user runs it: a real subprocess on real media and bad inputs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from auepa_monitor.core.recorder import FRAME_COLUMNS

pytestmark = pytest.mark.slow


def run_analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", "--quiet", *args],
                          capture_output=True, text=True, timeout=600)


def test_analyze_video_image_and_bad_inputs(tmp_path, faces_dir):
    zero = tmp_path / "empty.mp4"
    zero.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    out = tmp_path / "out"
    p = run_analyze(str(faces_dir / "sample1.jpg"), str(zero), str(tmp_path / "missing.avi"), str(text),
                    str(corrupt), str(faces_dir / "image_sequence"), "--out", str(out))
    assert p.returncode == 1, p.stderr
    failed = [ln for ln in p.stderr.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 4, p.stderr
    assert any("empty (0 bytes)" in ln for ln in failed)
    assert any("no such file" in ln for ln in failed)
    assert all(len(ln) < 300 for ln in failed)  # one line each, no traceback
    assert "Traceback" not in p.stderr
    assert "2 analysed, 4 failed" in p.stdout
    assert "not a medical device" in p.stdout
    rows = list(csv.DictReader(open(out / "image_sequence.csv")))
    assert len(rows) == 30
    assert tuple(rows[0].keys()) == FRAME_COLUMNS
    assert sum(r["success"] == "1" for r in rows) == 30
    summary = json.loads((out / "sample1.summary.json").read_text())
    assert summary["frames"] == 1 and summary["frames_with_face"] == 1
    assert summary["model_warning"] == "Not trained on infant pain data"


def test_analyze_video_with_roi_columns_and_values(tmp_path, faces_dir):
    out = tmp_path / "o"
    p = run_analyze(str(faces_dir / "default.wmv"), "--out", str(out), "--roi", "100,100,300,300")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(open(out / "default.csv")))
    assert len(rows) == 288
    assert [int(r["frame"]) for r in rows] == list(range(1, 289))
    ts = [float(r["timestamp"]) for r in rows]
    assert ts == sorted(ts) and 18.0 < ts[-1] < 20.0  # 288 frames at 15 fps
    ok = [r for r in rows if r["success"] == "1"]
    assert len(ok) >= 280
    for r in ok:
        assert 0 <= float(r["pain_score"]) <= 10
        assert 0 <= float(r["pspi"]) <= 16
        assert all(0 <= float(r[c]) <= 5 for c in FRAME_COLUMNS if c.endswith("_r"))
        assert r["au_engine"] == "embedded"
    assert "fps" in p.stdout


def test_bad_roi_is_a_clear_error(tmp_path, faces_dir):
    p = run_analyze(str(faces_dir / "sample1.jpg"), "--out", str(tmp_path), "--roi", "1,2,three")
    assert p.returncode == 2
    assert "--roi expects x,y,w,h" in p.stderr
