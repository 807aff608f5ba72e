"""The whole-recording neutral (``analyze --au-neutral recording``, the default) on real video."""

from __future__ import annotations

import argparse
import csv
import os

import numpy as np
import pytest

from auepa_monitor.core.analyze import analysis_settings, analyze_one
from auepa_monitor.core.au_engine import EmbeddedAUEngine
from auepa_monitor.core.pipeline import Pipeline
from auepa_monitor.core.pipeline_factory import make_pipeline_factory
from auepa_monitor.core.recorder import FRAME_COLUMNS, SCORE_COLUMNS, FrameCsvWriter, read_frame_csv
from auepa_monitor.core.scoring import pspi
from auepa_monitor.core.sources import open_source
from auepa_monitor.core.whole_recording import rescore_csv

OTHER_COLUMNS = [c for c in FRAME_COLUMNS if c not in SCORE_COLUMNS]
AU_COLUMNS = [c for c in SCORE_COLUMNS if c.endswith("_r")]


def _args(mode: str) -> argparse.Namespace:
    return argparse.Namespace(roi=None, au_engine="embedded", model=None, no_smoothing=False, openface_bin=None,
                              faces="target", au_neutral=mode)


def _csv_from_pipeline(path, video, tracker, n: int):
    """The first ``n`` frames of ``video`` through a Pipeline whose engine keeps its features,
    written as ``analyze`` writes them (running neutral); returns the pipeline."""
    tracker.set_target(None)
    pipe = Pipeline(tracker=tracker, au_engine=EmbeddedAUEngine(neutral="recording"))
    src = open_source(video)
    w = FrameCsvWriter(path)
    try:
        for _ in range(n):
            frame = src.read()
            if frame is None:
                break
            w.write(pipe.process(frame))
    finally:
        w.close()
        src.close()
    return pipe


def test_second_pass_rewrites_only_the_scores_and_keeps_the_file_when_rows_do_not_match(
        tmp_path, faces_dir, tracker):
    path = tmp_path / "frames.csv"
    pipe = _csv_from_pipeline(path, faces_dir / "default.wmv", tracker, 60)
    before = read_frame_csv(path)
    assert sum(r["success"] == "1" for r in before) >= 50

    # A row the engine never estimated (here: a copy under another frame number): the file stays as
    # it was, and the result says the running neutral was kept.
    tampered = tmp_path / "tampered.csv"
    lines = path.read_text().splitlines(keepends=True)
    last = next(ln for ln in reversed(lines) if ln.split(",")[4] == "1")
    tampered.write_text("".join(lines) + "9999" + last[last.index(","):])
    raw = tampered.read_bytes()
    res = rescore_csv(tampered, pipe.au_engine, pipe.scorer)
    assert res.neutral.startswith("running:") and "matched" in res.neutral
    assert tampered.read_bytes() == raw
    assert not list(tmp_path.glob(".*rescore"))  # no scratch file left

    res = rescore_csv(path, pipe.au_engine, pipe.scorer)
    after = read_frame_csv(path)
    assert res.neutral.startswith("whole recording (") and res.frames == sum(r["success"] == "1" for r in before)
    assert len(after) == len(before)
    for a, b in zip(before, after, strict=True):
        assert [a[c] for c in OTHER_COLUMNS] == [b[c] for c in OTHER_COLUMNS]
        if b["success"] == "1":
            au = {int(c[2:4]): float(b[c]) for c in AU_COLUMNS}
            assert float(b["pspi"]) == pytest.approx(pspi(au), abs=0.02)
            assert 0 <= float(b["pain_score"]) <= 10
        else:
            assert all(b[c] == "" for c in SCORE_COLUMNS)
    assert any(a["AU01_r"] != b["AU01_r"] for a, b in zip(before, after, strict=True))


def test_too_few_good_fits_keep_the_running_neutral(tmp_path, faces_dir, tracker):
    path = tmp_path / "frames.csv"
    pipe = _csv_from_pipeline(path, faces_dir / "default.wmv", tracker, 5)
    raw = path.read_bytes()
    res = rescore_csv(path, pipe.au_engine, pipe.scorer)
    assert res.neutral.startswith("running: fewer than 10 good fits") and res.frames == 0
    assert path.read_bytes() == raw


def test_the_setting_is_part_of_the_analysis_settings_and_the_default():
    from auepa_monitor.cli import build_parser

    a = build_parser().parse_args(["analyze", "x.mp4", "--out", "o"])
    assert a.au_neutral == "recording"
    assert analysis_settings(_args("recording")) != analysis_settings(_args("running"))
    with pytest.raises(ValueError, match="neutral must be one of"):
        EmbeddedAUEngine(neutral="whole")


def _read(path):
    def num(v: str) -> float:
        return float(v) if v.strip() else np.nan

    rows = list(csv.DictReader(open(path)))
    return rows, {k.strip(): np.array([num(r[k]) if k.strip().endswith("_r") else 0.0 for r in rows]) for k in rows[0]}


