"""The OpenFace CSV parser and the 68-point geometry, on OpenFace 2.2's real outputs (openface_ref/)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from auepa_monitor.core.au_engine import au27_from_geometry, au43_from_geometry
from auepa_monitor.core.openface import ear_68, ear_68_all, eye_distance_68, geometry_aus_68, same_face
from auepa_monitor.core.openface_csv import OpenFaceCsvError, read_openface_csv

OPENFACE_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)


def _rows(path):
    with open(path, newline="") as fh:
        r = csv.reader(fh)
        header = [h.strip() for h in next(r)]
        return header, [[c.strip() for c in row] for row in r]


def test_default_csv_every_column_matches_the_file(openface_ref_dir):
    t = read_openface_csv(openface_ref_dir / "default.csv")
    header, rows = _rows(openface_ref_dir / "default.csv")
    col = {h: i for i, h in enumerate(header)}
    assert len(t) == 288 and list(t.frames) == list(range(1, 289))
    assert t.success.all() and not t.truncated
    assert sorted(t.aus) == list(OPENFACE_AUS)
    assert t.landmarks.shape == (288, 68, 2) and t.pose.shape == (288, 3)
    for k in (0, 141, 287):
        row = rows[k]
        for au in OPENFACE_AUS:
            assert t.aus[au][k] == float(row[col[f"AU{au:02d}_r"]])
        for j in (0, 30, 62, 66, 67):
            assert tuple(t.landmarks[k, j]) == (float(row[col[f"x_{j}"]]), float(row[col[f"y_{j}"]]))
        assert t.pose[k, 2] == float(row[col["pose_Rz"]])
        assert t.timestamps[k] == float(row[col["timestamp"]])
        assert t.row_of(int(row[col["frame"]])) == k
    assert t.row_of(289) is None and t.row_of(0) is None


def test_multi_face_failed_frames_are_flagged(openface_ref_dir):
    t = read_openface_csv(openface_ref_dir / "multi_face.csv")
    assert len(t) == 702
    failed = [int(f) for f, ok in zip(t.frames, t.success, strict=True) if not ok]
    assert failed == [578, 579, 580]
    assert (t.face_ids == 0).all()  # FeatureExtraction tracks one face


def test_image_sequence_without_landmarks(openface_ref_dir):
    t = read_openface_csv(openface_ref_dir / "image_sequence.csv")
    assert len(t) == 30 and t.landmarks is None and t.pose is None
    assert t.aus[4][0] == pytest.approx(0.84) and t.aus[26][0] == pytest.approx(0.50)


@pytest.mark.parametrize("name,faces", [("sample1.csv", 1), ("sample2.csv", 3), ("sample6.csv", 12)])
def test_stills_from_facelandmarkimg(openface_ref_dir, name, faces):
    t = read_openface_csv(openface_ref_dir / name)
    assert len(t) == faces and list(t.frames) == list(range(1, faces + 1))
    assert t.success.all() and t.landmarks is None
    header, rows = _rows(openface_ref_dir / name)
    assert t.aus[6][0] == float(rows[0][header.index("AU06_r")])
    assert t.confidence[0] == float(rows[0][header.index("confidence")])


def test_spaced_header_and_truncated_last_line(openface_ref_dir, tmp_path):
    lines = (openface_ref_dir / "default.csv").read_text().splitlines()[:11]
    spaced = [", ".join(c.strip() for c in ln.split(",")) for ln in lines]
    p = tmp_path / "cut.csv"
    p.write_text("\n".join(spaced[:-1]) + "\n" + spaced[-1][: len(spaced[-1]) // 2])
    t = read_openface_csv(p)
    assert t.truncated and len(t) == 9 and list(t.frames) == list(range(1, 10))
    ref = read_openface_csv(openface_ref_dir / "default.csv")
    assert np.array_equal(t.aus[12], ref.aus[12][:9])
    # A complete last line without its final newline is not trusted either (its last cell may be cut).
    p.write_text("\n".join(spaced))
    t = read_openface_csv(p)
    assert t.truncated and len(t) == 9


def test_damaged_files_give_clear_errors(tmp_path, openface_ref_dir):
    p = tmp_path / "x.csv"
    p.write_text("")
    with pytest.raises(OpenFaceCsvError, match="empty"):
        read_openface_csv(p)
    p.write_text("a,b\n1,2\n")
    with pytest.raises(OpenFaceCsvError, match="not an OpenFace CSV"):
        read_openface_csv(p)
    lines = (openface_ref_dir / "default.csv").read_text().splitlines()[:5]
    lines[2] = lines[2][:40]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(OpenFaceCsvError, match="line 3"):
        read_openface_csv(p)
    with pytest.raises(OpenFaceCsvError, match="cannot read"):
        read_openface_csv(tmp_path / "absent.csv")


def test_geometry_aus_from_68_points_follow_the_embedded_rules(openface_ref_dir):
    t = read_openface_csv(openface_ref_dir / "default.csv")
    ears = np.array([ear_68(p) for p in t.landmarks])
    assert np.allclose(ear_68_all(t.landmarks), ears)
    assert 0.15 < np.median(ears) < 0.45  # open eyes of an adult, lid gap / eye width
    open_ear = float(np.percentile(ears, 80))
    for k in (0, 100, 200):
        pts = t.landmarks[k]
        gap = np.linalg.norm(pts[66] - pts[62]) / eye_distance_68(pts)
        g = geometry_aus_68(pts, open_ear)
        assert g[27] == au27_from_geometry(gap)
        assert g[43] == au43_from_geometry(ears[k], open_ear)
    # A synthetic face: eyes shut (lids together) and mouth wide open give AU43 = AU27 = 5.
    pts = t.landmarks[0].copy()
    for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
        mid = (pts[up] + pts[lo]) / 2
        pts[up] = pts[lo] = mid
    pts[66] = pts[62] + [0, 1.2 * eye_distance_68(pts)]
    g = geometry_aus_68(pts, open_ear)
    assert g[43] == 5.0 and g[27] == 5.0


def test_same_face_rule(openface_ref_dir):
    pts = read_openface_csv(openface_ref_dir / "default.csv").landmarks[0]
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    assert same_face(pts, (x0 - 0.1 * w, y0 - 0.4 * h, 1.2 * w, 1.5 * h))  # tracker box incl. forehead
    assert not same_face(pts, (x1 + 10, y0, w, h))  # a face beside it
    assert not same_face(pts, (x0 + 0.6 * w, y0, w, h))  # center outside


def test_engine_notes_for_a_mismatched_or_landmark_free_csv(faces_dir, openface_ref_dir):
    from auepa_monitor.core.openface import OpenFaceAUEngine

    ok = OpenFaceAUEngine(faces_dir / "default.wmv", reference_csv=openface_ref_dir / "default.csv")
    assert ok.info.notes == ["OpenFace values read from default.csv"]
    wrong = OpenFaceAUEngine(faces_dir / "multi_face.avi", reference_csv=openface_ref_dir / "default.csv")
    assert "288 rows, the input's header says 702 frames" in wrong.info.notes[-1]
    bare = OpenFaceAUEngine(faces_dir / "image_sequence", reference_csv=openface_ref_dir / "image_sequence.csv")
    assert "no 2D landmarks" in bare.info.notes[-1]
