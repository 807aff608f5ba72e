"""MediaPipe's three face networks, run directly on LiteRT (Google's TFLite runtime), no Qt.

Why not the mediapipe package's ``FaceLandmarker``: in IMAGE mode it runs its own face
detector again on every input, also on a crop that already holds the face, and on turned,
laughing infants that inner detection fails while the whole-frame detector still sees the
face. Here the graph around the networks is ours: the landmark region of interest (ROI)
comes from the previous frame's landmarks (as in MediaPipe's own video mode and in
OpenFace), and the detector runs only to acquire, re-acquire and count faces.

The networks come from ``face_landmarker.task`` (a zip, Apache-2.0, Google):

* ``face_detector.tflite``: BlazeFace short range, 1x128x128x3 RGB in [-1, 1], letterboxed;
  896 SSD anchors x (16 regressors, 1 score logit). Regressors: box centre x, y, width,
  height, then 6 keypoints (subject's right eye, left eye, nose tip, mouth, right ear, left
  ear), all in input pixels relative to the anchor centre.
* ``face_landmarks_detector.tflite``: 1x256x256x3 RGB in [0, 1], a face crop rotated so the
  eyes are level -> 478 x (x, y, z) in crop pixels, and a face-presence logit.
* ``face_blendshapes.tflite``: 146 of the 478 landmarks (x, y in image pixels) -> 52 scores.
* ``geometry_pipeline_metadata_landmarks.binarypb``: the canonical face mesh and the
  Procrustes weights of its landmarks, used here for the head pose.

Constants (anchor layout, ROI scale 1.5, the 146-landmark subset) are those of MediaPipe's
face landmarker graph, so the networks see what they were trained on.
"""

from __future__ import annotations

import math
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..nets.device import requested_device, resolve_device
from .errors import ModelFileError

Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels

DETECTOR_SIZE = 128
LANDMARK_SIZE = 256
#: Side of the landmark ROI as a multiple of the face's box (MediaPipe: 1.5).
ROI_SCALE = 1.5
#: Eye-corner landmarks that set the ROI's rotation when tracking from landmarks.
ROI_EYE_RIGHT, ROI_EYE_LEFT = 33, 263

#: The 146 landmarks the blendshape network reads (MediaPipe's face_blendshapes_graph).
BLENDSHAPE_SUBSET: tuple[int, ...] = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66,
    67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145,
    146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 168, 172, 173, 176, 178,
    181, 185, 191, 195, 197, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291,
    293, 295, 296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356,
    361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397,
    398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)
#: The iris points (468-477) under a left-right mirror: each iris's centre and contour points map
#: onto the other's (measured: a mirrored fit matches the direct one to 0.02 eye distances).
IRIS_MIRROR: tuple[int, ...] = (473, 476, 475, 474, 477, 468, 471, 470, 469, 472)


def mirror_index(canonical: np.ndarray) -> np.ndarray:
    """(478,) permutation: landmark ``i`` of a mirrored face is landmark ``mirror_index[i]`` of the face.

    The canonical mesh (468 points, x across the face) is exactly symmetric, so each vertex's
    mirror is the vertex at (-x, y, z); the iris points follow :data:`IRIS_MIRROR`.
    """
    c = np.asarray(canonical, dtype=np.float64)[:, :3]
    m = c * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(c[:, None, :] - m[None, :, :], axis=2)
    perm = d.argmin(axis=1)
    if d.min(axis=1).max() > 1e-3 or not np.array_equal(perm[perm], np.arange(len(c))):
        raise ValueError("the canonical face mesh is not left-right symmetric")
    return np.concatenate([perm, np.asarray(IRIS_MIRROR)])


#: The blendshape network's 52 outputs, in order (ARKit names, as MediaPipe reports them).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)


