"""Bad input, made from the real sample media: every case gets a clear one-line error or is
processed correctly, nothing crashes, and results already written stay intact.

Each case goes through ``open_source`` + ``Pipeline.process`` (in-process) and through
``auepa-monitor analyze`` as a real subprocess.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from auepa_monitor.core.errors import SourceError
from auepa_monitor.core.recorder import FRAME_COLUMNS, read_frame_csv
from auepa_monitor.core.records import REPORTED_AUS, au_column
from auepa_monitor.core.sources import open_source

REPO = Path(__file__).resolve().parent.parent
FACES = REPO.parent / "shared" / "data" / "faces"  # as in conftest; a module fixture needs it directly


def flip_bits(data: bytes, n: int, seed: int, skip: int) -> bytes:
    """``data`` with ``n`` random single bits flipped after the first ``skip`` bytes (header kept)."""
    b = bytearray(data)
    rng = random.Random(seed)
    for _ in range(n):
        j = rng.randrange(skip, len(b))
        b[j] ^= 1 << rng.randrange(8)
    return bytes(b)


def write_avi(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> Path:
    h, w = frames[0].shape[:2]
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert wr.isOpened()
    for f in frames:
        wr.write(f)
    wr.release()
    return path


def video_frames(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    cap.release()
    return out


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bad inputs, generated once per module from the real sample media."""
    if not FACES.exists():
        pytest.skip(f"sample media not available: {FACES} is absent")
    d = tmp_path_factory.mktemp("bad")
    light = (FACES / "changeLighting.wmv").read_bytes()  # 88 frames, 15 fps
    avi = (FACES / "2015-10-15-15-14.avi").read_bytes()  # DIVX, 842 frames
    img = cv2.imread(str(FACES / "sample3.jpg"))
    real = video_frames(FACES / "default.wmv", 12)
    paths: dict[str, Path] = {}

    def put(name: str, data: bytes) -> Path:
        (d / name).write_bytes(data)
        paths[name] = d / name
        return d / name

    put("truncated.wmv", light[: len(light) // 2])
    put("truncated_header.wmv", light[:4000])
    put("bitflip.wmv", flip_bits(light, 400, seed=1, skip=8000))
    put("bitflip_truncated.avi", flip_bits(avi[: len(avi) // 8], 300, seed=2, skip=8000))
    put("zero.mp4", b"")
    put("text.mp4", b"this is a text file, not a video\n" * 20)
    put("text.png", b"not an image\n")
    cv2.imwrite(str(d / "huge.jpg"), cv2.resize(img, (8000, 6000), interpolation=cv2.INTER_LINEAR))
    paths["huge.jpg"] = d / "huge.jpg"
    # A folder whose images change size, and a raw MJPEG stream whose frames change size.
    sizes = d / "sizes"
    sizes.mkdir()
    for i, wh in enumerate([(640, 400), (1280, 800), (320, 200), (960, 600)]):
        cv2.imwrite(str(sizes / f"{i:03d}.jpg"), cv2.resize(img, wh))
    paths["sizes"] = sizes
    jpgs = [cv2.imencode(".jpg", x)[1].tobytes() for x in [img] * 4 + [cv2.resize(img, (1280, 800))] * 4 + [img] * 2]
    put("sizechange.mjpeg", b"".join(jpgs))
    # Face, then black, then overexposed (white) and noise frames, then the face again.
    blank = [np.zeros_like(real[0])] * 6 + [np.full_like(real[0], 255)] * 6
    noise = [np.random.default_rng(3).integers(0, 256, real[0].shape, dtype=np.uint8)] * 3
    paths["noface.avi"] = write_avi(d / "noface.avi", real[:6] + blank + noise + real[6:12])
    # A sequence with a corrupt image in the middle.
    broken = d / "broken_sequence"
    broken.mkdir()
    for i in range(1, 5):
        shutil.copy(FACES / "image_sequence" / f"{i:03d}.jpg", broken / f"{i:03d}.jpg")
    (broken / "003.jpg").write_bytes((broken / "003.jpg").read_bytes()[:300])
    paths["broken_sequence"] = broken
    return paths


def run_all(path: Path, pipe) -> list:
    """Every frame of ``path`` through the pipeline; the FrameResults."""
    out = []
    with open_source(path) as src:
        while (f := src.read()) is not None:
            assert f.image.dtype == np.uint8 and f.image.ndim == 3 and f.image.shape[2] == 3
            out.append(pipe.process(f))
    pipe.reset()
    return out


def check_result(r) -> None:
    """A FrameResult is sane: scores in range, AU cells 0-5; an unscored frame says why and has no values."""
    if r.success:
        assert 0.0 <= r.pain_score <= 10.0 and 0.0 <= r.pspi <= 16.0
        assert all(0.0 <= v <= 5.0 for v in r.au.values())
    else:
        assert r.reason and not r.au and r.pain_score is None and r.pspi is None
        assert (r.face is None) == (r.reason in ("no_face", "target_lost", "au_missing"))


@pytest.fixture(scope="module")
def pipe():
    from auepa_monitor.core.pipeline import Pipeline

    p = Pipeline()
    yield p
    p.close()


@pytest.mark.parametrize("name, message", [
    ("zero.mp4", "the file is empty (0 bytes)"),
    ("text.mp4", "not a video OpenCV can open"),
    ("text.png", "not an image OpenCV can read"),
    ("truncated_header.wmv", "not a video OpenCV can open"),
])
def test_unreadable_inputs_give_a_clear_error(bad: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(SourceError) as e:
        open_source(bad[name])
    text = str(e.value)
    assert message in text and name in text and "\n" not in text


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "nothing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(tmp_path / "empty")


@pytest.mark.slow
def test_damaged_videos_are_processed_without_crashing(bad: dict[str, Path], pipe, faces_dir: Path) -> None:
    full = run_all(faces_dir / "changeLighting.wmv", pipe)
    half = run_all(bad["truncated.wmv"], pipe)
    assert 0 < len(half) < len(full)
    assert sum(r.success for r in half) >= len(half) // 2  # the intact part is analysed as usual
    for name in ("bitflip.wmv", "bitflip_truncated.avi"):
        results = run_all(bad[name], pipe)  # garbage frames may decode: they must not crash anything
        assert len(results) > 10, name
        for r in results:
            check_result(r)
        frames = [r.frame for r in results]
        times = [r.timestamp for r in results]
        assert frames == list(range(1, len(results) + 1))
        assert all(b > a for a, b in zip(times, times[1:], strict=False)), f"{name}: time must keep moving forwards"


def test_16bit_and_gray_images_match_the_8bit_original(pipe, faces_dir: Path) -> None:
    ref = run_all(faces_dir / "sample3.jpg", pipe)[0]
    assert ref.success
    for name in ("sample3_16bit_gray.png", "sample3_16bit_rgb.png"):
        r = run_all(faces_dir / name, pipe)[0]
        assert r.success, name
        assert r.size == ref.size
        # Same face: the boxes overlap closely (the gray one lost colour only).
        (x, y, w, _), (rx, ry, rw, rh) = r.face.box, ref.face.box
        assert abs(x - rx) < 0.1 * rw and abs(y - ry) < 0.1 * rh and abs(w - rw) < 0.1 * rw, name


@pytest.mark.slow
def test_gray_and_16bit_sequences(pipe, faces_dir: Path) -> None:
    for name in ("image_sequence_gray", "image_sequence_16bit"):
        results = run_all(faces_dir / name, pipe)
        assert len(results) == len(list((faces_dir / name).iterdir()))
        assert sum(r.success for r in results) >= 0.9 * len(results), name


def test_huge_frame(bad: dict[str, Path], pipe) -> None:
    r = run_all(bad["huge.jpg"], pipe)
    assert len(r) == 1 and r[0].size == (8000, 6000)
    assert r[0].success
    x, y, w, h = r[0].face.box
    assert 0 <= x < 8000 and 0 <= y < 6000 and w > 500  # the face scaled up with the frame


def test_frame_size_changes_mid_stream(bad: dict[str, Path], pipe) -> None:
    results = run_all(bad["sizes"], pipe)
    assert [r.size for r in results] == [(640, 400), (1280, 800), (320, 200), (960, 600)]
    for r in results:
        check_result(r)
        if r.success:  # the face box belongs to the frame it came from
            x, y, w, h = r.face.box
            assert x + w <= r.size[0] * 1.1 and y + h <= r.size[1] * 1.1
    assert sum(r.success for r in results) >= 3
    # A raw MJPEG stream whose frame size changes: OpenCV keeps the first size; no crash.
    results = run_all(bad["sizechange.mjpeg"], pipe)
    assert len(results) == 10 and {r.size for r in results} == {(640, 400)}


def test_black_overexposed_and_faceless_frames(bad: dict[str, Path], pipe) -> None:
    results = run_all(bad["noface.avi"], pipe)
    assert len(results) == 27
    for r in results:
        check_result(r)
    assert all(r.success for r in results[:6])
    assert not any(r.success for r in results[6:21]) and all(r.faces_seen == 0 for r in results[6:21])
    assert sum(r.success for r in results[21:]) >= 4  # the face is found again after the blank run


def test_corrupt_image_in_a_sequence_is_named(bad: dict[str, Path], pipe) -> None:
    src = open_source(bad["broken_sequence"])
    assert pipe.process(src.read()).success
    src.read()
    with pytest.raises(SourceError, match=r"003\.jpg: not an image"):
        src.read()



def test_image_removed_while_a_sequence_plays(faces_dir: Path, tmp_path: Path, pipe) -> None:
    seq = tmp_path / "seq"
    shutil.copytree(faces_dir / "image_sequence", seq)
    src = open_source(seq)
    assert pipe.process(src.read()).success
    (seq / "002.jpg").unlink()
    with pytest.raises(SourceError, match=r"002\.jpg: no such file"):
        src.read()
    pipe.reset()


# -- the same through the command line, as a real subprocess ------------------------------------

def analyze(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", *map(str, args), "--quiet"],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def check_csv(path: Path, frames: int | None = None) -> list[dict[str, str]]:
    rows = read_frame_csv(path)  # header and cell counts checked there
    assert path.read_bytes().endswith(b"\n")
    if frames is not None:
        assert len(rows) == frames
    for r in rows:
        if r["success"] == "1":
            assert 0 <= float(r["pain_score"]) <= 10
            assert all(0 <= float(r[au_column(a)]) <= 5 for a in REPORTED_AUS)
        else:
            assert r["success"] == "0" and r["pain_score"] == ""
    return rows


@pytest.mark.slow
def test_analyze_cli_reports_bad_inputs_and_keeps_good_results(bad: dict[str, Path], faces_dir: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = faces_dir / "image_sequence"
    first = analyze(good, "--out", out)
    assert first.returncode == 0, first.stderr
    snapshot = (out / "image_sequence.csv").read_bytes()
    check_csv(out / "image_sequence.csv", frames=30)

    inputs = [bad["noface.avi"], bad["zero.mp4"], bad["text.mp4"], bad["truncated_header.wmv"],
              bad["bitflip.wmv"], bad["sizes"], faces_dir / "sample3_16bit_gray.png", bad["broken_sequence"],
              bad["huge.jpg"], tmp_path / "absent.avi"]
    p = analyze(*inputs, "--out", out)
    assert p.returncode == 1, p.stderr  # some inputs failed, the rest ran
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    failed = {line.split(": ", 1)[0].removeprefix("FAILED "): line for line in p.stderr.splitlines()
              if line.startswith("FAILED ")}
    expect = {"zero.mp4": "empty (0 bytes)", "text.mp4": "not a video", "truncated_header.wmv": "not a video",
              "broken_sequence": "003.jpg: not an image", "absent.avi": "no such file",
              # decodes 84 of the 90 frames its container announces (issue 12, defect 1)
              "bitflip.wmv": "ends at frame 84 of the 90 its container announces (truncated or corrupt file)"}
    assert {Path(k).name for k in failed} == set(expect), p.stderr
    for k, line in failed.items():
        assert expect[Path(k).name] in line, line
    assert "4 analysed, 6 failed" in p.stdout
    # FFmpeg's per-macroblock complaints about the damaged files stay quiet (fatal errors only).
    assert sum(" @ 0x" in line for line in p.stderr.splitlines()) < 10, p.stderr[-3000:]
    # The earlier result is untouched; the good inputs of this run are complete and valid.
    assert (out / "image_sequence.csv").read_bytes() == snapshot
    rows = check_csv(out / "noface.csv", frames=27)
    assert [r["success"] for r in rows[6:21]] == ["0"] * 15
    assert len(check_csv(out / "bitflip.partial.csv")) > 10 and not (out / "bitflip.csv").exists()
    assert [r["success"] for r in check_csv(out / "sizes.csv", frames=4)].count("1") >= 3
    assert check_csv(out / "sample3_16bit_gray.csv", frames=1)[0]["success"] == "1"
    assert check_csv(out / "huge.csv", frames=1)[0]["success"] == "1"
    # The sequence that failed in its third image keeps the two rows written before it, aside:
    # a "<name>.csv" is always a complete run (issue 12, defect 1).
    assert len(check_csv(out / "broken_sequence.partial.csv")) == 2
    assert not (out / "broken_sequence.csv").exists()
    assert "2 frames analysed, partial result in" in failed[str(bad["broken_sequence"])]
    assert tuple(read_frame_csv(out / "noface.csv")[0]) == FRAME_COLUMNS


def test_analyze_cli_only_bad_inputs_exits_nonzero_without_traceback(bad: dict[str, Path], tmp_path: Path) -> None:
    p = analyze(bad["zero.mp4"], bad["text.png"], "--out", tmp_path / "o")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr
    assert p.stderr.count("FAILED ") == 2
    assert "0 analysed, 2 failed" in p.stdout
