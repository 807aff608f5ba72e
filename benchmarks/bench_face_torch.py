"""Face networks on torch (CPU or CUDA) against LiteRT, and what one GPU holds.

Parts (``--parts``, default all):

* ``nets``: ms per call of each network at batch 1: LiteRT (1 thread, the program's CPU path),
  torch on the CPU (1 and 2 threads), torch on ``--device`` (float32 and float16); plus the
  time to build the torch modules from the .task file.
* ``streams``: batched landmark throughput on ``--device`` (uint8 crops in, points out, copies
  included) for batch 1..256, blendshapes and the detector likewise, and from them how many 30 fps
  streams the device holds (per frame: one landmark and one blendshape pass, the detector every
  10th frame, as the tracker runs them). The networks only: decoding, cropping and the AU engine
  run on the CPU cores, counted by ``analyze``.
* ``gradcam``: Grad-CAM overlays per second of a ResNet18 (CnnExplainer: align, forward,
  autograd to layer4, warp back) on ``--device``, one frame at a time; and batched over 8 beds.
* ``latency``: per-frame latency of the tracker (FaceTracker.process: detect, landmarks,
  blendshapes) on ``--device`` over the sample video, median and 95th percentile.
* ``analyze``: ``auepa-monitor analyze VIDEO --device D`` as its own process: fps as the summary
  reports it and wall seconds, start-up included.

    python benchmarks/bench_face_torch.py [--device cuda] [--parts nets,streams,...] [--video PATH]

CUDA parts on a machine without CUDA print one line saying so and are skipped. ``--json FILE``
writes the figures too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "faces" / "2015-10-15-15-14.avi"
sys.path.insert(0, str(REPO))

RESULTS: dict = {}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn, reps: int, device: str = "cpu", warm: int = 3) -> float:
    """Median ms of ``fn`` over ``reps`` calls after ``warm`` calls."""
    for _ in range(warm):
        fn()
    _sync(device)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _litert():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def _sample_crops(n: int):
    """Real 256x256 face crops (ROIs from the detector on the sample video), repeated to n."""
    import cv2
    import numpy as np

    from auepa_monitor.core.face import find_face_model
    from auepa_monitor.core.face_nets import FaceNets, roi_from_detection

    nets = FaceNets(find_face_model(), device="cpu", backend="torch" if _litert() is None else None)
    crops = []
    if DEFAULT_VIDEO.exists():
        cap = cv2.VideoCapture(str(DEFAULT_VIDEO))
        while len(crops) < 16:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            for d in nets.detect(rgb)[:1]:
                m = roi_from_detection(d).crop_matrix(256)
                crops.append(cv2.warpAffine(rgb, m, (256, 256), flags=cv2.INTER_LINEAR))
            for _ in range(20):
                cap.grab()
    if not crops:  # no sample media: noise (speed does not depend on content)
        crops = list(np.random.default_rng(0).integers(0, 255, (16, 256, 256, 3), dtype=np.uint8))
    return np.stack([crops[i % len(crops)] for i in range(n)])


def part_nets(device: str, reps: int) -> None:
    import numpy as np
    import torch

    from auepa_monitor.core.face import find_face_model
    from auepa_monitor.nets.face_torch import FaceTorchNets, read_task

    blobs = read_task(find_face_model())
    t0 = time.perf_counter()
    nets = FaceTorchNets.from_task(blobs)
    build_ms = (time.perf_counter() - t0) * 1000
    print(f"\n== nets: ms per call, batch 1 (torch modules built from the .task in {build_ms:.0f} ms)")
    rng = np.random.default_rng(0)
    inputs = {"detector": rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32),
              "landmarks": rng.uniform(0, 1, (1, 256, 256, 3)).astype(np.float32),
              "blendshapes": rng.uniform(0, 300, (1, 146, 2)).astype(np.float32)}
    rows: dict[str, dict[str, float]] = {k: {} for k in inputs}
    interp = _litert()
    if interp is not None:
        for k, x in inputs.items():
            it = interp(model_content=blobs[k], num_threads=1)
            it.allocate_tensors()
            idx = it.get_input_details()[0]["index"]

            def run(it=it, idx=idx, x=x):
                it.set_tensor(idx, x)
                it.invoke()

            rows[k]["litert_cpu_1t"] = timed(run, reps)
    else:
        print("  (LiteRT's runtime is not installed here: no LiteRT column)")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for k, x in inputs.items():
            mod, xt = getattr(nets, k), torch.from_numpy(x)
            with torch.inference_mode():
                rows[k][f"torch_cpu_{threads}t"] = timed(lambda mod=mod, xt=xt: mod(xt), reps)
    if device.startswith("cuda"):
        for half in (False, True):
            gn = FaceTorchNets.from_task(blobs, device, half=half)
            for k, x in inputs.items():
                mod = getattr(gn, k)
                xt = torch.from_numpy(x).to(device)
                with torch.inference_mode():
                    rows[k][f"torch_{'fp16' if half else 'fp32'}_{device}"] = timed(
                        lambda mod=mod, xt=xt: mod(xt), reps, device)
    for k, r in rows.items():
        print(f"  {k:12s} " + "  ".join(f"{c} {v:7.2f}" for c, v in r.items()))
    RESULTS["nets_ms"] = rows
    RESULTS["build_ms"] = build_ms


def part_streams(device: str, reps: int, half: bool) -> None:
    import numpy as np

    from auepa_monitor.core.face import find_face_model
    from auepa_monitor.core.face_nets import FaceNets

    nets = FaceNets(find_face_model(), device=device, backend="torch", half=half)
    sizes = (1, 8, 32, 64, 128, 256) if device.startswith("cuda") else (1, 8)
    crops = _sample_crops(max(sizes))
    pts = np.random.default_rng(0).uniform(50, 400, (max(sizes), 146, 2)).astype(np.float32)
    det_in = crops[:, ::2, ::2].copy()  # 128x128 letterboxed-size inputs
    print(f"\n== streams: batched throughput on {device} ({'float16' if half else 'float32'}; copies included)")
    best = None
    rows = []
    for b in sizes:
        t_l = timed(lambda b=b: nets.run_landmarks(crops[:b]), reps, device)
        t_b = timed(lambda b=b: nets.run_blendshapes(pts[:b]), reps, device)
        t_d = timed(lambda b=b: nets.run_detector(det_in[:b]), reps, device)
        per_frame = (t_l + t_b + t_d / 10) / b  # ms of device time per stream frame
        streams = 1000 / (30 * per_frame)
        rows.append({"batch": b, "landmarks_ms": t_l, "blendshapes_ms": t_b, "detector_ms": t_d,
                     "crops_per_s": 1000 * b / t_l, "streams_30fps": streams})
        print(f"  batch {b:4d}: landmarks {t_l:7.2f} ms ({1000 * b / t_l:8.0f} crops/s), blendshapes {t_b:6.2f} ms, "
              f"detector {t_d:6.2f} ms -> {streams:6.1f} streams at 30 fps")
        if best is None or streams > best["streams_30fps"]:
            best = rows[-1]
    RESULTS.setdefault("streams", {})["fp16" if half else "fp32"] = {"rows": rows, "best": best}
    print(f"  one {device} holds about {best['streams_30fps']:.0f} streams of 30 fps (networks only, batch "
          f"{best['batch']})")


def _fit(device: str):
    import cv2

    from auepa_monitor.core.face import FaceTracker, find_face_model
    from auepa_monitor.core.face_nets import FaceNets

    tracker = FaceTracker(nets=FaceNets(find_face_model(), device=device,
                                        backend="torch" if device != "cpu" or _litert() is None else None))
    cap = cv2.VideoCapture(str(DEFAULT_VIDEO))
    for _ in range(200):
        ok, bgr = cap.read()
        if not ok:
            break
        fit, _ = tracker.process(bgr)
        if fit is not None:
            return bgr, fit
    raise SystemExit(f"no face in the first frames of {DEFAULT_VIDEO}")


def part_gradcam(device: str, reps: int) -> None:
    import torch

    from auepa_monitor.core.explain import CnnExplainer
    from auepa_monitor.model_card import ModelCard
    from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, build_pain_cnn, preprocess, save_checkpoint

    if not DEFAULT_VIDEO.exists():
        print(f"\n== gradcam: skipped ({DEFAULT_VIDEO} is absent)")
        return
    bgr, fit = _fit(device)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        path = Path(tmp) / "bench_resnet18.pt"
        card = ModelCard(name="benchmark ResNet18 (random weights)", kind="pain_cnn", trained_on_infant_pain=False,
                         training_data="none: timing only", output_scale="4 pain levels", created="2026-11-30",
                         built_by="benchmarks/bench_face_torch.py")
        # Random weights take as long as trained ones; the record only lets the explainer load it.
        save_checkpoint(path, build_pain_cnn("resnet18"), "resnet18", PAIN_CLASSES, card,
                        extra={"training": {"epochs": 1, "train_samples": 1, "steps": 1}})
        ex = CnnExplainer(path, device=device)
        ms = timed(lambda: ex.explain(bgr, fit, 1, accumulate=False), reps, device)
        from auepa_monitor.core.au_regions import align_face

        crop = align_face(bgr, fit.image_landmarks).image
        x = torch.cat([preprocess(crop, ex.device, ex._dtype, ex.channels_last)] * 8)  # noqa: SLF001
        ms8 = timed(lambda: ex._cam.many(x), reps, device)  # noqa: SLF001
        ex.close()
    print(f"\n== gradcam on {device}: {ms:.1f} ms per overlay ({1000 / ms:.0f} Hz, one stream); "
          f"8 beds batched: {ms8:.1f} ms ({8000 / ms8:.0f} overlays/s)")
    RESULTS["gradcam"] = {"ms": ms, "hz": 1000 / ms, "batch8_ms": ms8, "batch8_per_s": 8000 / ms8}


def part_latency(device: str, frames: int) -> None:
    import cv2
    import numpy as np

    from auepa_monitor.core.face import FaceTracker, find_face_model
    from auepa_monitor.core.face_nets import FaceNets

    if not DEFAULT_VIDEO.exists():
        print(f"\n== latency: skipped ({DEFAULT_VIDEO} is absent)")
        return
    backend = "torch" if device != "cpu" or _litert() is None else None
    tracker = FaceTracker(nets=FaceNets(find_face_model(), device=device, backend=backend))
    cap = cv2.VideoCapture(str(DEFAULT_VIDEO))
    times, fits = [], 0
    for _ in range(frames):
        ok, bgr = cap.read()
        if not ok:
            break
        t0 = time.perf_counter()
        fit, _ = tracker.process(bgr)
        times.append((time.perf_counter() - t0) * 1000)
        fits += fit is not None
    times = times[5:]  # warm-up (cuDNN autotune, allocator)
    med, p95 = float(np.median(times)), float(np.percentile(times, 95))
    print(f"\n== latency of the tracker on {device} ({tracker.nets.backend}): median {med:.1f} ms, 95th percentile "
          f"{p95:.1f} ms per frame over {len(times)} frames (face fitted on {fits})")
    RESULTS["latency_ms"] = {"median": med, "p95": p95, "frames": len(times), "fits": fits}


def part_analyze(device: str, video: Path, timeout: float) -> None:
    if not video.exists():
        print(f"\n== analyze: skipped ({video} is absent)")
        return
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "auepa_monitor", "analyze", str(video), "--out", out, "--quiet", "--force",
               "--device", device]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"\n== analyze --device {device}: did not finish in {timeout:.0f} s")
            return
        wall = time.perf_counter() - t0
        summary = Path(out) / f"{video.stem}.summary.json"
        if p.returncode != 0 or not summary.exists():
            print(f"\n== analyze --device {device}: failed (exit {p.returncode}): {p.stderr.strip()[-800:]}")
            RESULTS["analyze"] = {"failed": p.returncode}
            return
        s = json.loads(summary.read_text())
    fps = s.get("fps")
    print(f"\n== analyze {video.name} --device {device}: {s.get('frames')} frames, {fps:.1f} fps (summary), "
          f"{wall:.1f} s wall with start-up; target tracked in {s.get('frames_tracked')}")
    RESULTS["analyze"] = {"fps": fps, "wall_s": wall, "frames": s.get("frames"),
                          "frames_tracked": s.get("frames_tracked")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    ap.add_argument("--parts", default="nets,streams,gradcam,latency,analyze")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--latency-frames", type=int, default=300)
    ap.add_argument("--analyze-timeout", type=float, default=240)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    import torch

    from auepa_monitor.nets.device import resolve_device

    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "CPU"
    print(f"device: {device} ({name}); torch {torch.__version__}; {os.cpu_count()} CPU cores")
    RESULTS["device"] = {"device": device, "name": name, "torch": torch.__version__, "cpus": os.cpu_count()}
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    cuda_only = {"streams", "gradcam", "latency", "analyze"}
    for part in parts:
        if part in cuda_only and not device.startswith("cuda") and args.device != "cpu":
            print(f"\n== {part}: skipped (no CUDA device here; --device cpu runs it on the CPU)")
            continue
        t0 = time.perf_counter()
        if part == "nets":
            part_nets(device, args.reps)
        elif part == "streams":
            part_streams(device, args.reps, half=False)
            if device.startswith("cuda"):
                part_streams(device, args.reps, half=True)
        elif part == "gradcam":
            part_gradcam(device, args.reps)
        elif part == "latency":
            part_latency(device, args.latency_frames)
        elif part == "analyze":
            part_analyze(device, args.video, args.analyze_timeout)
        else:
            raise SystemExit(f"unknown part {part!r}")
        print(f"   ({part}: {time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
