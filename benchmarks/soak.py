"""Soak test: run the pipeline on a looped sample video and watch memory and speed.

The frames go through the app's one frame loop (``core.frame_loop.process_frames``: decode,
track and score stages in their threads, as ``analyze`` runs them).

Prints one line per sample interval (elapsed minutes, frames, RSS in MiB, fps and process
CPU ms per frame in that interval) and a summary: RSS growth after warm-up in percent (the
monitor must stay under 5 % over 30 minutes) and the drift of fps and of CPU time per frame
(median of the last third of the intervals after warm-up against the first third). Every frame is also written to a per-frame CSV through the real recorder, as a
monitor session would.

    python benchmarks/soak.py                       # 30 minutes, default.wmv looped
    python benchmarks/soak.py --minutes 0.5 --interval 5 --json out.json

Exit status 0 when growth is under ``--max-growth`` percent, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auepa_monitor.core.sources import Frame

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "faces" / "default.wmv"


def rss_mib() -> float:
    """Resident set size of this process in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


@dataclass
class Sample:
    """One measurement: minutes since start, frames so far, RSS MiB, fps over the interval and
    the process CPU time per frame over the interval (ms; less sensitive than fps to other
    programs taking the CPU)."""

    minutes: float
    frames: int
    rss_mib: float
    fps: float
    cpu_ms_per_frame: float


@dataclass
class SoakReport:
    video: str
    minutes: float
    warmup_minutes: float
    frames: int = 0
    loops: int = 0
    faces: int = 0
    samples: list[Sample] = field(default_factory=list)
    rss_after_warmup_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_peak_after_warmup_mib: float = 0.0
    growth_pct: float = 0.0
    fps_first: float = 0.0
    fps_last: float = 0.0
    fps_drift_pct: float = 0.0
    cpu_ms_first: float = 0.0
    cpu_ms_last: float = 0.0
    cpu_drift_pct: float = 0.0


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if v else 0.0


def _end_value(values: list[float]) -> float:
    """Median of the last three samples: one GC-timed sample does not decide the figure."""
    return _median(values[-3:])