@dataclass(frozen=True)
class Detection:
    """A face found by the detector: box in frame pixels and score 0-1.

    ``keypoints``: BlazeFace's 6 points in frame pixels (subject's right eye, left eye, nose
    tip, mouth center, right ear, left ear).
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class RotatedRect:
    """A square-or-not region of the frame: centre and size in pixels, rotation in radians.

    The rotation turns the image's x axis onto the region's x axis (positive = clockwise on
    screen, since image y points down), as MediaPipe's ``NormalizedRect.rotation``.
    """

    cx: float
    cy: float
    w: float
    h: float
    angle: float

    def crop_matrix(self, size: int) -> np.ndarray:
        """2x3 affine matrix from frame pixels to a ``size`` x ``size`` crop of this region."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        # crop -> frame: p = centre + R @ ((u/size - 0.5) * w, (v/size - 0.5) * h)
        a = np.array([[c * self.w / size, -s * self.h / size], [s * self.w / size, c * self.h / size]])
        t = np.array([self.cx, self.cy]) - a @ np.array([size / 2, size / 2])
        inv = np.linalg.inv(a)
        return np.hstack([inv, (-inv @ t)[:, None]]).astype(np.float32)


def _angle(p0: np.ndarray, p1: np.ndarray) -> float:
    """Rotation that levels the vector p0 -> p1 (MediaPipe: target 0 - atan2(-(dy), dx))."""
    a = -math.atan2(-(float(p1[1]) - float(p0[1])), float(p1[0]) - float(p0[0]))
    return (a + math.pi) % (2 * math.pi) - math.pi


def roi_from_points(box: Box, p0: np.ndarray, p1: np.ndarray, scale: float = ROI_SCALE) -> RotatedRect:
    """Square ROI around ``box`` (frame px), rotated to level p0 -> p1, side = scale x long side."""
    side = max(box[2], box[3]) * scale
    return RotatedRect(box[0] + box[2] / 2, box[1] + box[3] / 2, side, side, _angle(p0, p1))


def roi_from_detection(det: Detection, scale: float = ROI_SCALE) -> RotatedRect:
    """The first landmark ROI from a detection: rotation from BlazeFace's two eye keypoints."""
    if len(det.keypoints) >= 2:
        return roi_from_points(det.box, np.asarray(det.keypoints[0]), np.asarray(det.keypoints[1]), scale)
    return roi_from_points(det.box, np.zeros(2), np.array([1.0, 0.0]), scale)


def roi_from_landmarks(pts: np.ndarray, scale: float = ROI_SCALE) -> RotatedRect:
    """The next frame's ROI from this frame's landmarks (478, 2+) in frame pixels.

    The box is the landmarks' extent measured along the eye line, so a rolled head gets a
    region that fits it rather than the axis-aligned box around it.
    """
    p = np.asarray(pts[:, :2], dtype=np.float64)
    angle = _angle(p[ROI_EYE_RIGHT], p[ROI_EYE_LEFT])
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]])  # frame -> levelled
    q = p @ rot.T
    lo, hi = q.min(axis=0), q.max(axis=0)
    centre = rot.T @ ((lo + hi) / 2)
    side = float(max(hi - lo)) * scale
    return RotatedRect(float(centre[0]), float(centre[1]), side, side, angle)