@pytest.mark.slow
def test_analyze_default_wmv_whole_recording_against_running(tmp_path, faces_dir, openface_ref_dir):
    """default.wmv (288 frames): the whole-recording pass changes only the AU and score cells,
    measures AU01 against the recording's 30th percentile of its brow height (so about 30 % of
    good frames read 0), and brings the AU levels nearer OpenFace 2.2's own video-mode output."""
    res = {}
    for mode in ("running", "recording"):
        s = analyze_one(faces_dir / "default.wmv", tmp_path / mode, make_pipeline_factory(_args(mode)), "default")
        res[mode] = (s, *_read(tmp_path / mode / "default.csv"))
    s_run, rows_run, run = res["running"]
    s_rec, rows_rec, rec = res["recording"]
    assert s_run.au_neutral == "running (as live)"
    assert s_rec.au_neutral == "whole recording (288 good fits)"
    assert s_rec.frames_with_face == 288
    for a, b in zip(rows_run, rows_rec, strict=True):
        assert [a[c] for c in OTHER_COLUMNS] == [b[c] for c in OTHER_COLUMNS]
    assert s_rec.mean_pspi == pytest.approx(np.mean([float(r["pspi"]) for r in rows_rec]), abs=0.01)
    assert 0.29 <= np.mean(rec["AU01_r"] == 0.0) <= 0.45
    assert np.mean(run["AU01_r"] == 0.0) < 0.15
    _, of = _read(openface_ref_dir / "default.csv")
    mae = {m: {c: float(np.nanmean(np.abs(x[c] - of[c]))) for c in AU_COLUMNS if c in of} for m, x in
           (("running", run), ("recording", rec))}
    for c in ("AU01_r", "AU02_r"):  # measured 0.84 -> 0.14 and 0.99 -> 0.14
        assert mae["recording"][c] < 0.5 * mae["running"][c], c
    assert np.mean(list(mae["recording"].values())) < np.mean(list(mae["running"].values()))


def test_the_live_window_keeps_no_features():
    """The window (live, hours long) must not keep every frame's features: its pipeline, built as
    ``ui/app.py`` builds it from the window's options, measures against the running neutral."""
    from auepa_monitor.cli import build_parser

    args = build_parser().parse_args([])
    pipe = make_pipeline_factory(argparse.Namespace(**{**vars(args), "au_engine": "embedded"}))(None)
    try:
        assert pipe.au_engine.neutral_mode == "running"
    finally:
        pipe.close()


@pytest.mark.slow
def test_all_faces_each_face_against_its_own_recording(tmp_path, faces_dir):
    """``--faces all`` on multi_face.avi (three people for the whole clip, a few short-lived
    tracks): each face's rows are measured against that face's own whole-recording neutral, as
    the target face's are; a track with too few good fits keeps its running-neutral rows."""
    args = argparse.Namespace(**{**vars(_args("recording")), "faces": "all"})
    s = analyze_one(faces_dir / "multi_face.avi", tmp_path / "rec", make_pipeline_factory(args), "multi_face")
    run_args = argparse.Namespace(**{**vars(args), "au_neutral": "running"})
    s_run = analyze_one(faces_dir / "multi_face.avi", tmp_path / "run", make_pipeline_factory(run_args), "multi_face")
    assert s_run.au_neutral == "running (as live)"
    assert s.au_neutral.startswith("whole recording, each face its own (face_id 0, 1, 2)"), s.au_neutral
    rec, _ = _read(tmp_path / "rec" / "multi_face.csv")
    run, _ = _read(tmp_path / "run" / "multi_face.csv")
    assert len(rec) == len(run)
    for a, b in zip(run, rec, strict=True):
        assert [a[c] for c in OTHER_COLUMNS] == [b[c] for c in OTHER_COLUMNS]
    for fid in ("0", "1", "2"):
        rows = [r for r in rec if r["face_id"] == fid and r["success"] == "1"]
        assert len(rows) >= 600, fid
        # Against this face's own 30th percentile of its inner brow height.
        zero = np.mean([float(r["AU01_r"]) == 0.0 for r in rows])
        assert 0.25 <= zero <= 0.5, (fid, zero)
        au = {int(c[2:4]): float(rows[-1][c]) for c in AU_COLUMNS}
        assert float(rows[-1]["pspi"]) == pytest.approx(pspi(au), abs=0.02)
    # A short-lived track (under 10 good fits) keeps the rows the live pass wrote.
    short = {r["face_id"] for r in rec if r["face_id"] not in ("0", "1", "2") and r["success"] == "1"}
    assert short and f"running for face_id {', '.join(sorted(short))}: fewer than 10 good fits" in s.au_neutral
    for a, b in zip(run, rec, strict=True):
        if a["face_id"] in short:
            assert a == b
    assert s.mean_pspi == pytest.approx(np.mean([float(r["pspi"]) for r in rec if r["success"] == "1"]), abs=0.01)


