"""Patient data stays private (issue 18): owner-only files whatever the umask, retention of closed
sessions only, de-identified export, no camera credentials in written files or titles.

Real components throughout: `analyze` and the scripted window run as subprocesses under a set
umask, sessions are recorded by the real recorder (and by the real window), the export runs the
real face detector on a real video.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from auepa_monitor.core.private_files import (
    mask_credentials,
    open_private,
    private_dir,
    write_private_text,
)
from auepa_monitor.core.records import FrameResult
from auepa_monitor.core.session import Session, is_open

REPO = Path(__file__).resolve().parent.parent
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and umask")


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (and root) -> its permission bits."""
    out = {str(root): stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        out[str(p)] = stat.S_IMODE(p.lstat().st_mode)
    return out


def assert_private(root: Path) -> None:
    bad = {p: oct(m) for p, m in modes(root).items()
           if m != (0o700 if Path(p).is_dir() else 0o600)}
    assert not bad, f"not owner-only: {bad}"


def env_for(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
            "XDG_DATA_HOME": str(tmp_path / "xdg-data"), "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}


# ----------------------------------------------------------------------------- helpers


@posix_only
def test_private_helpers_ignore_umask_and_warn_on_wide_folders(tmp_path, caplog):
    old = os.umask(0)
    try:
        d = private_dir(tmp_path / "a" / "b" / "c")
        write_private_text(d / "x.json", "{}\n")
        with open_private(d / "y.bin", "ab") as fh:
            fh.write(b"1")
    finally:
        os.umask(old)
    assert_private(tmp_path / "a")
    wide = tmp_path / "shared"
    wide.mkdir()
    wide.chmod(0o755)
    lg = logging.getLogger("auepa_monitor.core.private_files")
    own = not lg.propagate  # the CLI turns propagation off when main() ran in this process
    if own:
        lg.addHandler(caplog.handler)
    try:
        private_dir(wide)
        private_dir(wide)  # once per folder
    finally:
        if own:
            lg.removeHandler(caplog.handler)
    lines = [r.getMessage() for r in caplog.records if "other accounts" in r.getMessage()]
    assert len(lines) == 1 and str(wide) in lines[0] and "0755" in lines[0]
    assert stat.S_IMODE(wide.stat().st_mode) == 0o755  # the user's folder is not changed


@posix_only
@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_analyze_outputs_and_openface_cache_are_owner_only(faces_dir, openface_ref_dir, tmp_path, umask):
    from conftest import make_openface_install

    exe = make_openface_install(tmp_path / "openface")
    env = {**env_for(tmp_path), "FAKE_OF_CSV": str(openface_ref_dir / "image_sequence.csv"), "FAKE_OF_MODE": "ok"}
    out = tmp_path / "made" / "by" / "analyze"
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", str(faces_dir / "image_sequence"),
                        "--out", str(out), "--quiet", "--au-engine", "openface", "--openface-bin", str(exe)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300, umask=umask)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "image_sequence.csv").is_file() and (out / "image_sequence.summary.json").is_file()
    assert_private(tmp_path / "made")
    cache = tmp_path / "xdg-cache" / "auepa-monitor"
    assert list(cache.rglob("*.npz")) and list(cache.rglob("*.csv"))
    assert_private(tmp_path / "xdg-cache")
    # An existing folder with wider rights: one warning line, its rights left alone.
    wide = tmp_path / "wide"
    wide.mkdir()
    wide.chmod(0o755)
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", str(faces_dir / "sample1.jpg"),
                        "--out", str(wide), "--quiet"], capture_output=True, text=True, env=env, cwd=REPO,
                       timeout=300, umask=umask)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [ln for ln in r.stderr.splitlines() if "other accounts" in ln and str(wide) in ln]
    assert stat.S_IMODE(wide.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in wide.iterdir()} == {0o600}


