"""Ward capacity: how many beds this machine holds at 15 processed fps each, and per-bed latency.

Each bed is what the ward opens (core/ward.WardBed): its own pipeline, MonitorSession (session
folder, alarms, frames.csv) and pump thread, fed by a live source that delivers a sample video's
frames at ``--fps`` (15) frames per second, looping, newest frame wins (a camera's behaviour).
For N = 1, 2, 3, ... beds it runs ``--seconds`` after a warm-up and reports per bed the
processed rate and the capture-to-record latency (frame captured -> processed, recorded and
alarm-checked, i.e. ready to show; the ward window's 10 Hz refresh adds 0-100 ms, 50 ms on
average, to reach the screen). It stops after the first N where a bed falls below 95 % of
``--fps``.

``--compute``: ``pool`` (what the ward runs: the beds' face networks in one shared
:class:`~auepa_monitor.core.net_pool.FaceNetPool`, batched on CUDA), ``own`` (the baseline: each
bed loads and runs networks of its own) or ``both`` (each in a fresh process, one after the
other, with the ratio). Memory: the process's resident set with N beds open.

    python benchmarks/bench_ward.py [--fps 15] [--seconds 8] [--max-beds 8] [--compute both] [--device auto]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FACES = REPO.parent / "shared" / "data" / "faces"
FILES = ("default.wmv", "multi_face.avi", "2015-10-15-15-14.avi", "changeLighting.wmv")

from bench_ui import SyntheticLive  # noqa: E402  (the same live replay as the window benchmark)

from auepa_monitor.core.face import FaceTracker  # noqa: E402
from auepa_monitor.core.monitor import MonitorListener, MonitorSession  # noqa: E402
from auepa_monitor.core.net_pool import FaceNetPool  # noqa: E402
from auepa_monitor.core.pipeline import Pipeline  # noqa: E402
from auepa_monitor.core.sources import VideoFileSource  # noqa: E402


def paced_loop(path: Path, fps: float, max_frames: int = 150) -> SyntheticLive:
    """A sample video's first frames replayed live at ``fps``, forever (a camera at that rate)."""
    src = VideoFileSource(path)
    try:
        frames = [f.image for f in itertools.islice(iter(src.read, None), max_frames)]
    finally:
        src.close()
    live = SyntheticLive(frames, fps)
    live.name = path.name
    return live


class Meter(MonitorListener):
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.count = 0
        self.on = False

    def frame(self, p) -> None:
        if self.on:
            self.count += 1
            self.lat.append(time.monotonic() - p.captured_wall)


def rss_mb() -> float:
    """This process's resident set (MB), from /proc (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run(n: int, fps: float, seconds: float, root: Path, pool: FaceNetPool | None
        ) -> tuple[list[tuple[float, float, float]], float]:
    """(processed fps, median latency ms, p95 latency ms) per bed with ``n`` beds, and the RSS (MB)
    less the replayed frames the benchmark's sources hold in memory (a camera does not)."""
    beds = []
    held_frames = 0
    for i in range(n):
        pipe = Pipeline(tracker=FaceTracker(nets=pool.client())) if pool is not None else Pipeline()
        meter = Meter()
        mon = MonitorSession(pipe, sessions_root=root / f"n{n}" / f"bed{i + 1}", listener=meter)
        src = paced_loop(FACES / FILES[i % len(FILES)], fps)
        held_frames += sum(f.nbytes for f in src.frames)
        mon.start_source(src, src.name)
        mon.start_pump()
        beds.append((pipe, mon, meter))
    time.sleep(2.0)  # warm-up: first frames, tracker lock
    for _, _, m in beds:
        m.on = True
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    mem = rss_mb() - held_frames / 2**20
    out = []
    for _, _, m in beds:
        m.on = False
        lat = sorted(m.lat) or [float("nan")]
        out.append((m.count / dt, 1000 * statistics.median(lat), 1000 * lat[int(0.95 * (len(lat) - 1))]))
    for pipe, mon, _ in beds:
        mon.close()
        pipe.close()
    return out, mem


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--max-beds", type=int, default=8)
    ap.add_argument("--compute", choices=("pool", "own", "both"), default="both")
    ap.add_argument("--device", default=None, help="auto, cpu or cuda[:N] for the pool's networks")
    a = ap.parse_args()
    if a.compute == "both":
        held = {}
        for mode in ("own", "pool"):
            cmd = [sys.executable, __file__, "--fps", str(a.fps), "--seconds", str(a.seconds),
                   "--max-beds", str(a.max_beds), "--compute", mode] + (["--device", a.device] if a.device else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            print(out, end="", flush=True)
            held[mode] = int(out.strip().splitlines()[-1].split(":")[1].split()[0])
        print(f"shared pool / own networks, beds held: {held['pool']} / {held['own']} = "
              f"{held['pool'] / max(held['own'], 1):.2f}x")
        return 0
    pool = FaceNetPool(device=a.device) if a.compute == "pool" else None
    what = (f"shared pool: {pool.workers} worker(s) on {pool.device} ({pool.backend})" if pool
            else "own networks per bed (LiteRT, CPU)")
    print(f"[{a.compute}] {what}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"sources at {a.fps:g} fps; RSS {rss_mb():.0f} MB with no bed")
    held = 0
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(1, a.max_beds + 1):
            res, mem = run(n, a.fps, a.seconds, Path(tmp), pool)
            rates = [r[0] for r in res]
            ok = min(rates) >= 0.95 * a.fps
            batch = f"; landmark batch mean {pool.stats.mean_batch('landmarks'):.2f}" if pool else ""
            print(f"{n} bed(s): processed fps per bed {', '.join(f'{r:.1f}' for r in rates)}; latency median "
                  f"{', '.join(f'{r[1]:.0f}' for r in res)} ms, p95 {', '.join(f'{r[2]:.0f}' for r in res)} ms; "
                  f"RSS {mem:.0f} MB{batch}  -> {'holds' if ok else 'FALLS BEHIND'} "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            if not ok:
                break
            held = n
    if pool is not None:
        pool.close()
    print(f"beds held at {a.fps:g} processed fps each: {held}" + (" (or more: --max-beds reached)"
                                                                  if held == a.max_beds else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