def test_a_killed_second_pass_leaves_no_scratch_behind(tmp_path):
    """A run killed during its second pass leaves ``.<name>.<pid>.rescore`` beside the (whole) CSV;
    the next run in that folder removes it, but never a running process's."""
    import subprocess
    import sys

    from auepa_monitor.core.whole_recording import drop_stale_scratch

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f".clip.csv.{int(dead.stdout)}.rescore"
    live = tmp_path / f".clip.csv.{os.getpid()}.rescore"
    other = tmp_path / ".notes.rescore"  # not a scratch name: no pid
    for p in (stale, live, other):
        p.write_text("frame\n")
    assert drop_stale_scratch(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


@pytest.mark.slow
def test_each_person_the_target_was_against_their_own_recording(tmp_path, children_dir):
    """4JDccE.joke1.rep1 without a ROI: the target starts on the parent, moves to the toddler
    (``target_switched`` rows) and is picked again after losses. Each person it was has their own
    ``face_id`` (in order: the rows of one person are consecutive) and is measured against their
    own whole recording, not one neutral mixing the parent's and the toddler's faces. On
    3dC3SQ.joke3.rep2 the face found again after the toddler turns away is the parent's
    (``person_changed``): its probation rows begin the new face_id."""
    s = analyze_one(children_dir / "4JDccE.joke1.rep1.take1.NomNomNom.mp4", tmp_path,
                    make_pipeline_factory(_args("recording")), "nomnom")
    rows, _ = _read(tmp_path / "nomnom.csv")
    ids = [int(r["face_id"]) for r in rows]
    assert ids == sorted(ids) and ids[-1] >= 1
    switched = [r for r in rows if r["reason"] == "target_switched"]
    assert s.target_switched == len(switched) >= 1
    assert all(r["success"] == "0" and r["face_x"] for r in switched)
    starts = {i for i in range(1, len(ids)) if ids[i] > ids[i - 1]}  # rows where a new face_id begins
    assert all(rows.index(r) in starts for r in switched)
    assert s.au_neutral.startswith("whole recording, each face its own (face_id 0, 1"), s.au_neutral
    for fid in sorted(set(ids)):
        scored = [r for r in rows if int(r["face_id"]) == fid and r["success"] == "1"]
        if len(scored) >= 20:
            zero = np.mean([float(r["AU01_r"]) == 0.0 for r in scored])
            assert 0.2 <= zero <= 0.5, (fid, zero)  # this person's own 30th percentile

    # Faces found again near the last place that proved to be the other person: said and counted.
    s = analyze_one(children_dir / "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4", tmp_path,
                    make_pipeline_factory(_args("recording")), "cat")
    rows, _ = _read(tmp_path / "cat.csv")
    ids = [int(r["face_id"]) for r in rows]
    assert ids == sorted(ids) and ids[-1] >= 1
    changed = [r for r in rows if r["reason"] == "person_changed"]
    assert s.person_changes == len(changed) >= 1
    assert all(r["success"] == "0" and r["face_x"] for r in changed)
    starts = {i for i in range(1, len(ids)) if ids[i] > ids[i - 1]}
    # A face found again is checked over its next fits: its new face_id begins on the probation's
    # first row (moved by the second pass), at most the moved rows before the decision.
    for r in changed:
        at = rows.index(r)
        begin = max(i for i in starts | {0} if i <= at)
        assert ids[begin] == ids[at] and at - begin <= s.rows_moved_to_new_face_id, (at, begin)
    assert s.rows_moved_to_new_face_id >= 1
    from auepa_monitor.cli import _summary_line
    assert any("was another person" in line for line in _summary_line(s))
    # The parent's few frames there cannot make a neutral of their own: said, and not mixed in.
    assert s.au_neutral.startswith("whole recording, each face its own (face_id 0)"), s.au_neutral
    assert "running for face_id 1" in s.au_neutral


def test_running_neutral_still_moves_a_person_change_probation_rows(tmp_path, children_dir):
    """4JDccE.joke1.rep2 without a ROI, ``--au-neutral running``: a face found again proves to be
    another person after a few fits. Without a second pass those probation rows kept the lost
    person's face_id (another person's rows under the toddler's id); now they move to the new
    face_id all the same (their values as the live pass wrote them)."""
    video = children_dir / "4JDccE.joke1.rep2.take1.NomNomNom.mp4"
    s = analyze_one(video, tmp_path / "run", make_pipeline_factory(_args("running")), "nomnom")
    rows, _ = _read(tmp_path / "run" / "nomnom.csv")
    assert s.au_neutral == "running (as live)" and s.person_changes == 1
    assert s.rows_moved_to_new_face_id >= 1
    ids = [int(r["face_id"]) for r in rows if r["face_id"]]
    changed = next(i for i, r in enumerate(rows) if r["reason"] == "person_changed")
    first = min(i for i, r in enumerate(rows) if r["face_id"] == rows[changed]["face_id"])
    assert 1 <= changed - first <= s.rows_moved_to_new_face_id  # the new id begins on the probation's first row
    assert ids == sorted(ids)