def ssd_anchors() -> np.ndarray:
    """(896, 2) anchor centres in 0-1 for BlazeFace short range (strides 8, 16, 16, 16).

    Layers with the same stride share one grid; each layer puts 2 anchors per cell (aspect
    ratio 1 and the interpolated scale), so 16x16x2 + 8x8x6 = 896. Sizes are fixed (1).
    """
    out = []
    for stride, per_cell in ((8, 2), (16, 6)):
        n = DETECTOR_SIZE // stride
        ys, xs = np.mgrid[0:n, 0:n]
        c = np.stack([(xs + 0.5) / n, (ys + 0.5) / n], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(c, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou: float = 0.3) -> list[Detection]:
    """MediaPipe's weighted non-maximum suppression: each cluster becomes its score-weighted mean.

    ``boxes`` (N, 4) x, y, w, h; ``kps`` (N, 6, 2); ``scores`` (N,); all in frame pixels.
    """
    order = list(np.argsort(-scores))
    out: list[Detection] = []
    while order:
        top = order[0]
        tb = tuple(float(v) for v in boxes[top])
        cluster = [i for i in order if _iou(tb, tuple(float(v) for v in boxes[i])) > iou]
        cluster = cluster or [top]
        w = scores[cluster][:, None]
        b = (boxes[cluster] * w).sum(0) / w.sum()
        k = (kps[cluster] * w[:, :, None]).sum(0) / w.sum()
        out.append(Detection(tuple(float(v) for v in b), float(scores[top]),
                             tuple((float(x), float(y)) for x, y in k)))
        order = [i for i in order if i not in cluster]
    return out


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of one protobuf message (values raw)."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield num, wt, v


def read_canonical_face(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical mesh and Procrustes weights from ``geometry_pipeline_metadata_landmarks.binarypb``.

    Returns (vertices (468, 3) in centimetres, landmark ids (K,), weights (K,)). Parsed from
    the protobuf wire format directly (GeometryPipelineMetadata: field 1 = Mesh3d {3: vertex
    buffer of x, y, z, u, v floats}, field 2 = weighted landmark refs {1: id, 2: weight}), so
    no protobuf schema or package is needed.
    """
    ids, weights, verts = [], [], None
    for num, wt, v in _fields(data):
        if num == 2 and wt == 2:
            lid, w = 0, 0.0
            for n2, w2, v2 in _fields(v):
                if n2 == 1 and w2 == 0:
                    lid = v2
                elif n2 == 2 and w2 == 5:
                    w = struct.unpack("<f", v2)[0]
            ids.append(lid)
            weights.append(w)
        elif num == 1 and wt == 2:
            floats: list[float] = []
            for n2, w2, v2 in _fields(v):
                if n2 == 3 and w2 == 2:  # packed
                    floats.extend(struct.unpack(f"<{len(v2) // 4}f", v2))
                elif n2 == 3 and w2 == 5:
                    floats.append(struct.unpack("<f", v2)[0])
            verts = np.asarray(floats, dtype=np.float64).reshape(-1, 5)[:, :3]
    if verts is None or not ids:
        raise ValueError("no canonical mesh or Procrustes weights in the geometry metadata")
    return verts, np.asarray(ids, dtype=np.int64), np.asarray(weights, dtype=np.float64)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, x))))


class FaceNets:
    """The detector, landmark and blendshape networks of ``face_landmarker.task``.

    Args:
        model_path: the ``.task`` file.
        num_threads: LiteRT threads per network (1 measured fastest on 2 cores; the frame
            loop uses the other core).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; None = ``$AUEPA_DEVICE`` (set by
            ``--device``), else ``cpu``. The CPU runs LiteRT (the fastest path measured there:
            ``benchmarks/bench_face_torch.py``); CUDA runs the same graphs as torch modules
            (:mod:`auepa_monitor.nets.face_torch`, built from this file's weights at load).
        backend: ``litert`` or ``torch``; None = LiteRT on the CPU, torch on CUDA. ``torch`` on
            the CPU is for tests and benchmarks.
        half: float16 detector and landmark networks on CUDA (None: on; the blendshape network
            stays float32). Emulated on the CPU, float16 kept landmarks within 0.16 px of
            LiteRT's at the 256 px input and boxes within 0.15 px (tests/test_face_torch.py).
    """

    def __init__(self, model_path: str | Path, num_threads: int = 1, device: str | None = None,
                 backend: str | None = None, half: bool | None = None) -> None:
        path = Path(model_path)
        try:
            spec = requested_device(device) or "cpu"
            self.device = resolve_device(spec)
        except ValueError as e:
            raise ModelFileError(f"face networks: {e}") from e
        if backend is None:
            backend = "litert" if self.device == "cpu" else "torch"
        if backend not in ("litert", "torch") or (backend == "litert" and self.device != "cpu"):
            raise ModelFileError(f"face networks: backend {backend!r} cannot run on {self.device}")
        self.backend = backend
        self.half = (half is None or bool(half)) and self.device != "cpu"
        try:
            with zipfile.ZipFile(path) as z:
                blobs = {n: z.read(n) for n in ("face_detector.tflite", "face_landmarks_detector.tflite",
                                                "face_blendshapes.tflite",
                                                "geometry_pipeline_metadata_landmarks.binarypb")}
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise ModelFileError(f"{path} is not a MediaPipe face_landmarker.task bundle: {e}") from e
        if backend == "torch":
            self._init_torch(path, blobs)
        else:
            self._init_litert(path, blobs, num_threads)
        self.model_path = path
        self._anchors = ssd_anchors()
        self._subset = np.asarray(BLENDSHAPE_SUBSET)
        self._buffers: dict[str, np.ndarray] = {}  # see _in_buffer
        try:
            self._mirror = mirror_index(self.canonical)
        except ValueError as e:
            raise ModelFileError(f"cannot load face model {path}: {e}") from e

    def _init_litert(self, path: Path, blobs: dict[str, bytes], num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._det = Interpreter(model_content=blobs["face_detector.tflite"], num_threads=num_threads)
            self._lmk = Interpreter(model_content=blobs["face_landmarks_detector.tflite"], num_threads=num_threads)
            self._bs = Interpreter(model_content=blobs["face_blendshapes.tflite"], num_threads=num_threads)
            for it in (self._det, self._lmk, self._bs):
                it.allocate_tensors()
            self._check_shapes()
            self.canonical, self.procrustes_ids, self.procrustes_w = read_canonical_face(
                blobs["geometry_pipeline_metadata_landmarks.binarypb"])
        except (ValueError, RuntimeError, struct.error, IndexError) as e:
            raise ModelFileError(f"cannot load face model {path}: {str(e).splitlines()[0]}") from e
        self._det_in = self._det.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._det.get_output_details()}
        self._det_reg, self._det_score = outs["regressors"], outs["classificators"]
        self._lmk_in = self._lmk.get_input_details()[0]["index"]
        louts = sorted(self._lmk.get_output_details(), key=lambda d: -int(np.prod(d["shape"])))
        self._lmk_pts, self._lmk_presence = louts[0]["index"], [d for d in louts if d["name"] == "Identity_1"]
        self._lmk_presence = self._lmk_presence[0]["index"] if self._lmk_presence else louts[1]["index"]
        self._bs_in = self._bs.get_input_details()[0]["index"]
        self._bs_out = self._bs.get_output_details()[0]["index"]

    def _init_torch(self, path: Path, blobs: dict[str, bytes]) -> None:
        from ..nets.face_torch import TASK_MEMBERS, FaceTorchNets

        try:
            self.torch_nets = FaceTorchNets.from_task({k: blobs[v] for k, v in TASK_MEMBERS.items()},
                                                      self.device, half=self.half)
            nets = self.torch_nets
            want = {nets.detector: (1, DETECTOR_SIZE, DETECTOR_SIZE, 3),
                    nets.landmarks: (1, LANDMARK_SIZE, LANDMARK_SIZE, 3),
                    nets.blendshapes: (1, len(BLENDSHAPE_SUBSET), 2)}
            for m, shape in want.items():
                if tuple(m.input_shape) != shape:
                    raise ValueError(f"a network takes input {tuple(m.input_shape)}, expected {shape}")
            names = list(nets.landmarks.output_names)
            self._t_det = (nets.detector.output_names.index("regressors"),
                           nets.detector.output_names.index("classificators"))
            self._t_lmk = (0, names.index("Identity_1") if "Identity_1" in names else 1)
            self.canonical, self.procrustes_ids, self.procrustes_w = read_canonical_face(
                blobs["geometry_pipeline_metadata_landmarks.binarypb"])
        except (ValueError, RuntimeError, struct.error, IndexError) as e:
            raise ModelFileError(f"cannot load face model {path}: {str(e).splitlines()[0]}") from e

    def _check_shapes(self) -> None:
        want = {self._det: (1, DETECTOR_SIZE, DETECTOR_SIZE, 3), self._lmk: (1, LANDMARK_SIZE, LANDMARK_SIZE, 3),
                self._bs: (1, len(BLENDSHAPE_SUBSET), 2)}
        for it, shape in want.items():
            got = tuple(int(x) for x in it.get_input_details()[0]["shape"])
            if got != shape:
                raise ValueError(f"a network takes input {got}, expected {shape}")
        n = max(int(np.prod(d["shape"])) for d in self._lmk.get_output_details())
        if n != 478 * 3:
            raise ValueError(f"the landmark network gives {n} values, expected 478 x 3")

    # -- the networks, one call per batch ---------------------------------------------------
    def _torch_in(self, x: np.ndarray, scale: float, offset: float):
        """uint8 NHWC images -> the network's float input on the device (scaled there)."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)
        return t.float() * scale + offset if offset else t.float() * scale

    def _in_buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A reused (1, *shape) float32 input buffer: the uint8 -> float conversion into it takes
        0.02 ms per landmark crop against 0.55 ms into two new 0.8 MB arrays (measured alone).
        LiteRT copies it in ``set_tensor``; one FaceNets serves one thread at a time, as its
        interpreters do."""
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1:] != tuple(shape):
            buf = self._buffers[name] = np.empty((1, *shape), dtype=np.float32)
        return buf

    def run_detector(self, inp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw detector outputs for letterboxed uint8 RGB inputs (B, 128, 128, 3): regressors
        (B, 896, 16) and score logits (B, 896), float32."""
        if self.backend == "litert":
            regs, logits = [], []
            for img in inp:
                buf = self._in_buffer("det", img.shape)
                np.multiply(img, np.float32(2.0 / 255.0), out=buf[0], dtype=np.float32)
                np.subtract(buf, np.float32(1.0), out=buf)
                self._det.set_tensor(self._det_in, buf)
                self._det.invoke()
                regs.append(self._det.get_tensor(self._det_reg)[0])
                logits.append(self._det.get_tensor(self._det_score)[0, :, 0])
            return np.stack(regs), np.stack(logits)
        import torch

        with torch.inference_mode():
            out = self.torch_nets.detector(self._torch_in(inp, 2.0 / 255.0, -1.0))
            reg, score = out[self._t_det[0]].float().cpu().numpy(), out[self._t_det[1]].float().cpu().numpy()
        return reg, score[:, :, 0]

    def run_landmarks(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw landmark outputs for uint8 RGB crops (B, 256, 256, 3): points (B, 478, 3) in crop
        pixels and face-presence logits (B,), float32."""
        if self.backend == "litert":
            pts, pres = [], []
            for crop in crops:
                buf = self._in_buffer("lmk", crop.shape)
                np.multiply(crop, np.float32(1.0 / 255.0), out=buf[0], dtype=np.float32)
                self._lmk.set_tensor(self._lmk_in, buf)
                self._lmk.invoke()
                pts.append(self._lmk.get_tensor(self._lmk_pts).reshape(478, 3))
                pres.append(float(self._lmk.get_tensor(self._lmk_presence).ravel()[0]))
            return np.stack(pts), np.asarray(pres, dtype=np.float32)
        import torch

        with torch.inference_mode():
            out = self.torch_nets.landmarks(self._torch_in(crops, 1.0 / 255.0, 0.0))
            p = out[self._t_lmk[0]].float().reshape(len(crops), 478, 3).cpu().numpy()
            s = out[self._t_lmk[1]].float().reshape(len(crops)).cpu().numpy()
        return p, s

    def run_blendshapes(self, x: np.ndarray) -> np.ndarray:
        """Raw blendshape scores (B, 52) for (B, 146, 2) float32 landmark subsets."""
        if self.backend == "litert":
            out = []
            for v in x:
                self._bs.set_tensor(self._bs_in, np.ascontiguousarray(v, dtype=np.float32)[None])
                self._bs.invoke()
                out.append(self._bs.get_tensor(self._bs_out).ravel())
            return np.stack(out)
        import torch

        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            return self.torch_nets.blendshapes(t)[0].float().reshape(len(x), -1).cpu().numpy()

    # -- detector ---------------------------------------------------------------------------
    @staticmethod
    def _letterbox(rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The detector's 128x128 input (uint8) and its scale and offsets (letterbox, as MediaPipe)."""
        h, w = rgb.shape[:2]
        s = DETECTOR_SIZE / max(h, w)
        # Letterbox: centre the scaled image in the square input, as MediaPipe does.
        px, py = (DETECTOR_SIZE - w * s) / 2, (DETECTOR_SIZE - h * s) / 2
        m = np.array([[s, 0, px], [0, s, py]], dtype=np.float32)
        inp = cv2.warpAffine(rgb, m, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT)
        return inp, s, px, py

    def decode(self, raw: np.ndarray, logit: np.ndarray, s: float, px: float, py: float, min_score: float = 0.3,
               ox: float = 0.0, oy: float = 0.0, scale: float = 1.0,
               shift: tuple[float, float] = (0.0, 0.0)) -> list[Detection]:
        """Detections in frame pixels from one image's raw outputs: regressors (896, 16), score
        logits (896,); ``s``, ``px``, ``py`` from the letterbox (see :meth:`detect`)."""
        logit = np.clip(logit, -100, 100)
        scores = 1.0 / (1.0 + np.exp(-logit.astype(np.float64)))
        keep = np.nonzero(scores >= min_score)[0]
        if keep.size == 0:
            return []
        r, a, sc = raw[keep] / DETECTOR_SIZE, self._anchors[keep], scores[keep]
        cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
        bw, bh = r[:, 2], r[:, 3]
        kx = r[:, 4::2] + a[:, :1]
        ky = r[:, 5::2] + a[:, 1:2]

        # letterbox units (0-1 of the 128 input) -> frame pixels
        def fx(v):
            return ((v * DETECTOR_SIZE - px) / s + ox) * scale + shift[0]

        def fy(v):
            return ((v * DETECTOR_SIZE - py) / s + oy) * scale + shift[1]

        k = DETECTOR_SIZE / s * scale
        boxes = np.stack([fx(cx - bw / 2), fy(cy - bh / 2), bw * k, bh * k], axis=1)
        kps = np.stack([fx(kx), fy(ky)], axis=-1)
        return weighted_nms(boxes, kps, sc)

    def detect(self, rgb: np.ndarray, min_score: float = 0.3, ox: float = 0.0, oy: float = 0.0,
               scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> list[Detection]:
        """Faces in an RGB image (uint8, HxWx3), letterboxed to 128x128; boxes in frame pixels.

        ``ox``, ``oy`` are added to the coordinates (for tiles of a larger frame); ``scale`` and
        ``shift`` map the image's pixels to the frame's (frame = image * scale + shift), for an
        image that is itself a resampled region of the frame.
        """
        inp, s, px, py = self._letterbox(rgb)
        raw, logit = self.run_detector(inp[None])
        return self.decode(raw[0], logit[0], s, px, py, min_score, ox, oy, scale, shift)

    def detect_batch(self, images: list[np.ndarray], min_score: float = 0.3) -> list[list[Detection]]:
        """:meth:`detect` on several RGB images (frames of several streams) in one forward."""
        if not images:
            return []
        boxes = [self._letterbox(rgb) for rgb in images]
        raw, logit = self.run_detector(np.stack([b[0] for b in boxes]))
        return [self.decode(raw[i], logit[i], s, px, py, min_score) for i, (_, s, px, py) in enumerate(boxes)]

    def detect_region(self, rgb: np.ndarray, cx: float, cy: float, side: float,
                      min_score: float = 0.3) -> list[Detection]:
        """Faces inside the square of ``side`` pixels centred at (cx, cy), boxes in frame pixels.

        The region (padded with black beyond the frame) fills the detector's 128x128 input, so a
        small face is seen at a useful size and its keypoints are precise enough to check a fit.
        """
        x0, y0 = cx - side / 2, cy - side / 2
        s = DETECTOR_SIZE / max(side, 1.0)
        m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float32)
        inp = cv2.warpAffine(rgb, m, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT)
        return self.detect(inp, min_score, ox=0.0, oy=0.0, scale=1.0 / s, shift=(x0, y0))

    # -- landmarks --------------------------------------------------------------------------
    def landmarks(self, rgb: np.ndarray, roi: RotatedRect, mirror: bool = False
                  ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """Fit the 478 landmarks inside ``roi``.

        Returns (points (478, 3) float32: x, y frame pixels, z relative depth in the same pixel
        scale; face presence 0-1; the 256x256 RGB crop; the 2x3 frame->crop matrix).
        ``mirror``: the network sees the crop flipped left-right and its points are mapped back
        (positions and landmark numbers), so the result reads as a direct fit. The network is
        not symmetric: on some strongly turned faces only one of the two views finds the face.
        """
        return self.landmarks_batch([(rgb, roi)], mirror)[0]

    def landmarks_batch(self, items: list[tuple[np.ndarray, RotatedRect]], mirror: bool = False
                        ) -> list[tuple[np.ndarray, float, np.ndarray, np.ndarray]]:
        """:meth:`landmarks` for several (RGB frame, ROI) pairs (faces, frames, beds) in one forward."""
        if not items:
            return []
        mats = [roi.crop_matrix(LANDMARK_SIZE) for _, roi in items]
        if mirror:
            flip = np.array([[-1.0, 0.0, LANDMARK_SIZE], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
            mats = [(flip @ np.vstack([m, [0.0, 0.0, 1.0]]))[:2].astype(np.float32) for m in mats]
        crops = [cv2.warpAffine(rgb, m, (LANDMARK_SIZE, LANDMARK_SIZE), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT) for (rgb, _), m in zip(items, mats, strict=True)]
        raw_all, logits = self.run_landmarks(np.stack(crops))
        out = []
        for (_, roi), m, crop, raw, logit in zip(items, mats, crops, raw_all, logits, strict=True):
            presence = _sigmoid(float(logit))
            inv = cv2.invertAffineTransform(m)
            pts = np.empty((478, 3), dtype=np.float32)
            pts[:, :2] = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
            pts[:, 2] = raw[:, 2] * (roi.w / LANDMARK_SIZE)
            if mirror:
                pts = pts[self._mirror]
            out.append((pts, presence, crop, m))
        return out

    # -- blendshapes ------------------------------------------------------------------------
    def blendshapes(self, pts: np.ndarray) -> dict[str, float]:
        """The 52 blendshape scores (0-1) from 478 landmarks in frame pixels."""
        return self.blendshapes_batch([pts])[0]

    def blendshapes_batch(self, pts: list[np.ndarray]) -> list[dict[str, float]]:
        """:meth:`blendshapes` for several faces' landmarks in one forward."""
        if not pts:
            return []
        x = np.stack([np.asarray(p)[self._subset, :2] for p in pts]).astype(np.float32)
        out = self.run_blendshapes(x)
        return [{n: float(v) for n, v in zip(BLENDSHAPE_NAMES, row, strict=True)} for row in out]

    # -- head pose --------------------------------------------------------------------------
    def head_rotation(self, pts: np.ndarray) -> np.ndarray:
        """3x3 rotation of the head from the canonical face to these landmarks (weighted Procrustes).

        The landmarks are taken as an orthographic 3D shape (x right, y down, z away from the
        camera in pixels); they are mapped to the canonical mesh's axes (x right, y up, z
        towards the camera) before the fit.
        """
        ids, w = self.procrustes_ids, self.procrustes_w
        src = self.canonical[ids]
        dst = np.asarray(pts[ids], dtype=np.float64) * np.array([1.0, -1.0, -1.0])
        ws = w / w.sum()
        ms, md = (src * ws[:, None]).sum(0), (dst * ws[:, None]).sum(0)
        cov = ((dst - md) * ws[:, None]).T @ (src - ms)
        u, _, vt = np.linalg.svd(cov)
        d = np.sign(np.linalg.det(u @ vt))
        return u @ np.diag([1.0, 1.0, d]) @ vt
