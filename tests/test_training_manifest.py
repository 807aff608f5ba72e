"""Manifest validation: every problem listed with its line number, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.manifest import ManifestError, class_names, collapse, read_manifest, scheme_of

HEADER = "subject,dataset,media,time_s,score,scale\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    (tmp_path / "clip.avi").write_bytes(b"not checked here")
    (tmp_path / "face.jpg").write_bytes(b"x")
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    (frames / "001.png").write_bytes(b"x")
    (tmp_path / "empty_dir").mkdir(exist_ok=True)
    p = tmp_path / "m.csv"
    p.write_text(header + body, encoding="utf-8")
    return p


def test_good_manifest_and_label_mapping(tmp_path: Path) -> None:
    p = write(tmp_path, "# a comment line\n"
                        "a,yt,clip.avi,1.5,7.5,flacc\n"
                        "b,bt,face.jpg,,4,nfcs\n"
                        "c,ic,frames,0,1,binary\n"
                        "d,yt,clip.avi,3,2.4,FLACC\n")
    rows = read_manifest(p)
    assert [r.line for r in rows] == [3, 4, 5, 6]  # the comment keeps its line number
    a, b, c, d = rows
    assert a.media == (tmp_path / "clip.avi").resolve() and a.kind == "video" and a.time_s == 1.5
    assert (a.target, a.level) == (7.5, 3)
    assert (b.target, b.level, b.kind) == (10.0, 3, "image")
    assert (c.target, c.level, c.kind) == (10.0, 3, "folder")
    assert (d.target, d.level, d.scale) == (2.4, 0, "flacc")
    assert scheme_of("flacc") == "4level" and scheme_of("nfcs") == scheme_of("binary") == "binary"
    assert collapse([0, 1, 2, 3], "binary") == [0, 1, 1, 1]
    assert collapse([0, 1, 2, 3], "4level") == [0, 1, 2, 3]
    assert class_names("binary") == ["no pain", "pain"]


def test_every_problem_listed_with_line_numbers(tmp_path: Path) -> None:
    p = write(tmp_path, "a,yt,clip.avi,0,5,flacc\n"          # line 2: fine
                        "b,yt,missing.mp4,0,5,flacc\n"       # 3: missing file
                        "c,yt,clip.avi,0,11,flacc\n"         # 4: out of range
                        "d,yt,clip.avi,0,abc,flacc\n"        # 5: not a number
                        "e,bt,face.jpg,,2.5,nfcs\n"          # 6: NFCS must be whole
                        "f,xx,face.jpg,,1,vas\n"             # 7: unknown scale
                        "g,yt,clip.avi,-3,1,flacc\n"         # 8: negative time
                        "h,yt,face.jpg,,1,binary\n"          # 9: data set mixes scales
                        ",yt,clip.avi,0,1,flacc\n"           # 10: empty subject
                        "i,yt,empty_dir,0,1,flacc\n"         # 11: folder without images
                        "j,yt\n")                             # 12: too few fields
    with pytest.raises(ManifestError) as ei:
        read_manifest(p)
    probs = ei.value.problems
    text = "\n".join(probs)
    expect = {
        3: "missing.mp4 does not exist",
        4: "score 11 is outside the flacc range 0-10",
        5: "score 'abc' is not a number",
        6: "must be a whole number on the nfcs scale",
        7: "unknown scale 'vas'",
        8: "time_s '-3' is not a time",
        9: "uses scale binary here but flacc on line 2",
        10: "empty subject",
        11: "holds no images",
        12: "2 field(s), the header has 6",
    }
    for line, msg in expect.items():
        assert any(p.startswith(f"line {line}:") and msg in p for p in probs), (line, msg, text)
    assert not any(p.startswith("line 2:") for p in probs)
    assert str(ei.value).splitlines()[0].endswith(f"{len(probs)} problem(s) in the manifest")


def test_missing_columns_and_empty(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"line 1: header lacks column\(s\) score, scale"):
        read_manifest(write(tmp_path, "a,yt,clip.avi,0\n", header="subject,dataset,media,time_s\n"))
    with pytest.raises(ManifestError, match="no rows"):
        read_manifest(write(tmp_path, ""))
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "nope.csv")


def test_cli_stops_before_any_work_on_a_bad_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.run import main

    p = write(tmp_path, "a,yt,nothere.mp4,0,5,flacc\nb,yt,clip.avi,0,12,flacc\n")
    out = tmp_path / "run"
    assert main(["--manifest", str(p), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "line 2: media nothere.mp4 does not exist" in err
    assert "line 3: score 12 is outside the flacc range 0-10" in err
    assert not out.exists()  # nothing was extracted, trained or written


def test_cli_rejects_unknown_backbone_and_weights_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.run import main

    p = write(tmp_path, "a,yt,clip.avi,0,5,flacc\n")
    assert main(["--manifest", str(p), "--out", str(tmp_path / "r"), "--archs", "resnet18,alexnet"]) == 2
    assert "unknown backbone(s) alexnet" in capsys.readouterr().err
    assert main(["--manifest", str(p), "--out", str(tmp_path / "r"), "--weights-dir", str(tmp_path / "no")]) == 2
    assert "is not a folder" in capsys.readouterr().err


CHILDREN = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "children"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.skipif(not CHILDREN.is_dir(), reason="../shared/data/children is absent")
def test_children_example_manifest_is_current_and_valid(tmp_path: Path) -> None:
    # The README's example runs on the children videos: the shipped manifest is what its script
    # writes, every row validates, each person is a subject with their side of the frame as the
    # face box, and the scores are declared stand-ins on every row.
    import subprocess
    import sys

    out = tmp_path / "children_manifest.csv"
    subprocess.run([sys.executable, str(EXAMPLES / "make_children_manifest.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    shipped = EXAMPLES / "children_manifest.csv"
    # Same rows; media paths differ only by where each file sits, so compare resolved rows.
    a, b = read_manifest(shipped), read_manifest(out)
    assert [(r.subject, Path(r.media).resolve(), r.score, r.box, r.frame_range, r.cls) for r in a] == \
        [(r.subject, Path(r.media).resolve(), r.score, r.box, r.frame_range, r.cls) for r in b]
    kids = [r for r in a if r.dataset == "children_flacc"]
    assert {r.subject for r in kids} == {"3dC3SQ_child", "3dC3SQ_parent", "4JDccE_child", "4JDccE_parent"}
    assert all(r.box == ((320, 0, 320, 480) if r.subject.endswith("child") else (0, 0, 320, 480)) for r in kids)
    assert {r.cls for r in kids} == {"TearingPaper", "Peekaboo", "ThatsNotACat", "ThatsNotAHat", "NomNomNom"}
    assert all("STAND-IN" in line for line in shipped.read_text().splitlines()[5:])
