"""Per-stage milliseconds and end-to-end fps of the per-frame pipeline on the sample videos.

Baseline measured in the same run: decoding the video alone. Usage:

    python benchmarks/bench_pipeline.py [VIDEO ...] [--frames N]

Defaults to ../shared/data/faces/2015-10-15-15-14.avi and default.wmv (relative to the repo).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parent.parent
FACES = REPO.parent / "shared" / "data" / "faces"


def decode_only(path: Path, n: int) -> tuple[int, float]:
    from auepa_monitor.core.sources import VideoFileSource

    src = VideoFileSource(path)
    t0 = time.perf_counter()
    k = 0
    while k < n and src.read() is not None:
        k += 1
    dt = time.perf_counter() - t0
    src.close()
    return k, dt


def full(path: Path, n: int) -> dict[str, float]:
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    pipe = Pipeline()
    src = VideoFileSource(path)
    stages: dict[str, list[float]] = {"decode_ms": [], "detect_ms": [], "landmarks_ms": [], "au_score_ms": [],
                                      "total_ms": []}
    # Warm-up frame (model initialisation) is not counted.
    pipe.process(src.read())
    k, faces = 0, 0
    t_start = time.perf_counter()
    c_start = time.process_time()
    while k < n:
        t0 = time.perf_counter()
        fr = src.read()
        if fr is None:
            break
        t1 = time.perf_counter()
        r = pipe.process(fr)
        t2 = time.perf_counter()
        tim = pipe.tracker.last_timing
        stages["decode_ms"].append((t1 - t0) * 1000)
        stages["detect_ms"].append(tim.get("detect_ms", 0.0))
        stages["landmarks_ms"].append(tim.get("landmarks_ms", 0.0))
        stages["au_score_ms"].append((t2 - t1) * 1000 - tim.get("detect_ms", 0.0) - tim.get("landmarks_ms", 0.0))
        stages["total_ms"].append((t2 - t0) * 1000)
        faces += r.success
        k += 1
    wall = time.perf_counter() - t_start
    cpu = time.process_time() - c_start
    src.close()
    pipe.close()
    out = {name: statistics.mean(v) for name, v in stages.items()}
    out["cpu_ms"] = 1000 * cpu / max(k, 1)
    out["fps"] = k / wall
    out["frames"] = k
    out["faces"] = faces
    return out


def staged(path: Path, n: int) -> tuple[float, float]:
    """(fps, CPU ms per frame of the whole process) of the staged loop that ``analyze`` uses
    (decode, track and score threads on both cores)."""
    from auepa_monitor.core.frame_loop import process_frames
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    pipe = Pipeline()
    src = VideoFileSource(path)
    pipe.process(src.read())  # warm-up, not counted
    t0, c0 = time.perf_counter(), time.process_time()
    k = sum(1 for _ in process_frames(src, pipe, n))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    src.close()
    return k / wall, 1000 * cpu / max(k, 1)


def network_floor(path: Path, n: int = 200) -> tuple[float, float]:
    """(landmark network, blendshape network) ms per call alone, on a real face crop of ``path``:
    LiteRT's invoke and nothing else, the floor under any loop's CPU per frame (one call each
    per tracked frame)."""
    import cv2

    from auepa_monitor.core.face_nets import roi_from_landmarks
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    pipe = Pipeline()
    src = VideoFileSource(path)
    frame = src.read()
    src.close()
    res = pipe.process(frame)
    nets = pipe.tracker.nets
    if res.face is None:
        return float("nan"), float("nan")
    rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)  # as the tracker feeds its networks
    pts, _, crop, _ = nets.landmarks(rgb, roi_from_landmarks(res.face.image_landmarks))
    out = []
    for fn in (lambda: nets.run_landmarks(crop[None]), lambda: nets.blendshapes(pts)):
        fn()
        t0 = time.process_time()
        for _ in range(n):
            fn()
        out.append(1000 * (time.process_time() - t0) / n)
    pipe.close()
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--frames", type=int, default=10_000, help="at most this many frames per video")
    args = ap.parse_args()
    videos = args.videos or [FACES / "2015-10-15-15-14.avi", FACES / "default.wmv"]
    missing = [v for v in videos if not v.exists()]
    if missing:
        print(f"sample media not found: {missing}", file=sys.stderr)
        return 2
    import torch

    print(f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
          f"cuda: {torch.cuda.is_available()}")
    header = (f"{'video':<22}{'frames':>7}{'decode':>8}{'detect':>8}{'landmk':>8}{'AU+score':>9}"
              f"{'total':>8}{'cpu':>6}{'fps':>7}{'staged fps':>11}{'cpu':>6}{'decode-only fps':>17}{'ratio':>7}")
    print(header)
    for v in videos:
        k, dt = decode_only(v, args.frames)
        base_fps = k / dt
        r = full(v, args.frames)
        sfps, scpu = staged(v, args.frames)
        print(f"{v.name[:21]:<22}{r['frames']:>7}{r['decode_ms']:>8.2f}{r['detect_ms']:>8.2f}"
              f"{r['landmarks_ms']:>8.2f}{r['au_score_ms']:>9.2f}{r['total_ms']:>8.2f}{r['cpu_ms']:>6.2f}{r['fps']:>7.1f}"
              f"{sfps:>11.1f}{scpu:>6.2f}{base_fps:>17.1f}{sfps / base_fps:>7.3f}")
    lm_ms, bs_ms = network_floor(videos[0])
    print(f"networks alone (CPU ms per call, {videos[0].name}): landmarks {lm_ms:.2f} + blendshapes {bs_ms:.2f} "
          f"= {lm_ms + bs_ms:.2f} ms per tracked frame, the floor under both loops' cpu column")
    print("stage columns are mean milliseconds per frame of the frame-by-frame loop (one core); cpu: CPU "
          "milliseconds per frame of the whole process (all threads) in that loop and in the staged one; "
          "staged fps: the analyze loop (decode, track, score threads); ratio = staged fps / decode-only fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