@posix_only
@pytest.mark.slow
@pytest.mark.gui
@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_window_session_screenshot_and_settings_are_owner_only(faces_dir, tmp_path, umask):
    """The real window (scripted screenshot mode) records a session and saves a screenshot trio."""
    env = {**env_for(tmp_path), "AUEPA_SESSIONS_DIR": str(tmp_path / "data" / "sessions")}
    shot = tmp_path / "shots" / "new" / "cli.png"
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "--settings", str(tmp_path / "cfg" / "s.ini"),
                        "--source", str(faces_dir / "default.wmv"), "--frames", "6", "--screenshot", str(shot)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=300, umask=umask)
    assert r.returncode == 0, r.stderr[-2000:]
    sessions = list((tmp_path / "data" / "sessions").iterdir())
    assert len(sessions) == 1 and {p.name for p in sessions[0].iterdir()} >= {"frames.csv", "events.jsonl",
                                                                              "session.json"}
    assert not (sessions[0] / ".open").exists()  # closed: the open mark is gone
    assert {p.name for p in shot.parent.iterdir()} == {"cli.png", "cli_window.png", "cli.json"}
    assert (tmp_path / "cfg" / "s.ini").is_file()
    for root in (tmp_path / "data", tmp_path / "shots", tmp_path / "cfg"):
        assert_private(root)


@posix_only
@pytest.mark.slow
@pytest.mark.gui
def test_window_screenshot_key_in_session_folder_is_owner_only(make_window, qtbot, faces_dir, tmp_path):
    """In-process window under umask 000: the session folder, its logs and an S-key screenshot."""
    from PySide6.QtCore import Qt

    old = os.umask(0)
    try:
        win = make_window()
        assert win.open_source(str(faces_dir / "default.wmv"))
        qtbot.waitUntil(lambda: win.current is not None and win.current.result.frame >= 5, timeout=20000)
        win.pause()
        qtbot.keyClick(win, Qt.Key.Key_S)
        folder = win.monitor.session.path
        assert is_open(folder)
        win.shutdown()
    finally:
        os.umask(old)
    assert not is_open(folder)
    assert len(list((folder / "screenshots").glob("*.png"))) == 2
    assert_private(tmp_path / "sessions")


# ----------------------------------------------------------------------------- credentials


def test_camera_credentials_never_reach_session_files(tmp_path):
    url = "rtsp://nurse:s3cretPW@10.0.0.7:554/stream1"
    assert mask_credentials(url) == "rtsp://***@10.0.0.7:554/stream1"
    assert mask_credentials("/videos/a@b.avi") == "/videos/a@b.avi"  # not a URL: unchanged
    s = Session(url, root=tmp_path)
    s.write_frame(FrameResult(frame=1, timestamp=0.0, faces_seen=0, face=None, size=(64, 48)))
    s.event("source_ended", source=url)
    s.close()
    for p in tmp_path.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert b"s3cretPW" not in data and b"nurse:" not in data, p
        assert "s3cretPW" not in p.name
    assert "rtsp://***@10.0.0.7" in (s.path / "session.json").read_text()


# ----------------------------------------------------------------------------- retention


def _old(folder: Path, days: float) -> None:
    t = time.time() - days * 86400
    for p in [*folder.rglob("*"), folder]:
        os.utime(p, (t, t), follow_symlinks=False)


def _recorded(root: Path, name: str, frames: int = 3, close: bool = True) -> Session:
    s = Session(f"/videos/{name}.avi", root=root)
    for i in range(frames):
        s.write_frame(FrameResult(frame=i + 1, timestamp=i / 30, faces_seen=0, face=None, size=(64, 48)))
    if close:
        s.close()
    return s


