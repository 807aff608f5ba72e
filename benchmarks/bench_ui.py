"""UI frame rate and input-to-display latency of the monitor window, file and synthetic live source.

Runs the real window (offscreen unless QT_QPA_PLATFORM says otherwise) with the real pipeline,
without Grad-CAM. Baseline measured in the same run: the pipeline alone, frame after frame, on
the same video (its frames per second is the ceiling for the window).

Figures:
- display fps: processed frames drawn per second; source fps: the file's rate (or the live rate);
- dropped: frames replaced in the newest-frame slot before processing (skipped, not delayed);
- latency: from the moment capture read the frame to the moment the UI thread hands it to the
  view (the paint follows in the same event-loop pass), mean / p95 / max in ms.

usage: python benchmarks/bench_ui.py [VIDEO] [--seconds 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from auepa_monitor.core.sources import Frame, Source, VideoFileSource  # noqa: E402


class SyntheticLive(Source):
    """A live source: frames of a video (held in memory) delivered in real time at ``fps``, like a camera."""

    live = True

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0) -> None:
        self.frames, self.fps = frames, fps
        self.name = f"synthetic live {fps:g} fps"
        self.size = (frames[0].shape[1], frames[0].shape[0])
        self._t0 = time.monotonic()
        self._n = 0
        self._closed = threading.Event()

    def read(self) -> Frame | None:
        due = self._t0 + self._n / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            self._closed.wait(delay)
        if self._closed.is_set():
            return None
        img = self.frames[self._n % len(self.frames)]
        self._n += 1
        return Frame(self._n, time.monotonic() - self._t0, img)

    def close(self) -> None:
        self._closed.set()


def stats(lat: list[float]) -> str:
    if not lat:
        return "no frames"
    a = np.asarray(lat)
    return f"mean {a.mean():6.1f}  p95 {np.percentile(a, 95):6.1f}  max {a.max():6.1f} ms"


def run_window(app, win, src: Source, desc: str, seconds: float) -> dict:
    lat: list[float] = []
    shown: list[float] = []

    def on_frame(p) -> None:
        now = time.monotonic()
        lat.append((now - p.captured_wall) * 1000)
        shown.append(now)

    win.on_frame = on_frame
    win.start_source(src, desc, play=True)
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        app.processEvents()
        time.sleep(0.002)
    win.pause()
    win.on_frame = None
    warm = [i for i, t in enumerate(shown) if t - shown[0] >= 1.0] if shown else []  # skip the first second
    k = warm[0] if warm else 0
    fps = (len(shown) - k - 1) / (shown[-1] - shown[k]) if len(shown) - k > 2 else 0.0
    return {"fps": fps, "lat": lat[k:], "dropped": win.player.dropped, "shown": len(shown)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=str(REPO.parent / "shared/data/faces/multi_face.avi"))
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--live-fps", type=float, default=30.0)
    args = ap.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    pipe = Pipeline()
    # Baseline: the pipeline alone, every frame, same video.
    src = VideoFileSource(args.video)
    frames, times = [], []
    for _ in range(150):
        f = src.read()
        if f is None:
            break
        frames.append(f.image)
        t0 = time.perf_counter()
        pipe.process(f)
        times.append((time.perf_counter() - t0) * 1000)
    file_fps, n_frames = src.fps, src.frame_count
    src.close()
    base_ms = float(np.mean(times[10:])) if len(times) > 20 else float(np.mean(times))
    print(f"video: {Path(args.video).name} ({n_frames} frames, {file_fps:.1f} fps, {frames[0].shape[1]}x"
          f"{frames[0].shape[0]}); cores: {os.cpu_count()}")
    print(f"baseline, pipeline alone: {base_ms:.1f} ms/frame = {1000 / base_ms:.1f} fps possible")

    tmp = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(tmp.name) / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(pipe, settings, sound=False, sessions_root=Path(tmp.name) / "sessions")
    win.resize(1400, 900)
    win.show()
    rows = []
    r = run_window(app, win, VideoFileSource(args.video), args.video, args.seconds)
    rows.append(("file, 1x", file_fps, r))
    r = run_window(app, win, SyntheticLive(frames, args.live_fps), "synthetic live", args.seconds)
    rows.append((f"synthetic live {args.live_fps:g} fps", args.live_fps, r))
    print(f"{'source':26s} {'source fps':>10s} {'display fps':>11s} {'ratio':>6s} {'dropped':>8s}  "
          "capture-to-display latency")
    for name, sfps, r in rows:
        print(f"{name:26s} {sfps:10.1f} {r['fps']:11.1f} {r['fps'] / sfps:6.2f} {r['dropped']:8d}  {stats(r['lat'])}")
    extra = ", ".join(f"{name.split(',')[0].split(' ')[0]} {np.mean(r['lat']) - base_ms:+.1f} ms"
                      for name, _, r in rows if r["lat"])
    print(f"mean latency above the baseline's {base_ms:.1f} ms of processing (waiting, drawing): {extra}")
    print("target: display fps / source fps = 1.0, latency < 100 ms (2 cores, no Grad-CAM)")
    win.shutdown()
    pipe.close()
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
