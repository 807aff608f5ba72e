"""Whole-process ``auepa-monitor analyze`` against OpenFace 2.2 ``FeatureExtraction -aus`` on one video.

Both are timed as separate processes, start-up included, ``--runs`` times each (best run
reported), in the same run of this script: wall seconds, CPU seconds (user + system of the
child), fps and CPU milliseconds per frame. The baseline is OpenFace when it is installed
(``AUEPA_OPENFACE_BIN``, or on PATH), otherwise decoding the video alone in a process.

    python benchmarks/bench_analyze.py [VIDEO] [--runs 3]

Defaults to ../shared/data/faces/2015-10-15-15-14.avi (relative to the repo).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FACES = REPO.parent / "shared" / "data" / "faces"
DECODE_ONLY = ("import sys, cv2\ncap = cv2.VideoCapture(sys.argv[1])\nn = 0\n"
               "while cap.read()[0]:\n    n += 1\nprint(n)\n")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one process run to completion; raises on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({p.returncode}): {p.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def best(cmd: list[str], runs: int) -> tuple[float, float]:
    return min((timed(cmd) for _ in range(runs)), key=lambda r: r[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", type=Path, default=FACES / "2015-10-15-15-14.avi")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.video.exists():
        print(f"video not found: {args.video}", file=sys.stderr)
        return 2
    import cv2

    from auepa_monitor.core.errors import AuepaError
    from auepa_monitor.core.openface import find_feature_extraction

    cap = cv2.VideoCapture(str(args.video))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    exe = Path(sys.executable).with_name("auepa-monitor")
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = best([str(exe), "analyze", str(args.video), "--out", str(Path(tmp) / "ours"), "--force"], args.runs)
        rows.append(("auepa-monitor analyze", *ours))
        try:
            inst = find_feature_extraction()
            cmd = [str(inst.exe.resolve()), "-f", str(args.video), "-aus", "-out_dir", str(Path(tmp) / "of")]
            if inst.mloc is not None:
                cmd += ["-mloc", str(inst.mloc)]
            base_name, base = "OpenFace FeatureExtraction -aus", best(cmd, args.runs)
        except AuepaError as e:
            print(f"OpenFace not available ({str(e).splitlines()[0]}); baseline: decoding alone")
            base_name, base = "decode only (python + cv2)", best([sys.executable, "-c", DECODE_ONLY,
                                                                   str(args.video)], args.runs)
        rows.append((base_name, *base))
    print(f"{args.video.name}: {frames} frames, {os.cpu_count()} cores, best of {args.runs}")
    print(f"{'':<34}{'wall s':>8}{'CPU s':>8}{'fps':>8}{'CPU ms/frame':>14}")
    for name, wall, cpu in rows:
        print(f"{name:<34}{wall:>8.2f}{cpu:>8.2f}{frames / wall:>8.1f}{1000 * cpu / frames:>14.2f}")
    print(f"speed ratio (ours / {rows[1][0]}): {rows[1][1] / rows[0][1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
