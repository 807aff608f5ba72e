"""``analyze --workers``: 1 vs 2 worker processes on the same inputs, in the same run of this script.

Prints, for each worker count: wall seconds (worker start-up and model loading included), frames
per second, the speed-up against 1 worker, each worker's peak resident memory (MB; max RSS of the
process) and its ratio to the 1-worker baseline, and the CPU seconds per frame. From the measured
cost it then estimates the wall time of a large corpus on a cluster (default: 1,425 videos of
30 s at 30 fps on 10 nodes of 8 cores, one worker per core, as ``analyze --ray`` schedules them).

    python benchmarks/bench_workers.py [INPUTS...] [--videos N] [--ray] [--serial]
        [--corpus 1425] [--seconds 30] [--fps 30] [--nodes 10] [--cores 8]

Default inputs: the children videos in ../shared/data/children (640x480, as the corpus).
``--ray`` also times a local Ray instance with 1 and 2 CPUs; ``--serial`` the default in-process
``analyze`` (one input after another, no worker process).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHILDREN = REPO.parent / "shared" / "data" / "children"
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def video_info(paths: list[Path]) -> list[tuple[int, float]]:
    """(frames, seconds) of each input, from its container."""
    import cv2

    out = []
    for p in paths:
        cap = cv2.VideoCapture(str(p))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        cap.release()
        out.append((n, n / fps))
    return out


def settings() -> tuple[dict, str]:
    import argparse as ap

    from auepa_monitor.core.analyze import analysis_settings, settings_key

    opts = {"roi": None, "au_engine": "embedded", "model": None, "no_smoothing": False, "openface_bin": None,
            "faces": "target"}
    return opts, settings_key(analysis_settings(ap.Namespace(**opts)))


def run(paths: list[Path], workers: int, use_ray: bool = False) -> dict:
    from auepa_monitor.core.parallel import analyze_parallel

    opts, key = settings()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = analyze_parallel(paths, Path(d) / "out", opts, key, workers=workers, use_ray=use_ray, force=True)
        wall = time.perf_counter() - t0
    if res.failed:
        raise SystemExit(f"inputs failed: {res.failed}")
    frames = sum(s.frames for s in res.done)
    cpu = sum(w["cpu_s"] for w in res.workers.values())
    peaks = sorted((w["peak_rss_mb"] for w in res.workers.values()), reverse=True)
    return {"wall": wall, "frames": frames, "cpu": cpu, "peaks": peaks, "procs": len(res.workers),
            "job_wall": sum(w["wall_s"] for w in res.workers.values()), "load": os.getloadavg()[0]}


def run_serial(paths: list[Path]) -> dict:
    import argparse as ap

    from auepa_monitor.cli import make_pipeline_factory
    from auepa_monitor.core.analyze import analyze_many

    opts, key = settings()
    factory = make_pipeline_factory(ap.Namespace(**opts, quiet=True), share_models=True)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        done, failed = analyze_many(paths, Path(d) / "out", factory, settings=key, skip=False)
        wall = time.perf_counter() - t0
    return {"wall": wall, "frames": sum(s.frames for s in done)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", type=Path)
    ap.add_argument("--videos", type=int, help="use the first N inputs only")
    ap.add_argument("--ray", action="store_true", help="also time a local Ray instance (1 and 2 CPUs)")
    ap.add_argument("--serial", action="store_true", help="also time the default in-process analyze")
    ap.add_argument("--corpus", type=int, default=1425, help="videos in the corpus to estimate for")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each corpus video (s)")
    ap.add_argument("--fps", type=float, default=30.0, help="frame rate of the corpus videos")
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--cores", type=int, default=8, help="cores per node (one worker per core)")
    args = ap.parse_args()
    paths = args.inputs or sorted(CHILDREN.glob("*.mp4"))
    if not paths:
        print(f"no inputs (default: {CHILDREN}/*.mp4 is absent)", file=sys.stderr)
        return 2
    paths = paths[:args.videos] if args.videos else paths
    info = video_info(paths)
    secs = [s for _, s in info]
    print(f"{len(paths)} inputs, {sum(n for n, _ in info)} frames, {sum(secs):.0f} s of video "
          f"(length median {statistics.median(secs):.1f} s, {min(secs):.1f}-{max(secs):.1f} s); "
          f"{os.cpu_count()} CPUs here, load average {os.getloadavg()[0]:.2f} at start")
    rows: list[tuple[str, dict]] = []
    if args.serial:
        s = run_serial(paths)
        print(f"default analyze (in-process, one after another): {s['wall']:.1f} s wall, "
              f"{s['frames'] / s['wall']:.1f} fps")
    for label, workers, use_ray in [("1 worker", 1, False), ("2 workers", 2, False),
                                    *([("Ray, 1 CPU", 1, True), ("Ray, 2 CPUs", 2, True)] if args.ray else [])]:
        r = run(paths, workers, use_ray)
        rows.append((label, r))
    base = rows[0][1]
    print(f"\n{'':12} {'wall s':>8} {'fps':>7} {'speed-up':>9} {'CPU ms/frame':>13} {'peak MB/worker':>16} "
          f"{'vs 1 worker':>12} {'total MB':>9} {'load after':>11}")
    for label, r in rows:
        ref = rows[0][1] if not label.startswith("Ray") else rows[2][1]  # Ray against Ray with 1 CPU
        peak = max(r["peaks"])
        print(f"{label:12} {r['wall']:8.1f} {r['frames'] / r['wall']:7.1f} {ref['wall'] / r['wall']:8.2f}x "
              f"{1000 * r['cpu'] / r['frames']:13.1f} {peak:16.0f} {peak / max(ref['peaks']):11.2f}x "
              f"{sum(r['peaks']):9.0f} {r['load']:11.2f}")
    two = rows[1][1]
    # Estimate: each of the cluster's workers on a core of its own (analyze --ray: one CPU per task)
    # analyses ceil(corpus / cores) videos one after another, at the measured CPU cost per frame;
    # plus a worker's start-up (process, imports, models). A second figure uses the per-core
    # throughput measured here with both cores busy (2 workers), which also counts the time other
    # programs on this machine took from us: an upper bound when this machine was not idle.
    cpu_frame = two["cpu"] / two["frames"]
    per_core_fps = two["frames"] / two["wall"] / 2
    startup = max(0.0, base["wall"] - base["job_wall"])
    frames_per_video = args.seconds * args.fps
    total_frames = args.corpus * frames_per_video
    cores = args.nodes * args.cores
    waves = -(-args.corpus // cores)  # videos per worker, rounded up
    est = startup + waves * frames_per_video * cpu_frame
    upper = startup + waves * frames_per_video / per_core_fps
    print(f"\nmeasured cost: {1000 * cpu_frame:.1f} CPU ms per frame ({1 / cpu_frame:.0f} frames/s for a worker with a "
          f"core of its own); {per_core_fps:.1f} frames/s per core with both cores busy here; worker start-up "
          f"{startup:.1f} s")
    print(f"estimate for {args.corpus} videos of {args.seconds:g} s at {args.fps:g} fps ({total_frames:,.0f} frames, "
          f"{total_frames * cpu_frame / 3600:.1f} CPU hours) on {args.nodes} nodes x {args.cores} cores ({cores} workers, "
          f"{waves} videos each): {est / 60:.1f} min wall ({est:.0f} s); with the per-core throughput measured "
          f"here: {upper / 60:.1f} min; 1 worker on this machine: {total_frames / (base['frames'] / base['wall']) / 3600:.1f} h")
    print("(assumes cores like these, inputs read from shared storage faster than "
          f"{cores / cpu_frame:.0f} frames/s, ~{total_frames * 210 / 1e6:.0f} MB of CSV (~210 bytes a row) "
          "sent back to the driver)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