@posix_only
def test_retention_removes_only_closed_sessions_older_than_the_setting(tmp_path):
    from auepa_monitor.core.retention import LOG_NAME, apply_retention

    root = tmp_path / "sessions"
    old_closed = _recorded(root, "old_closed")
    recent_closed = _recorded(root, "recent_closed")
    old_open = _recorded(root, "old_open", close=False)  # still recorded by this process
    # A session whose recorder died without closing (a real process, killed): counts as closed.
    code = ("import os,sys; from auepa_monitor.core.session import Session; "
            "s=Session('/videos/crashed.avi', root=sys.argv[1]); print(s.path, flush=True); os.kill(os.getpid(), 9)")
    r = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, cwd=REPO, timeout=120)
    crashed = Path(r.stdout.strip())
    assert (crashed / ".open").exists() and not is_open(crashed)
    assert is_open(old_open.path) and not is_open(old_closed.path)
    other = root / "20200101-000000_not_a_session"  # no session.json: not ours to remove
    other.mkdir()
    (other / "notes.txt").write_text("mine\n")
    for f in (old_closed.path, old_open.path, crashed, other):
        _old(f, 40)
    _old(recent_closed.path, 10)
    assert apply_retention(root, 0) == [] and apply_retention(root, None) == []  # default: keep all
    removed = apply_retention(root, 30)
    assert sorted(removed) == sorted([old_closed.path, crashed])
    assert not old_closed.path.exists() and not crashed.exists()
    assert old_open.path.exists() and recent_closed.path.exists() and other.exists()
    line = (root / LOG_NAME).read_text().strip().splitlines()[-1]
    assert "removed 2 closed session(s)" in line and old_closed.path.name in line and crashed.name in line
    assert stat.S_IMODE((root / LOG_NAME).stat().st_mode) == 0o600
    old_open.close()
    _old(old_open.path, 40)
    assert apply_retention(root, 30) == [old_open.path]  # once closed, it goes too


@posix_only
@pytest.mark.gui
def test_window_applies_the_keep_days_setting(make_window, tmp_path):
    root = tmp_path / "sessions"
    old = _recorded(root, "old")
    _old(old.path, 8)
    win = make_window()
    assert win.apply_retention() == [] and old.path.exists()  # unset: keep all
    win.settings.setValue("session/keep_days", 7)
    assert win.apply_retention() == [old.path] and not old.path.exists()


@posix_only
@pytest.mark.slow
@pytest.mark.gui
def test_keep_days_flag_applies_at_start_up(faces_dir, tmp_path):
    root = tmp_path / "sessions"
    old = _recorded(root, "old")
    _old(old.path, 3)
    env = {**env_for(tmp_path), "AUEPA_SESSIONS_DIR": str(root)}
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "--settings", str(tmp_path / "s.ini"), "--keep-days", "2",
                        "--source", str(faces_dir / "sample1.jpg"), "--frames", "1", "--screenshot",
                        str(tmp_path / "x.png")], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not old.path.exists()
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("retention") and old.path.name in ln]
    assert len([p for p in root.iterdir() if p.is_dir()]) == 1  # this start's own session


# ----------------------------------------------------------------------------- export


