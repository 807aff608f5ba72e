"""Ward capacity: how many beds this machine holds at 15 processed fps each, and per-bed latency.

Each bed is what the ward opens (core/ward.WardBed): its own pipeline, MonitorSession (session
folder, alarms, frames.csv) and pump thread, fed by a live source that delivers a sample video's
frames at ``--fps`` (15) frames per second, looping, newest frame wins (a camera's behaviour).
For N = 1, 2, 3, ... beds it runs ``--seconds`` after a warm-up and reports per bed the
processed rate and the capture-to-record latency (frame captured -> processed, recorded and
alarm-checked, i.e. ready to show; the ward window's 10 Hz refresh adds 0-100 ms, 50 ms on
average, to reach the screen). It stops after the first N where a bed falls below 95 % of
``--fps``.

    python benchmarks/bench_ward.py [--fps 15] [--seconds 8] [--max-beds 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FACES = REPO.parent / "shared" / "data" / "faces"
FILES = ("default.wmv", "multi_face.avi", "2015-10-15-15-14.avi", "changeLighting.wmv")

from bench_ui import SyntheticLive  # noqa: E402  (the same live replay as the window benchmark)

from auepa_monitor.core.monitor import MonitorListener, MonitorSession  # noqa: E402
from auepa_monitor.core.pipeline import Pipeline  # noqa: E402


def paced_loop(path: Path, fps: float, max_frames: int = 150) -> SyntheticLive:
    """A sample video's first frames replayed live at ``fps``, forever (a camera at that rate)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < max_frames:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    src = SyntheticLive(frames, fps)
    src.name = path.name
    return src


class Meter(MonitorListener):
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.count = 0
        self.on = False

    def frame(self, p) -> None:
        if self.on:
            self.count += 1
            self.lat.append(time.monotonic() - p.captured_wall)


def run(n: int, fps: float, seconds: float, root: Path) -> list[tuple[float, float, float]]:
    """(processed fps, median latency ms, p95 latency ms) per bed with ``n`` beds."""
    beds = []
    for i in range(n):
        pipe = Pipeline()
        meter = Meter()
        mon = MonitorSession(pipe, sessions_root=root / f"n{n}" / f"bed{i + 1}", listener=meter)
        src = paced_loop(FACES / FILES[i % len(FILES)], fps)
        mon.start_source(src, src.name)
        mon.start_pump()
        beds.append((pipe, mon, meter))
    time.sleep(2.0)  # warm-up: first frames, tracker lock
    for _, _, m in beds:
        m.on = True
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    out = []
    for _, _, m in beds:
        m.on = False
        lat = sorted(m.lat) or [float("nan")]
        out.append((m.count / dt, 1000 * statistics.median(lat), 1000 * lat[int(0.95 * (len(lat) - 1))]))
    for pipe, mon, _ in beds:
        mon.close()
        pipe.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-beds", type=int, default=8)
    a = ap.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; sources at {a.fps:g} fps")
    held = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, a.max_beds + 1):
            res = run(n, a.fps, a.seconds, Path(tmp))
            rates = [r[0] for r in res]
            ok = min(rates) >= 0.95 * a.fps
            print(f"{n} bed(s): processed fps per bed {', '.join(f'{r:.1f}' for r in rates)}; latency median "
                  f"{', '.join(f'{r[1]:.0f}' for r in res)} ms, p95 {', '.join(f'{r[2]:.0f}' for r in res)} ms"
                  f"  -> {'holds' if ok else 'FALLS BEHIND'} (load {os.getloadavg()[0]:.1f})", flush=True)
            if not ok:
                break
            held = n
    print(f"beds held at {a.fps:g} processed fps each: {held}" + (" (or more: --max-beds reached)"
                                                                  if held == a.max_beds else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
