"""Read a TFLite flatbuffer into a plain graph description (numpy, no TFLite runtime, no torch).

The reader uses the TFLite schema module that LiteRT ships (``ai_edge_litert.schema_py_generated``,
pure Python over the ``flatbuffers`` package; it loads none of LiteRT's native libraries), so it
adds no dependency: ``ai-edge-litert`` is already pinned for the CPU path. Everything comes from
the file: tensor shapes, operator options (read by reflection over the schema's accessors) and
the weights (``buffers``); float16 weights that the graph dequantizes are folded into float32
constants here, as the runtime does once at load.

:class:`GraphSpec` is what :mod:`.face_torch` turns into a torch module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelFileError


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str  # FLOAT32, FLOAT16, INT32, ...


@dataclass(frozen=True)
class OpSpec:
    """One operator: its builtin name, tensor indices (-1 = optional input absent), options."""

    op: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict


@dataclass
class GraphSpec:
    """The first subgraph of a .tflite model.

    ``consts``: tensor index -> value for tensors with data in the file (and DEQUANTIZE outputs
    of such tensors, folded to float32). ``ops`` excludes the folded DEQUANTIZE operators.
    """

    name: str
    tensors: dict[int, TensorInfo]
    consts: dict[int, np.ndarray]
    ops: list[OpSpec]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    folded: dict[str, int] = field(default_factory=dict)

    def op_counts(self) -> dict[str, int]:
        """Operator name -> count, the folded DEQUANTIZE operators included."""
        out: dict[str, int] = dict(self.folded)
        for o in self.ops:
            out[o.op] = out.get(o.op, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def output_names(self) -> list[str]:
        return [self.tensors[i].name for i in self.outputs]


_NP_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT64": np.int64,
             "UINT8": np.uint8, "INT8": np.int8, "BOOL": np.bool_, "INT16": np.int16}


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as s
    except ImportError as e:  # pragma: no cover - ai-edge-litert is a pinned dependency
        raise ModelFileError("reading .tflite files needs the ai-edge-litert package (requirements.txt)") from e
    return s


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _options(s, op, names: dict[int, str]) -> dict:
    """An operator's builtin options as a dict, read by reflection over the schema's accessors."""
    kind = names.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if kind == "NONE" or table is None:
        return {}
    cls = getattr(s, kind)
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict = {}
    for attr in dir(cls):
        if attr.startswith("_") or attr in ("Init",) or attr.startswith("GetRootAs") or attr.endswith(
                ("Length", "IsNone", "BufferHasIdentifier")):
            continue
        fn = getattr(obj, attr)
        if not callable(fn):
            continue
        if attr.endswith("AsNumpy"):
            v = fn()
            out[attr[: -len("AsNumpy")]] = np.asarray(v).tolist() if not isinstance(v, int) else []
            continue
        if attr + "AsNumpy" in dir(cls):
            continue
        try:
            out[attr] = fn()
        except TypeError:  # accessor of a vector element (needs an index)
            continue
    return out


def read_tflite(data: bytes, name: str = "") -> GraphSpec:
    """Parse a .tflite flatbuffer (bytes) into a :class:`GraphSpec`."""
    s = _schema()
    try:
        model = s.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise ValueError(f"{model.SubgraphsLength()} subgraphs, expected 1")
        op_names = _enum_names(s.BuiltinOperator)
        opt_names = _enum_names(s.BuiltinOptions)
        type_names = _enum_names(s.TensorType)
        codes = []
        for i in range(model.OperatorCodesLength()):
            c = model.OperatorCodes(i)
            codes.append(op_names.get(max(int(c.BuiltinCode()), int(c.DeprecatedBuiltinCode())), "CUSTOM"))
        g = model.Subgraphs(0)
        tensors: dict[int, TensorInfo] = {}
        consts: dict[int, np.ndarray] = {}
        for i in range(g.TensorsLength()):
            t = g.Tensors(i)
            shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            dtype = type_names.get(t.Type(), str(t.Type()))
            tensors[i] = TensorInfo((t.Name() or b"").decode(), shape, dtype)
            buf = model.Buffers(t.Buffer())
            if buf is not None and buf.DataLength() > 0:
                if dtype not in _NP_TYPES:
                    raise ValueError(f"tensor {i} has unsupported type {dtype}")
                raw = buf.DataAsNumpy().tobytes()
                consts[i] = np.frombuffer(raw, dtype=_NP_TYPES[dtype]).reshape(shape).copy()
            elif buf is not None and buf.Offset() > 1:  # weights stored after the flatbuffer (large models)
                dtype_np = np.dtype(_NP_TYPES[dtype])
                raw = data[buf.Offset(): buf.Offset() + buf.Size()]
                consts[i] = np.frombuffer(raw, dtype=dtype_np).reshape(shape).copy()
        ops: list[OpSpec] = []
        folded: dict[str, int] = {}
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            kind = codes[op.OpcodeIndex()]
            ins = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
            outs = tuple(int(v) for v in op.OutputsAsNumpy())
            if kind == "DEQUANTIZE" and len(ins) == 1 and ins[0] in consts:
                consts[outs[0]] = consts[ins[0]].astype(np.float32)
                folded[kind] = folded.get(kind, 0) + 1
                continue
            ops.append(OpSpec(kind, ins, outs, _options(s, op, opt_names)))
        inputs = tuple(int(v) for v in g.InputsAsNumpy())
        outputs = tuple(int(v) for v in g.OutputsAsNumpy())
    except (ValueError, IndexError, AttributeError, TypeError) as e:
        raise ModelFileError(f"cannot read {name or 'a .tflite network'}: {e}") from e
    return GraphSpec(name, tensors, consts, ops, inputs, outputs, folded)