def summarize(rep: SoakReport) -> None:
    """Fill in growth and drift from the samples taken after warm-up."""
    post = [s for s in rep.samples if s.minutes >= rep.warmup_minutes - 1e-9]
    if len(post) < 2:
        post = rep.samples[-2:]
    if not post:
        return
    base = post[0]
    rep.rss_after_warmup_mib = round(base.rss_mib, 1)
    rep.rss_end_mib = round(_end_value([s.rss_mib for s in post]), 1)
    rep.rss_peak_after_warmup_mib = round(max(s.rss_mib for s in post), 1)
    rep.growth_pct = round(100.0 * (rep.rss_end_mib - base.rss_mib) / base.rss_mib, 2)
    # Drift: median of the first third of the intervals after warm-up against the last third.
    intervals = post[1:] or [base]
    k = max(1, len(intervals) // 3)
    rep.fps_first = round(_median([s.fps for s in intervals[:k]]), 2)
    rep.fps_last = round(_median([s.fps for s in intervals[-k:]]), 2)
    rep.fps_drift_pct = round(100.0 * (rep.fps_last - rep.fps_first) / rep.fps_first, 2) if rep.fps_first else 0.0
    rep.cpu_ms_first = round(_median([s.cpu_ms_per_frame for s in intervals[:k]]), 2)
    rep.cpu_ms_last = round(_median([s.cpu_ms_per_frame for s in intervals[-k:]]), 2)
    if rep.cpu_ms_first:
        rep.cpu_drift_pct = round(100.0 * (rep.cpu_ms_last - rep.cpu_ms_first) / rep.cpu_ms_first, 2)


class LoopedVideo:
    """A video file read again and again as one feed (a ``Source`` by its methods: the package is
    imported only once ``sys.path`` holds the repository): frames numbered on from
    1 and one clock across loops, as a monitor session would see a long recording. ``loops``: how
    many times the end of the file was reached."""

    live = False
    frame_count = 0  # no end
    incomplete = ""

    def __init__(self, path: Path) -> None:
        from auepa_monitor.core.sources import VideoFileSource

        self._src = VideoFileSource(path)
        self.name, self.fps, self.size = self._src.name, self._src.fps, self._src.size
        self.loops = 0
        self._n = 0
        self._offset = 0.0  # s of media time carried across loops
        self._last_t = 0.0

    def read(self) -> Frame | None:
        from auepa_monitor.core.sources import Frame

        f = self._src.read()
        if f is None:  # end of the file: start it again, as a looped feed
            self.loops += 1
            self._offset = self._last_t + 1.0 / self.fps
            self._src.seek(1)
            f = self._src.read()
            if f is None:  # it cannot be read again: the feed ends
                return None
        self._n += 1
        self._last_t = self._offset + f.timestamp
        return Frame(self._n, self._last_t, f.image)

    def close(self) -> None:
        self._src.close()


def run(video: Path, minutes: float, interval: float, warmup: float, out_csv: Path) -> SoakReport:
    """Loop ``video`` through the app's frame loop (``frame_loop.process_frames``: decode, track and
    score stages, as ``analyze`` runs them) for ``minutes``, sampling every ``interval`` seconds."""
    from auepa_monitor.core.frame_loop import process_frames
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.recorder import FrameCsvWriter

    rep = SoakReport(video=str(video), minutes=minutes, warmup_minutes=warmup)
    pipe = Pipeline()
    src = LoopedVideo(video)
    writer = FrameCsvWriter(out_csv)
    t_start = time.monotonic()
    deadline = t_start + minutes * 60.0
    next_sample = t_start + interval
    last = {"frames": 0, "time": t_start, "cpu": time.process_time()}
    print(f"soak: {video.name} for {minutes:g} min, sample every {interval:g} s, warm-up {warmup:g} min",
          flush=True)
    print(f"{'min':>7} {'frames':>8} {'RSS MiB':>9} {'fps':>7} {'CPU ms/f':>9}", flush=True)

    def sample(now: float) -> None:
        n = rep.frames - last["frames"]
        fps = n / (now - last["time"]) if now > last["time"] else 0.0
        cpu = time.process_time()
        cpu_ms = 1000.0 * (cpu - last["cpu"]) / n if n else 0.0
        s = Sample(round((now - t_start) / 60.0, 3), rep.frames, round(rss_mib(), 1), round(fps, 2), round(cpu_ms, 2))
        rep.samples.append(s)
        print(f"{s.minutes:7.2f} {s.frames:8d} {s.rss_mib:9.1f} {s.fps:7.2f} {s.cpu_ms_per_frame:9.2f}", flush=True)
        last.update(frames=rep.frames, time=now, cpu=cpu)

    frames = process_frames(src, pipe)
    try:
        for _frame, r in frames:
            writer.write(r)
            rep.frames += 1
            rep.faces += int(r.success)
            now = time.monotonic()
            if now >= next_sample or now >= deadline:
                sample(now)
                next_sample += interval
                if now >= deadline:
                    break
        else:  # the feed ended early (the file could not be read again): a last sample
            sample(time.monotonic())
    finally:
        frames.close()  # joins the decode and tracking threads before the source is closed
        writer.close()
        rep.loops = src.loops
        src.close()
        pipe.close()
    summarize(rep)
    return rep


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="video to loop (default: faces/default.wmv)")
    p.add_argument("--minutes", type=float, default=30.0, help="how long to run (default 30)")
    p.add_argument("--interval", type=float, default=30.0, help="seconds between RSS/fps samples (default 30)")
    p.add_argument("--warmup", type=float, help="warm-up minutes excluded from growth "
                   "(default: 10%% of the run, at most 3)")
    p.add_argument("--max-growth", type=float, default=5.0, help="allowed RSS growth after warm-up, percent")
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.add_argument("--csv", type=Path, help="per-frame CSV to record into (default: a temporary file)")
    a = p.parse_args(argv)
    if not a.video.is_file():
        print(f"error: {a.video}: no such video", file=sys.stderr)
        return 2
    warmup = a.warmup if a.warmup is not None else min(3.0, 0.1 * a.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        rep = run(a.video, a.minutes, a.interval, warmup, a.csv or Path(tmp) / "soak.csv")
    print(f"frames {rep.frames} (face in {rep.faces}), loops {rep.loops}")
    print(f"RSS after warm-up {rep.rss_after_warmup_mib} MiB, at end {rep.rss_end_mib} MiB, "
          f"peak {rep.rss_peak_after_warmup_mib} MiB: growth {rep.growth_pct:+.2f} % (limit {a.max_growth} %)")
    print(f"fps (median, first vs last third after warm-up) {rep.fps_first} -> {rep.fps_last}: "
          f"drift {rep.fps_drift_pct:+.2f} %")
    print(f"CPU ms/frame (same thirds) {rep.cpu_ms_first} -> {rep.cpu_ms_last}: drift {rep.cpu_drift_pct:+.2f} % "
          "(fps depends on what else runs; CPU time per frame much less)")
    if a.json:
        a.json.write_text(json.dumps(asdict(rep), indent=2) + "\n")
    return 0 if rep.growth_pct < a.max_growth else 1


if __name__ == "__main__":
    sys.exit(main())
