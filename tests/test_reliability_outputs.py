"""Issue 12, defects 1-4, as a nurse and a researcher hit them: a truncated video, output places
that cannot be written, a --roi off the frame, a --model that cannot load. Real files, real
subprocess runs of ``python -m auepa_monitor``.

Run as root (as here), ``chmod 000`` does not stop writes: unwritable places are made as a path
under a regular file (mkdir fails: "Not a directory") or, where the machine allows it, on a
read-only tmpfs mount (EROFS); the latter tests skip when mounting is not permitted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auepa_monitor.core.outputs import OutputError, check_output_dir, check_output_file
from auepa_monitor.core.roi import RoiError, check_roi, parse_roi
from auepa_monitor.core.sources import VideoFileSource

REPO = Path(__file__).resolve().parent.parent
CAT = "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4"  # 119 frames, 640x480


def run(*args: str | Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auepa_monitor", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})


def analyze(*args: str | Path) -> subprocess.CompletedProcess:
    return run("analyze", *args, "--quiet")


def errors(p: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    return [line for line in p.stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="module")
def truncated(children_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``head -c 200000`` of a real 119-frame video: 12 frames decode."""
    d = tmp_path_factory.mktemp("trunc")
    t = d / "t.mp4"
    t.write_bytes((children_dir / CAT).read_bytes()[:200_000])
    return t


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A read-only tmpfs (writes fail with EROFS even for root); skips when mounting is not allowed."""
    d = tmp_path / "ro"
    d.mkdir()
    (d / "sub").mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(d)], capture_output=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {p.stderr.decode().strip()}")
    try:
        (d / "sub").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(d)], check=True, capture_output=True)
        yield d
    finally:
        subprocess.run(["umount", str(d)], capture_output=True)


# ------------------------------------------------------------------------- 1. truncated video
def test_truncated_video_source_says_it_ended_early(truncated: Path, children_dir: Path) -> None:
    src = VideoFileSource(truncated)
    n = 0
    while src.read() is not None:
        n += 1
    assert n == 12 and src.frame_count == 119
    assert "ends at frame 12 of the 119 its container announces (truncated or corrupt file)" in src.incomplete
    src.close()
    whole = VideoFileSource(children_dir / CAT)
    while whole.read() is not None:
        pass
    assert whole.incomplete == ""
    whole.close()


@pytest.mark.slow
def test_analyze_truncated_video_fails_and_keeps_the_earlier_result(truncated: Path, children_dir: Path,
                                                                   tmp_path: Path) -> None:
    out = tmp_path / "out"
    same_name = tmp_path / "in" / "t.mp4"
    same_name.parent.mkdir()
    shutil.copy(children_dir / CAT, same_name)
    good = analyze(same_name, "--out", out)
    assert good.returncode == 0, good.stderr
    snapshot = (out / "t.csv").read_bytes(), (out / "t.summary.json").read_bytes()
    assert len(snapshot[0].splitlines()) == 120

    p = analyze(truncated, "--out", out)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    failed = [line for line in p.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, p.stderr
    assert "ends at frame 12 of the 119 its container announces (truncated or corrupt file)" in failed[0]
    assert "partial result in" in failed[0] and "t.partial.csv" in failed[0]
    assert "the earlier complete result t.csv was kept" in failed[0]
    assert "0 analysed, 1 failed" in p.stdout
    assert ((out / "t.csv").read_bytes(), (out / "t.summary.json").read_bytes()) == snapshot  # untouched
    assert len((out / "t.partial.csv").read_text().splitlines()) == 13
    summary = json.loads((out / "t.partial.summary.json").read_text())
    assert summary["frames"] == 12 and "truncated" in summary["incomplete"]
    assert not [f for f in out.iterdir() if f.name.startswith(".")]

    # A complete run of the same input afterwards supersedes the partial result.
    again = analyze(same_name, "--out", out)
    assert again.returncode == 0, again.stderr
    assert not (out / "t.partial.csv").exists() and not (out / "t.partial.summary.json").exists()


@pytest.mark.gui
@pytest.mark.slow
def test_window_raises_the_technical_alarm_for_a_truncated_video(make_window, qtbot, truncated: Path) -> None:
    pytest.importorskip("pytestqt")
    win = make_window()
    assert win.open_source(str(truncated))
    qtbot.waitUntil(lambda: "source_error" in win.monitor.alerts.active_alarms(), timeout=30000)
    assert "ends at frame 12 of the 119" in win.last_error
    qtbot.wait(300)
    win.monitor.session.flush()
    events = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()]
    assert ("raised", "source_error") in {(e.get("kind"), e.get("alarm")) for e in events}
    ended = [e for e in events if e["event"] == "source_ended"]
    assert ended and "truncated" in ended[-1]["incomplete"]


# ------------------------------------------------------------------------ 2. output places
def test_output_checks_core(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match=r"^--out .*a_file: exists and is not a folder$"):
        check_output_dir(a_file, "--out")
    with pytest.raises(OutputError, match=r"cannot be created: Not a directory \(.*a_file is a file\)"):
        check_output_dir(a_file / "sub", "--out")
    with pytest.raises(OutputError, match="is a folder, not a file name"):
        check_output_file(tmp_path, "--screenshot")
    with pytest.raises(OutputError, match="its folder .* cannot be created"):
        check_output_file(a_file / "new" / "x.png", "--screenshot")
    assert check_output_dir(tmp_path / "new" / "deeper").is_dir()
    assert not list((tmp_path / "new" / "deeper").iterdir())  # the write test leaves nothing behind


def test_analyze_out_not_a_folder_or_not_creatable(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    img = REPO.parent / "shared" / "data" / "faces" / "sample3.jpg"
    for out, why in ((a_file, "exists and is not a folder"), (a_file / "sub", "cannot be created: Not a directory")):
        p = analyze(img, "--out", out)
        assert p.returncode == 2, p.stderr
        e = errors(p)
        assert len(e) == 1 and e[0].startswith(f"error: --out {out}: ") and why in e[0], p.stderr
        assert "FAILED" not in p.stderr and "analysed" not in p.stdout  # checked before any input ran


def test_analyze_out_on_a_read_only_place(readonly_dir: Path, faces_dir: Path) -> None:
    for out in (readonly_dir, readonly_dir / "sub", readonly_dir / "new"):
        p = analyze(faces_dir / "sample3.jpg", "--out", out)
        assert p.returncode == 2, p.stderr
        e = errors(p)
        assert len(e) == 1 and "Read-only file system" in e[0], p.stderr


@pytest.mark.gui
def test_screenshot_and_session_dir_not_writable_say_so_before_starting(faces_dir: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    src = faces_dir / "default.wmv"
    cases = [
        (["--screenshot", a_file / "new" / "x.png"], "error: --screenshot"),
        (["--screenshot", tmp_path, ], "is a folder, not a file name"),
        (["--screenshot", tmp_path / "ok.png", "--session-dir", a_file / "s"], "error: --session-dir"),
    ]
    for extra, expect in cases:
        p = run("--source", src, "--frames", "2", *extra, timeout=120)  # a hang fails by the timeout
        assert p.returncode == 2, p.stderr
        e = errors(p)
        assert len(e) == 1 and expect in e[0], p.stderr
        assert "source ended" not in p.stderr
    assert not (tmp_path / "ok.png").exists()


@pytest.mark.gui
def test_screenshot_on_a_read_only_place(readonly_dir: Path, faces_dir: Path) -> None:
    for shot in (readonly_dir / "new" / "x.png", readonly_dir / "sub" / "x.png"):
        p = run("--source", faces_dir / "default.wmv", "--frames", "2", "--screenshot", shot, timeout=120)
        assert p.returncode == 2, p.stderr
        e = errors(p)
        assert len(e) == 1 and "Read-only file system" in e[0], p.stderr


# ------------------------------------------------------------------------------------- 3. --roi
def test_roi_core_checks() -> None:
    check_roi((-20, -20, 100, 100), (640, 480))  # partly off the frame: a face at the edge
    check_roi((600, 400, 100, 100), (640, 480))
    for roi in ((5000, 5000, 100, 100), (-200, 10, 100, 100), (10, 480, 50, 50)):
        with pytest.raises(RoiError, match="lies outside the 640x480 frame"):
            check_roi(roi, (640, 480), "v.mp4")


def test_negative_roi_parses_without_equals_sign() -> None:
    from auepa_monitor.cli import build_parser

    a = build_parser().parse_args(["analyze", "x.mp4", "--out", "o", "--roi", "-5,-10.5,100,80"])
    assert parse_roi(a.roi) == (-5.0, -10.5, 100.0, 80.0) and a.inputs == ["x.mp4"]
    w = build_parser().parse_args(["--roi", "-5,10,100,80", "--source", "v.mp4"])
    assert w.roi == "-5,10,100,80"


@pytest.mark.slow
def test_analyze_roi_outside_the_frame_is_rejected(children_dir: Path, faces_dir: Path, tmp_path: Path) -> None:
    p = analyze(children_dir / CAT, "--out", tmp_path / "o", "--roi", "5000,5000,100,100")
    assert p.returncode == 1, p.stderr
    failed = [line for line in p.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and "--roi 5000,5000,100,100 lies outside the 640x480 frame" in failed[0], p.stderr
    assert not (tmp_path / "o" / f"{Path(CAT).stem}.csv").exists()
    # A region starting left of and above the frame, written without "--roi=": accepted.
    ok = analyze(faces_dir / "sample3.jpg", "--out", tmp_path / "o2", "--roi", "-20,-20,5000,5000")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads((tmp_path / "o2" / "sample3.summary.json").read_text())
    assert "--roi -20,-20,5000,5000" in summary["target_rule"]


@pytest.mark.gui
def test_screenshot_roi_outside_the_frame_is_an_error(faces_dir: Path, tmp_path: Path) -> None:
    p = run("--source", faces_dir / "default.wmv", "--frames", "2", "--screenshot", tmp_path / "x.png",
            "--session-dir", tmp_path / "s", "--roi", "900,10,50,50", timeout=120)
    assert p.returncode == 2, p.stderr
    e = errors(p)
    assert len(e) == 1 and "--roi 900,10,50,50 lies outside the 640x480 frame" in e[0], p.stderr


@pytest.mark.gui
@pytest.mark.slow
def test_window_roi_off_the_frame_is_said_and_a_good_one_is_drawn(make_window, qtbot, faces_dir: Path) -> None:
    pytest.importorskip("pytestqt")
    win = make_window()
    win.initial_roi = (900.0, 10.0, 50.0, 50.0)
    assert win.open_source(str(faces_dir / "default.wmv"), play=False)
    assert "lies outside the 640x480 frame" in win.last_error and win.monitor.target is None
    assert win.view.target_roi is None
    win.initial_roi = (200.0, 100.0, 200.0, 200.0)
    assert win.open_source(str(faces_dir / "default.wmv"), play=True)
    assert win.monitor.target is not None and win.view.target_roi == (200.0, 100.0, 200.0, 200.0)
    qtbot.waitUntil(lambda: win.current is not None, timeout=20000)
    win.pause()
    # The dashed region is painted over the frame (yellow pixels along its top edge).
    img = win.view.grab().toImage()
    rect = win.view.image_rect()
    s = rect.width() / 640
    y = int(rect.y() + 100 * s)
    xs = range(int(rect.x() + 210 * s), int(rect.x() + 390 * s))
    yellow = sum(1 for x in xs for dy in (-1, 0, 1)
                 if (c := img.pixelColor(x, y + dy)).red() > 200 and c.green() > 150 and c.blue() < 80)
    assert yellow > 20


# ----------------------------------------------------------------------------------- 4. --model
def test_cli_model_that_cannot_load_is_an_error(tmp_path: Path, faces_dir: Path) -> None:
    foreign = tmp_path / "foreign.pt"
    foreign.write_text("not a model")
    for model, why in ((tmp_path / "missing.pt", "does not exist"), (foreign, "is missing")):
        p = analyze(faces_dir / "sample3.jpg", "--out", tmp_path / "o", "--model", model)
        assert p.returncode == 2, p.stderr
        e = errors(p)
        assert len(e) == 1 and model.stem in e[0] and why in e[0], p.stderr
        assert not (tmp_path / "o" / "sample3.csv").exists()


@pytest.mark.gui
def test_window_start_with_a_model_that_cannot_load_shows_a_dialog(monkeypatch, tmp_path: Path, faces_dir,
                                                                     capsys) -> None:
    from auepa_monitor.cli import build_parser
    from auepa_monitor.ui import app

    shown: list[str] = []
    monkeypatch.setattr(app, "error_dialog", shown.append)
    args = build_parser().parse_args(["--model", str(tmp_path / "missing.pt"), "--source",
                                      str(faces_dir / "default.wmv"), "--session-dir", str(tmp_path / "s"),
                                      "--settings", str(tmp_path / "s.ini")])
    assert app.run_gui(args) == 2
    assert len(shown) == 1 and "missing.pt does not exist" in shown[0]
    assert "error: pain model" in capsys.readouterr().err


@pytest.mark.gui
def test_window_load_model_that_cannot_load_keeps_the_current_one(make_window, tmp_path: Path) -> None:
    pytest.importorskip("pytestqt")
    win = make_window()
    before = win.pipeline.scorer
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    assert not win.load_model(str(bad))
    assert "bad.card.json is missing" in win.last_error
    assert win.pipeline.scorer is before


@pytest.mark.slow
def test_export_of_a_truncated_video_says_so(truncated: Path, tmp_path: Path) -> None:
    p = run("export", truncated, "--deidentify", "--out", tmp_path / "exp", "--quiet")
    assert p.returncode == 1, p.stderr
    e = errors(p)
    assert len(e) == 1 and "ends at frame 12 of the 119" in e[0], p.stderr
    assert not (tmp_path / "exp").exists() or not list((tmp_path / "exp").iterdir())
