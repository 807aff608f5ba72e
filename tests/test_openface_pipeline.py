"""The OpenFace engine inside the real Pipeline, CSV writer and CLI, fed from OpenFace 2.2's real output.

No real OpenFace exists on the test machines: the engine reads the reference CSVs that
OpenFace 2.2 wrote for the sample media (``reference_csv=``), or, for the CLI test, the
process-handling stand-in (tests/fixtures/fake_feature_extraction.py) replays such a CSV.
What is checked here is the frame alignment and the flow of OpenFace's values through
the real face tracker, pipeline, recorder and command line.
"""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest

from auepa_monitor.core.openface import OpenFaceAUEngine, geometry_aus_68
from auepa_monitor.core.pipeline import Pipeline
from auepa_monitor.core.recorder import FrameCsvWriter
from auepa_monitor.core.records import REPORTED_AUS, au_column
from auepa_monitor.core.sources import open_source

OPENFACE_REPORTED = [a for a in REPORTED_AUS if a not in (27, 43)]


def _run(video, ref_csv, tracker, out_csv=None, **kw):
    eng = OpenFaceAUEngine(video, reference_csv=ref_csv, **kw)
    pipe = Pipeline(tracker=tracker, au_engine=eng)
    writer = FrameCsvWriter(out_csv) if out_csv else None
    results = []
    with open_source(video) as src:
        while (f := src.read()) is not None:
            r = pipe.process(f)
            results.append(r)
            if writer:
                writer.write(r)
    if writer:
        writer.close()
    return eng, results


@pytest.mark.slow
def test_default_video_values_equal_openface_rows(faces_dir, openface_ref_dir, face_tracker_factory, tmp_path):
    out = tmp_path / "frames.csv"
    eng, results = _run(faces_dir / "default.wmv", openface_ref_dir / "default.csv", face_tracker_factory(), out)
    t = eng.table
    assert len(results) == 288
    assert all(r.success and r.au_engine == "openface" for r in results)
    for r in results:
        i = t.row_of(r.frame)
        assert i == r.frame - 1
        for au in OPENFACE_REPORTED:
            assert r.au[au] == pytest.approx(float(t.aus[au][i]), abs=1e-9), (r.frame, au)
        g = geometry_aus_68(t.landmarks[i], eng._open_ear)
        assert r.au[27] == g[27] and r.au[43] == g[43]
        assert 0.0 <= r.pain_score <= 10.0
    # Not a constant copy: OpenFace's AU12 varies over the clip and the scores follow.
    assert np.ptp([r.au[12] for r in results]) > 1.0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["au_engine"] for row in rows} == {"openface"}
    assert [float(row[au_column(6)]) for row in rows] == pytest.approx(list(np.round(t.aus[6], 2)), abs=0.006)


@pytest.mark.slow
def test_multi_face_missing_and_other_face_frames(faces_dir, openface_ref_dir, face_tracker_factory, tmp_path):
    out = tmp_path / "frames.csv"
    eng, results = _run(faces_dir / "multi_face.avi", openface_ref_dir / "multi_face.csv",
                        face_tracker_factory(), out)
    t = eng.table
    by_frame = {r.frame: r for r in results}
    for f in (578, 579, 580):  # OpenFace's fit failed there: no values, never zeros
        r = by_frame[f]
        assert not r.success and not r.au and r.pspi is None
        assert r.au_missing == "" or "success 0" in r.au_missing
    assert any("success 0" in by_frame[f].au_missing for f in (578, 579, 580))
    other = [r for r in results if "another face" in r.au_missing]
    # Three people: OpenFace follows the largest, which is also the tracker's automatic target,
    # and the tracker's target lock keeps it there.
    assert len(other) < len(results) // 20
    valued = [r for r in results if r.success]
    assert len(valued) > 500
    for r in valued:
        i = t.row_of(r.frame)
        assert r.au[6] == pytest.approx(float(t.aus[6][i])) and r.au[25] == pytest.approx(float(t.aus[25][i]))
    # The person at the top right as the target: OpenFace's values are of someone else.
    out2 = tmp_path / "frames_other.csv"
    _, results2 = _run(faces_dir / "multi_face.avi", openface_ref_dir / "multi_face.csv",
                       face_tracker_factory(roi=(505, 51, 81, 81)), out2)
    other = [r for r in results2 if "another face" in r.au_missing]
    assert len(other) > len(results2) // 4  # the rest: that person turned away or out of view
    assert not any(r.success for r in other)
    with open(out2, newline="") as fh:
        rows = {int(row["frame"]): row for row in csv.DictReader(fh)}
    assert rows[other[0].frame]["success"] == "0" and rows[other[0].frame][au_column(6)] == ""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in is started through a POSIX shell wrapper")
def test_cli_analyze_with_openface_engine(faces_dir, openface_ref_dir, tmp_path, monkeypatch):
    """`auepa-monitor analyze --au-engine openface` end to end, FeatureExtraction played by the stand-in."""
    from conftest import make_openface_install

    from auepa_monitor.cli import main
    from auepa_monitor.core.openface_csv import read_openface_csv

    exe = make_openface_install(tmp_path / "openface")
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "image_sequence.csv"))
    monkeypatch.setenv("FAKE_OF_MODE", "ok")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # keep the user's cache clean
    rc = main(["analyze", str(faces_dir / "image_sequence"), "--out", str(tmp_path / "out"), "--quiet",
               "--au-engine", "openface", "--openface-bin", str(exe)])
    assert rc == 0
    ref = read_openface_csv(openface_ref_dir / "image_sequence.csv")
    with open(tmp_path / "out" / "image_sequence.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 30 and {r["au_engine"] for r in rows} == {"openface"}
    for row in rows:
        if row["success"] == "1":
            i = ref.row_of(int(row["frame"]))
            assert float(row[au_column(4)]) == pytest.approx(float(ref.aus[4][i]), abs=0.006)
    assert sum(r["success"] == "1" for r in rows) >= 25
    assert list((tmp_path / "xdg-cache").rglob("*.csv"))  # the result went to the per-user cache