def test_export_session_is_deidentified(tmp_path):
    from auepa_monitor.core.recorder import FRAME_COLUMNS

    root = tmp_path / "sessions"
    user = Path.home().name
    s = Session("rtsp://nurse:s3cretPW@10.0.0.7/stream", root=root)
    for i in range(4):
        s.write_frame(FrameResult(frame=i + 1, timestamp=1000.0 + i / 10, faces_seen=1, face=None, size=(64, 48),
                                  model_name=f"/home/{user}/models/baby_smith.pt", au_engine="embedded",
                                  reason="no_face"))
    s.close()
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "export", str(s.path), "--deidentify", "--out",
                        str(tmp_path / "share")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "share"
    assert {p.name for p in out.iterdir()} == {"frames.csv", "export.json"}
    with open(out / "frames.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == FRAME_COLUMNS and len(rows) == 5
    col = {c: i for i, c in enumerate(FRAME_COLUMNS)}
    assert [r[col["timestamp"]] for r in rows[1:]] == ["0.000", "0.100", "0.200", "0.300"]
    assert {r[col["model"]] for r in rows[1:]} == {"redacted"} and rows[1][col["reason"]] == "no_face"
    for p in out.iterdir():
        text = p.read_text()
        for secret in ("s3cretPW", "10.0.0.7", "/home/", "baby_smith", s.path.name, "rtsp"):
            assert secret not in text, (p.name, secret)
    assert_private(out)
    # Without --deidentify there is no export.
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "export", str(s.path), "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2 and "--deidentify" in r.stderr and not (tmp_path / "x").exists()


def _core_detail(img: np.ndarray, box) -> float:
    import cv2

    x, y, w, h = box
    xa, ya = max(0, int(x + 0.2 * w)), max(0, int(y + 0.2 * h))
    xb, yb = min(img.shape[1], int(x + 0.8 * w)), min(img.shape[0], int(y + 0.8 * h))
    if xb - xa < 3 or yb - ya < 3:
        return 0.0
    g = cv2.cvtColor(np.ascontiguousarray(img[ya:yb, xa:xb]), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / max(aw * ah + bw * bh - inter, 1e-9)


@pytest.mark.slow
def test_export_video_blurs_every_face_and_passes_its_check(faces_dir, tmp_path, tracker):
    import cv2

    out = tmp_path / "share"
    r = subprocess.run([sys.executable, "-m", "auepa_monitor", "export", str(faces_dir / "multi_face.avi"),
                        "--deidentify", "--out", str(out), "--max-frames", "100", "--quiet"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "check passed" in r.stdout
    assert {p.name for p in out.iterdir()} == {"video.mp4", "frames.csv", "export.json"}
    assert_private(out)
    info = json.loads((out / "export.json").read_text())
    assert info["frames"] == 100 and info["check"]["uncovered"] == 0 and "multi_face" not in json.dumps(info)
    with open(out / "frames.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 100 and rows[0]["timestamp"] == "0.000"
    # The original detector, independently: faces in the original frames, none left with their
    # detail in the export (a detection there sits on blurred pixels). Detail: Laplacian variance
    # of the box's middle, floored at 50 (a flat wall's is a few units, a face's hundreds).
    orig, exp = cv2.VideoCapture(str(faces_dir / "multi_face.avi")), cv2.VideoCapture(str(out / "video.mp4"))
    faces_in, faces_out, unblurred = 0, 0, []
    try:
        for i in range(100):
            ok1, a = orig.read()
            ok2, b = exp.read()
            assert ok1 and ok2, i
            rgb = cv2.cvtColor(a, cv2.COLOR_BGR2RGB)
            found_in = [*tracker.detect(rgb), *tracker.detect(rgb, tiles=2)]
            faces_in += len(found_in)
            for d in found_in:  # every face seen in the original lost its detail
                assert _core_detail(b, d.box) < 0.2 * max(_core_detail(a, d.box), 50.0), (i, d.box)
            rgb = cv2.cvtColor(b, cv2.COLOR_BGR2RGB)
            for d in [*tracker.detect(rgb), *tracker.detect(rgb, tiles=2)]:
                faces_out += 1
                # Unblurred: a face of the original, found again with its detail.
                if any(_iou(d.box, o.box) >= 0.3 for o in found_in) and \
                        _core_detail(b, d.box) >= 0.5 * max(_core_detail(a, d.box), 50.0):
                    unblurred.append((i + 1, d.box, d.score))
    finally:
        orig.release()
        exp.release()
    assert faces_in >= 500  # 3-4 people in view, whole frame and tiles
    assert not unblurred, unblurred[:5]
    assert faces_out <= 0.05 * faces_in


@pytest.mark.slow
def test_export_fails_and_leaves_nothing_when_the_blur_misses_faces(faces_dir, tmp_path, tracker):
    from auepa_monitor.core.export import ExportError, export_video

    out = tmp_path / "new" / "share"
    # A margin of -45 % blurs only a small patch in the middle of each face: the check must see them.
    with pytest.raises(ExportError, match="export check failed.*not blurred"):
        export_video(faces_dir / "multi_face.avi", out, max_frames=15, tracker=tracker, margin=-0.45)
    assert not out.exists() and (tmp_path / "new").exists()
