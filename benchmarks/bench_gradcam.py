"""Grad-CAM cost on the CPU (and a GPU when present), and the overlay rate while a 30 fps video plays.

Part 1, ResNet18 at 224x224, batch 1, per torch thread count: ms per forward (the in-run
baseline), per Grad-CAM with our hooks (``core.gradcam.GradCam``: ``autograd.grad`` to
layer4, frozen parameters; contiguous and channels_last), per Grad-CAM with the full
``score.backward()`` (``gradcam.backward_cam``), and per Grad-CAM with the ``grad-cam``
package (``pytorch_grad_cam.GradCAM``) when it is installed; plus how far each map is from ours.

Part 2, the live case: the real Pipeline plays a 30 fps sample video at its own rate in one
thread (frames it cannot keep up with are skipped, as with a camera) while a CnnExplainer
explains the newest frame with a face in another thread. Each configuration (torch threads,
OMP_WAIT_POLICY) runs in a fresh subprocess because the OpenMP policy is fixed at start-up;
the first row of each is the pipeline alone (baseline). Reports pipeline fps, overlay Hz and
the overlay's age in frames.

Usage:
    python benchmarks/bench_gradcam.py [--video PATH] [--seconds 12] [--reps 20] [--skip-live]

The video defaults to ../shared/data/faces/2015-10-15-15-14.avi (relative to the repo).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_VIDEO = REPO.parent / "shared" / "data" / "faces" / "2015-10-15-15-14.avi"
sys.path.insert(0, str(REPO))


def _ms(fn, reps: int) -> float:
    fn()
    fn()  # warm-up (allocator, oneDNN primitives)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def part1(reps: int, threads: list[int], device: str) -> None:
    import torch

    from auepa_monitor.nets.pain_cnn import build_pain_cnn

    ClassifierOutputTarget = None  # noqa: N806
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        GradCAM = None  # noqa: N806
        print("grad-cam package: not installed (pip install --no-deps grad-cam==1.5.7 ttach to compare)")

    torch.manual_seed(0)
    base = build_pain_cnn("resnet18").eval().to(device)
    x = torch.randn(1, 3, 224, 224, device=device)
    cls = 1
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    for n in threads:
        if device == "cpu":
            torch.set_num_threads(n)
        _table(base, x, cls, reps, device, sync, GradCAM, ClassifierOutputTarget if GradCAM else None)


def _table(base, x, cls: int, reps: int, device: str, sync, GradCAM, ClassifierOutputTarget) -> None:  # noqa: N803
    """One table of timings for the current torch thread count."""
    import numpy as np
    import torch

    from auepa_monitor.core.gradcam import GradCam, backward_cam

    print(f"\n== ResNet18 224x224 batch 1 on {_device_name(device)}, torch threads {torch.get_num_threads()} ==")
    free = copy.deepcopy(base)  # parameters require grad, as a training-ready model has
    frozen = copy.deepcopy(base)
    frozen_cl = copy.deepcopy(base).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def fwd(m=frozen, xi=x):
        with torch.no_grad():
            m(xi)
        sync()

    own = GradCam(frozen, frozen.layer4)
    own_cl = GradCam(frozen_cl, frozen_cl.layer4)
    rows = {
        "forward (no grad)": _ms(fwd, reps),
        "forward channels_last": _ms(lambda: fwd(frozen_cl, x_cl), reps),
        "Grad-CAM own (autograd.grad)": _ms(lambda: (own(x, cls), sync()), reps),
        "Grad-CAM own, channels_last": _ms(lambda: (own_cl(x_cl, cls), sync()), reps),
        "Grad-CAM full backward()": _ms(lambda: (backward_cam(free, free.layer4, x, cls), sync()), reps),
    }
    ref = own(x, cls).cam
    diffs = {"Grad-CAM own, channels_last": float(np.abs(own_cl(x_cl, cls).cam - ref).max()),
             "Grad-CAM full backward()": float(np.abs(backward_cam(free, free.layer4, x, cls).cam - ref).max())}
    if GradCAM is not None:
        pkg_model = copy.deepcopy(base)
        pkg = GradCAM(model=pkg_model, target_layers=[pkg_model.layer4])
        targets = [ClassifierOutputTarget(cls)]
        rows["Grad-CAM grad-cam package"] = _ms(lambda: (pkg(input_tensor=x, targets=targets), sync()), reps)
        diffs["Grad-CAM grad-cam package"] = float(np.abs(pkg(input_tensor=x, targets=targets)[0] - ref).max())
    if device == "cuda":
        half = copy.deepcopy(base).half().to(memory_format=torch.channels_last)
        xh = x_cl.half()
        own_h = GradCam(half, half.layer4)
        rows["Grad-CAM own, fp16 channels_last"] = _ms(lambda: (own_h(xh, cls), sync()), reps)
        diffs["Grad-CAM own, fp16 channels_last"] = float(np.abs(own_h(xh, cls).cam - ref).max())
    fw = rows["forward (no grad)"]
    print(f"{'':34s} {'ms':>8s} {'x forward':>10s} {'max |map - own|':>16s}")
    for k, v in rows.items():
        d = f"{diffs[k]:.2e}" if k in diffs else ""
        print(f"{k:34s} {v:8.1f} {v / fw:10.2f} {d:>16s}")
    own.remove()
    own_cl.remove()



def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return f"CUDA {torch.cuda.get_device_name(0)}"
    return f"CPU ({os.cpu_count()} cores)"


def _make_checkpoint(path: Path) -> None:
    """A ResNet18 after one real SGD step on random tensors: timing only, never for display."""
    import torch

    from auepa_monitor.model_card import ModelCard
    from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, build_pain_cnn, save_checkpoint

    torch.manual_seed(0)
    model = build_pain_cnn("resnet18")
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 3, 64, 64)), torch.arange(8) % 4)
    loss.backward()
    opt.step()
    card = ModelCard(name="benchmark ResNet18", kind="pain_cnn", trained_on_infant_pain=False,
                     training_data="one SGD step on 8 random tensors (benchmark timing only)",
                     output_scale="4 pain levels", created=time.strftime("%Y-%m-%d"),
                     built_by="benchmarks/bench_gradcam.py")
    save_checkpoint(path, model, "resnet18", PAIN_CLASSES, card,
                    extra={"training": {"epochs": 1, "train_samples": 8, "note": "benchmark timing only"}})


def live_child(video: Path, seconds: float, threads: int, ckpt: Path, with_cnn: bool) -> dict:
    """Play ``video`` at its frame rate through the Pipeline; explain the newest face frame meanwhile."""
    import torch

    torch.set_num_threads(threads)
    from auepa_monitor.core.explain import CnnExplainer
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    pipe = Pipeline()
    src = VideoFileSource(video)
    fps = src.fps
    explainer = CnnExplainer(ckpt, device="cpu") if with_cnn else None
    newest: dict = {}
    lock = threading.Lock()
    stop = threading.Event()
    done = {"frames": 0, "skipped": 0}
    overlay: list[tuple[float, int, int, float]] = []  # (time, explained frame, newest frame then, ms)

    # Warm-up outside the measured time (model initialisation).
    fr = src.read()
    r = pipe.process(fr)
    if explainer is not None and r.face is not None:
        explainer.explain(fr.image, r.face, fr.index)

    def play() -> None:
        t0 = time.perf_counter()
        idx0 = fr.index
        while not stop.is_set():
            f = src.read()
            if f is None:
                src.seek(1)
                idx0 -= src.frame_count
                continue
            due = t0 + (f.index - idx0) / fps
            now = time.perf_counter()
            if now > due + 1.0 / fps:  # behind by more than a frame: skip it, as a live feed would
                done["skipped"] += 1
                continue
            if due > now:
                time.sleep(due - now)
            res = pipe.process(f)
            done["frames"] += 1
            with lock:
                newest["frame"] = done["frames"]
                if res.face is not None:
                    newest["item"] = (f, res, done["frames"])

    def explain() -> None:
        last = None
        while not stop.is_set():
            with lock:
                item = newest.get("item")
            if item is None or item[2] == last:
                time.sleep(0.002)
                continue
            f, res, k = item
            ex = explainer.explain(f.image, res.face, f.index)
            with lock:
                now_k = newest.get("frame", k)
            overlay.append((time.perf_counter(), k, now_k, ex.ms))
            last = k

    threads_ = [threading.Thread(target=play)]
    if explainer is not None:
        threads_.append(threading.Thread(target=explain))
    t_start = time.perf_counter()
    for t in threads_:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads_:
        t.join()
    wall = time.perf_counter() - t_start
    out = {"video_fps": fps, "pipeline_fps": done["frames"] / wall, "skipped": done["skipped"],
           "overlay_hz": len(overlay) / wall if explainer else 0.0, "load": os.getloadavg()[0]}
    if overlay:
        out["explain_ms_median"] = statistics.median(o[3] for o in overlay)
        out["overlay_age_frames_median"] = statistics.median(o[2] - o[1] for o in overlay)
    pipe.close()
    return out


def part2(video: Path, seconds: float) -> None:
    print(f"\n== Live: {video.name} played at its own rate through the Pipeline, explainer on the newest frame ==")
    if not video.is_file():
        print(f"video {video} not available: live part skipped")
        return
    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(d) / "bench_resnet18.pt"
        _make_checkpoint(ckpt)
        print(f"{'OMP_WAIT_POLICY':16s} {'threads':>7s} {'CNN':>4s} {'pipeline fps':>12s} {'skipped':>8s} "
              f"{'overlay Hz':>10s} {'explain ms':>10s} {'age (frames)':>12s} {'load':>5s}")
        for policy in ("PASSIVE", "(unset)"):
            for threads in (1, 2):
                for with_cnn in (False, True):
                    env = dict(os.environ)
                    env.pop("OMP_WAIT_POLICY", None)
                    if policy != "(unset)":
                        env["OMP_WAIT_POLICY"] = policy
                    cmd = [sys.executable, __file__, "--child", json.dumps(
                        {"video": str(video), "seconds": seconds, "threads": threads, "ckpt": str(ckpt),
                         "with_cnn": with_cnn})]
                    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds * 10 + 120)
                    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
                    if p.returncode != 0 or not lines:
                        print(f"{policy:16s} {threads:7d} {'yes' if with_cnn else 'no':>4s}  failed: "
                              f"{(p.stderr.strip().splitlines() or ['?'])[-1][:120]}")
                        continue
                    r = json.loads(lines[-1])
                    print(f"{policy:16s} {threads:7d} {'yes' if with_cnn else 'no':>4s} {r['pipeline_fps']:12.1f} "
                          f"{r['skipped']:8d} {r['overlay_hz']:10.1f} {r.get('explain_ms_median', 0):10.1f} "
                          f"{r.get('overlay_age_frames_median', 0):12.1f} {r['load']:5.1f}")
        print(f"(video plays at {r['video_fps']:.0f} fps; target: overlay >= 15 Hz with pipeline fps ~ video fps)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument("--seconds", type=float, default=12.0, help="seconds per live configuration")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", default="1,2", help="torch thread counts for part 1")
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        c = json.loads(a.child)
        print(json.dumps(live_child(Path(c["video"]), c["seconds"], c["threads"], Path(c["ckpt"]), c["with_cnn"])))
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    print(f"torch {torch.__version__}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work skews every figure)")
    part1(a.reps, [int(t) for t in a.threads.split(",")], "cpu")
    if torch.cuda.is_available():
        part1(a.reps, [torch.get_num_threads()], "cuda")
    else:
        print("\n(no CUDA GPU here: GPU figures not measured)")
    if not a.skip_live:
        part2(a.video, a.seconds)


if __name__ == "__main__":
    main()
