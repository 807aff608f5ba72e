"""Embedded AU engine vs OpenFace 2.2 on the same video: per-AU Pearson r and MAE, and fps of each.

    python benchmarks/compare_engines.py [VIDEO] [--openface-bin PATH] [--frames N]
    python benchmarks/compare_engines.py [VIDEO] --reference OPENFACE.csv [--frames N]

With a real FeatureExtraction (``--openface-bin``, ``$AUEPA_OPENFACE_BIN`` or PATH), OpenFace
runs on VIDEO (no cache, so its time is measured) and the embedded pipeline runs on the same
frames; without one, the script says so and exits 0. ``--reference`` compares the embedded
engine against an OpenFace CSV made earlier from VIDEO instead (no OpenFace fps then).

Both engines are read on the same tracked face of each frame: one Pipeline runs the embedded
engine through the app's frame loop (``core.frame_loop.process_frames``, as ``analyze`` runs it), and the OpenFace values of that frame are looked up with the same face check, so
frames where OpenFace failed or tracked another face are left out of the figures.
AU27 and AU43 are geometry in both engines (OpenFace's from its 68 landmarks).
Default VIDEO: ../shared/data/faces/default.wmv (relative to the repo).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FACES = REPO.parent / "shared" / "data" / "faces"


def pearson(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", default=str(FACES / "default.wmv"))
    ap.add_argument("--openface-bin", help="FeatureExtraction to run (else $AUEPA_OPENFACE_BIN, else PATH)")
    ap.add_argument("--reference", help="an OpenFace CSV of VIDEO to compare against instead of running OpenFace")
    ap.add_argument("--frames", type=int, default=0, help="compare only the first N frames (0: all)")
    args = ap.parse_args(argv)

    import numpy as np

    from auepa_monitor.core.errors import AuepaError, EngineUnavailable
    from auepa_monitor.core.frame_loop import process_frames
    from auepa_monitor.core.openface import OpenFaceAUEngine, find_feature_extraction
    from auepa_monitor.core.pipeline import AUValuesMissing, Pipeline
    from auepa_monitor.core.records import REPORTED_AUS
    from auepa_monitor.core.sources import open_source

    video = Path(args.video)
    if not video.exists():
        print(f"error: {video} does not exist", file=sys.stderr)
        return 2
    of_fps = None
    try:
        if args.reference:
            of = OpenFaceAUEngine(video, reference_csv=args.reference)
            print(f"OpenFace values: reference CSV {args.reference} (not run here, no OpenFace fps)")
        else:
            try:
                inst = find_feature_extraction(args.openface_bin)
            except EngineUnavailable as e:
                print(f"No real OpenFace FeatureExtraction available, nothing to compare: {e}")
                print("(use --reference OPENFACE.csv to compare the embedded engine with an earlier OpenFace output)")
                return 0
            print(f"OpenFace: {inst.exe} (found by {inst.found_by}) {' '.join(inst.notes)}")
            with tempfile.TemporaryDirectory(prefix="auepa-cmp-cache-") as cache:  # no cache hit: time a real run
                t0 = time.perf_counter()
                of = OpenFaceAUEngine(video, binary=args.openface_bin, cache_dir=cache)
                of_s = time.perf_counter() - t0
            of_fps = len(of.table) / of_s if of_s > 0 else float("nan")
    except AuepaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    pipe = Pipeline()  # the embedded engine
    emb_vals: dict[int, list[float]] = {a: [] for a in REPORTED_AUS}
    of_vals: dict[int, list[float]] = {a: [] for a in REPORTED_AUS}
    n = with_face = missing = 0
    t_engine = 0.0  # the embedded AU engine alone, s
    t_extra = 0.0  # this script's own work between frames (engine alone, OpenFace lookup): not the pipeline's
    t_first = 0.0
    with open_source(video) as src:
        # The app's frame loop, as analyze runs it (decode and tracking threads ahead of scoring).
        for f, r in process_frames(src, pipe, args.frames or None):
            n += 1
            if n == 1:  # the first frame includes model initialisation: compared, not timed
                t_first = time.perf_counter()
            if r.face is None:
                continue
            with_face += 1
            t0 = time.perf_counter()
            pipe.au_engine.estimate(r.face, f)  # the engine alone (its baseline state moves one more step)
            t_engine += time.perf_counter() - t0
            try:
                o = of.estimate(r.face, f)
            except AUValuesMissing:
                missing += 1
                continue
            finally:
                t_extra += time.perf_counter() - t0
            for a in REPORTED_AUS:
                emb_vals[a].append(r.au[a])
                of_vals[a].append(o[a])
        t_pipe = time.perf_counter() - t_first - t_extra if n > 1 else 0.0
    pipe.close()
    k = len(emb_vals[REPORTED_AUS[0]])
    print(f"{video.name}: {n} frames, target face in {with_face}, compared {k} "
          f"({missing} without OpenFace values: failed fit or another face)")
    print(f"{'AU':>5} {'r':>7} {'MAE':>6} {'mean emb':>9} {'mean OF':>8}")
    for a in REPORTED_AUS:
        e, o = np.array(emb_vals[a]), np.array(of_vals[a])
        if not k:
            break
        tag = " (geometry in both)" if a in (27, 43) else ""
        print(f"AU{a:02d} {pearson(e, o):7.3f} {np.abs(e - o).mean():6.3f} {e.mean():9.3f} {o.mean():8.3f}{tag}")
    if k:
        rs = [pearson(emb_vals[a], of_vals[a]) for a in REPORTED_AUS if a not in (27, 43)]
        print(f"mean r over OpenFace's AUs: {np.nanmean(rs):.3f}")
    pipe_fps = (n - 1) / t_pipe if t_pipe else float("nan")
    print(f"embedded: whole pipeline {pipe_fps:.1f} fps (decode + face tracking + AUs + scores, the staged loop "
          "analyze runs), "
          f"AU engine alone {1000 * t_engine / max(with_face, 1):.2f} ms/frame")
    if of_fps is not None:
        print(f"OpenFace: FeatureExtraction {of_fps:.1f} fps over the whole file (its own tracking + AUs, "
              f"model loading included); ratio OpenFace/embedded pipeline fps = {of_fps / pipe_fps:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
