"""The iCOPE + UNIFESP importer and the manifest's face box, frame range, scales and classes,
on a synthetic set in that layout built from real sample images (the real images are not public)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.extract import Extractor, range_frames, read_frames
from training.import_icope import import_icope
from training.manifest import SCALE_DEFS, ManifestError, read_manifest

ICOPE_HEADER = ["file_name", "subject", "frame", "class", "dataset", "gender", "NFCS", "new_subject",
                "new_file_name", "face_coordinates", "landmarks_coordinates"]


def compose(faces_dir: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """A still with a large adult face (sample1, x1.6) left of a smaller child's face (sample5, x0.6).

    Returns the composite, the child's panel alone, and the panel's offset/size (x, y, w, h)."""
    adult = cv2.resize(cv2.imread(str(faces_dir / "sample1.jpg")), None, fx=1.6, fy=1.6)
    child = cv2.resize(cv2.imread(str(faces_dir / "sample5.jpg")), None, fx=0.6, fy=0.6)
    h = max(adult.shape[0], child.shape[0] + 100)
    canvas = np.full((h, adult.shape[1] + child.shape[1], 3), 80, np.uint8)
    canvas[:adult.shape[0], :adult.shape[1]] = adult
    canvas[100:100 + child.shape[0], adult.shape[1]:] = child
    panel = np.full((h, child.shape[1], 3), 80, np.uint8)
    panel[100:100 + child.shape[0]] = child
    return canvas, panel, (adult.shape[1], 0, child.shape[1], h)


@pytest.fixture(scope="module")
def icope_set(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("icope")
    img_dir = root / "Datasets" / "Originais" / "iCOPE"
    img_dir.mkdir(parents=True)
    canvas, panel, (ox, oy, _, _) = compose(faces_dir)
    cv2.imwrite(str(img_dir / "S001_pain_1.jpg"), canvas)
    cv2.imwrite(str(root / "child_alone.jpg"), panel)
    # The child's face box in the composite: the tracker's fit on the child's panel alone, shifted.
    from auepa_monitor.core.face import FaceTracker

    t = FaceTracker()
    fit, _ = t.process(panel)
    assert fit is not None, "the child's face is found on its own panel"
    x, y, w, h = fit.box
    box_xyxy = [int(ox + x), int(oy + y), int(ox + x + w), int(oy + y + h)]
    kps = [[int(ox + x + w * fx), int(oy + y + h * fy)] for fx, fy in
           ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))]
    unifesp = root / "Datasets" / "Originais" / "UNIFESP"
    unifesp.mkdir(parents=True)
    for n in ("sample3", "sample4"):
        cv2.imwrite(str(unifesp / f"{n}.bmp"), cv2.imread(str(faces_dir / f"{n}.jpg")))
    rows = [
        [r"Datasets\Originais\iCOPE\S001_pain_1.jpg", "S001", "", "pain", "iCOPE", "F", "", "S00",
         "ID0_iCOPE_S00_pain.jpg", str(box_xyxy), str(kps)],
        [r"Datasets\Originais\iCOPE\S001_pain_1.jpg", "S001", "", "nopain", "iCOPE", "F", "", "S00",
         "ID1_iCOPE_S00_nopain.jpg", "[]", "[]"],
        [r"Datasets\Originais\iCOPE\S002_cry_1.jpg", "S002", "", "cry", "iCOPE", "M", "", "S01",
         "ID2_iCOPE_S01_cry.jpg", "[1, 2, 30, 40]", "[]"],  # image not there: left out and reported
        [r"Datasets\Originais\UNIFESP\sample3.bmp", "03", "", "pain", "UNIFESP", "", "6.0", "S78",
         "ID3_UNIFESP_S78_pain.jpg", "[240, 40, 500, 300]", "[[300, 120], [400, 120], [350, 170], [310, 220], "
                                                             "[390, 220]]"],
        [r"Datasets\Originais\UNIFESP\sample4.bmp", "04", "", "nopain", "UNIFESP", "", "1.0", "S79",
         "ID4_UNIFESP_S79_nopain.jpg", "[150, 120, 450, 440]", "[[900, 900]]"],  # keypoint outside the box
    ]
    src = root / "iCOPE+UNIFESP_data.csv"
    with src.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ICOPE_HEADER)
        w.writerows(rows)
    out = root / "manifest" / "icope.csv"
    rep = import_icope(src, root, out, nfcs_scale="nfcs10")
    return {"root": root, "manifest": out, "report": rep, "box": box_xyxy, "child_alone": root / "child_alone.jpg"}


def test_importer_writes_a_valid_manifest(icope_set: dict) -> None:
    rep = icope_set["report"]
    assert (rep.rows, rep.written) == (5, 4)
    assert rep.missing_images == [r"Datasets\Originais\iCOPE\S002_cry_1.jpg"]
    assert rep.without_box == 1 and rep.keypoints_outside_box == [6]
    assert rep.scales == {"iCOPE": "binary", "UNIFESP": "nfcs10"}  # iCOPE has no NFCS totals: pain/no pain by class
    rows = read_manifest(icope_set["manifest"])
    a, b, c, d = rows
    x0, y0, x1, y1 = icope_set["box"]
    assert a.box == (x0, y0, x1 - x0, y1 - y0) and a.cls == "pain" and (a.scale, a.score, a.level) == ("binary", 1, 3)
    assert b.box is None and b.cls == "nopain" and b.score == 0
    assert a.subject == b.subject == "S00" and a.dataset == "icope" and a.kind == "image"
    # NFCS 0-10 with pain from 3: 6 -> 2.5 + 7.5 * 3/7 on the 0-10 target; 1 -> 2.5/3 (no pain)
    assert (c.scale, c.cls, c.target) == ("nfcs10", "pain", pytest.approx(2.5 + 7.5 * 3 / 7))
    assert c.level == 2 and d.level == 0 and d.target == pytest.approx(2.5 / 3)
    assert any("without a face box" in s for s in rep.lines())


def test_face_box_picks_the_boxed_face(icope_set: dict, tmp_path: Path) -> None:
    """The composite's adult face is larger; with the box the AUs are the child's, without it (and
    the automatic rule set to the largest face) the adult's. The default rule takes the child's."""
    rows = read_manifest(icope_set["manifest"])
    boxed, unboxed = rows[0], rows[1]
    alone = type(boxed)(99, "S00", "icope", icope_set["child_alone"], 0.0, 1.0, "binary")
    ex = Extractor(tmp_path / "cache", n_frames=1)
    young_key = ex.key(unboxed)
    ex.pick = "largest"
    try:
        s = ex.run([boxed, unboxed, alone], progress=False)
        keys = {ex.key(boxed), ex.key(unboxed)}
    finally:
        ex.close()
    assert len(keys) == 2  # the box is part of the cache key: same image, two entries
    assert young_key not in keys  # and without a box, the automatic rule is
    assert [len(r.frames) for r in s.rows] == [1, 1, 1]
    au_boxed, au_unboxed, au_alone = s.rows[0].au[0], s.rows[1].au[0], s.rows[2].au[0]
    d_boxed, d_unboxed = np.abs(au_boxed - au_alone), np.abs(au_unboxed - au_alone)
    print("AU |boxed - child alone|", d_boxed.round(2), "|unboxed - child alone|", d_unboxed.round(2))
    # The child's AUs (same face, another image context: within 0.75 of 0-5 each, mostly far closer) ...
    assert d_boxed.max() < 0.75 and np.median(d_boxed) < 0.1
    # ... while the largest face (the adult) is someone else.
    assert np.linalg.norm(d_unboxed) > 3 * np.linalg.norm(d_boxed)
    crop = lambda i: s.crop(i).astype(np.float32).ravel()  # noqa: E731
    corr = lambda a, b: float(np.corrcoef(a, b)[0, 1])  # noqa: E731
    assert corr(crop(0), crop(2)) > 0.9 > corr(crop(1), crop(2))
    # The default automatic rule: the face with the child's proportions, not the larger adult's.
    ex = Extractor(tmp_path / "cache_young", n_frames=1)
    try:
        au_young = ex.run([unboxed], progress=False).rows[0].au[0]
    finally:
        ex.close()
    assert np.linalg.norm(au_young - au_alone) < 0.5 * np.linalg.norm(d_unboxed)


def test_frame_range_and_scales(tmp_path: Path, faces_dir: Path) -> None:
    seq = faces_dir / "image_sequence"
    p = tmp_path / "m.csv"
    p.write_text("subject,dataset,media,time_s,score,scale,frame_start,frame_end,stimulus\n"
                 f"a,bt,{seq},,7,nfcs8,5,24,heel lance\n"
                 f"b,bt,{seq},,2,nfcs8,,,rest\n"
                 f"c,bt,{seq},2,2,nfcs8,3,9,rest\n"           # time and range
                 f"d,bt,{faces_dir / 'sample1.jpg'},,2,nfcs8,1,3,rest\n"  # range on a still
                 f"e,bt,{seq},,9,nfcs8,,,rest\n"              # above nfcs8's range
                 f"f,nf,{seq},,6,nfcs,,,rest\n"               # NFCS 0-4 coding with a real total
                 f"g,fl,{seq},,6,flacc,9,3,rest\n")           # start after end
    with pytest.raises(ManifestError) as ei:
        read_manifest(p)
    msg = "\n".join(ei.value.problems)
    assert "line 4: give time_s or a frame range, not both" in msg
    assert "line 5: a frame range needs a video or an image folder" in msg
    assert "line 6: score 9 is outside the nfcs8 range 0-8" in msg
    assert "line 7: score 6 is outside the nfcs range 0-4 (an NFCS total above 4: declare nfcs8 or nfcs10)" in msg
    assert "line 8: frame range '9'-'3'" in msg
    p.write_text("\n".join(p.read_text().splitlines()[:3]) + "\n")
    a, b = read_manifest(p)
    assert a.frame_range == (5, 24) and a.cls == "heel lance" and b.frame_range is None and b.cls == "rest"
    assert range_frames(5, 24, 4) == [5, 11, 18, 24] and range_frames(5, 7, 30) == [5, 6, 7]
    assert [f.index for f in read_frames(a, 4)] == [5, 11, 18, 24]
    # Scale rules: the pain threshold maps to 2.5 (the first pain level); the top to 10; FLACC as is.
    n8, n10, nips, fl = (SCALE_DEFS[n] for n in ("nfcs8", "nfcs10", "nips", "flacc"))
    assert (n8.to_0_10(2), n8.to_0_10(3), n8.to_0_10(8)) == (pytest.approx(5 / 3), 2.5, 10)
    assert (n10.to_0_10(3), n10.to_0_10(10)) == (2.5, 10) and nips.to_0_10(3) == 2.5
    assert [fl.to_0_10(v) for v in (0, 2.4, 7.5, 10)] == pytest.approx([0, 2.4, 7.5, 10])
    assert [SCALE_DEFS["nfcs"].to_0_10(v) for v in range(5)] == pytest.approx([0, 2.5, 5, 7.5, 10])
    assert [SCALE_DEFS["binary"].to_0_10(v) for v in (0, 1)] == [0, 10]
