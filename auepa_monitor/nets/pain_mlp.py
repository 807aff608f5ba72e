"""The pain regressor for serving: its forward pass in numpy, and a torch-free reader of its model file.

Why: importing torch takes about 1.2 s on the 2-core machines we measure on, a sixth of ``analyze``'s
whole run on a 28 s video, and serving the regressor (7 inputs, 3 hidden units, 1 output) needs
none of it. Training keeps the torch module (:class:`~auepa_monitor.nets.pain_regressor.PainRegressor`),
which writes the file with ``torch.save`` and converts itself to these weights
(``PainRegressor.weights``); a test checks that both forward passes agree on the shipped prior.

:func:`read_model_file` reads the subset of torch's zip format that file holds (a pickle of dicts,
lists, strings, numbers and float32 tensors, their bytes stored beside it in the zip), allowing no
other classes, as ``torch.load(weights_only=True)`` does.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelFileError

FORMAT = "auepa.pain_regressor/1"
#: torch storage classes a regressor file may hold -> numpy dtype.
_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


@dataclass(frozen=True)
class MLPWeights:
    """The regressor's parameters: input (k,) AU intensities 0-5 -> pain score 0-10.

    ``engagement`` (k,) multiplies the input element-wise; ``w1`` (hidden, k), ``b1`` (hidden,),
    ``w2`` (1, hidden), ``b2`` (1,); float32 like the torch module.
    """

    core_aus: tuple[int, ...]
    engagement: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def score(self, au: Mapping[int, float]) -> float:
        """Pain score 0-10 (clamped) for one frame's AU intensities (AU number -> 0-5)."""
        x = np.array([float(au.get(a, 0.0)) for a in self.core_aus], dtype=np.float32) * self.engagement
        h = np.maximum(self.w1 @ x + self.b1, 0.0)  # dropout is off when serving
        return float(min(10.0, max(0.0, float((self.w2 @ h + self.b2)[0]))))

    @classmethod
    def from_state(cls, core_aus: Sequence[int], state: Mapping[str, np.ndarray]) -> MLPWeights:
        """From the torch module's state dict (as numpy arrays): keys ``engagement``, ``net.0.*``, ``net.3.*``."""
        f = lambda k: np.ascontiguousarray(np.asarray(state[k], dtype=np.float32))  # noqa: E731
        w = cls(tuple(int(a) for a in core_aus), f("engagement"), f("net.0.weight"), f("net.0.bias"),
                f("net.3.weight"), f("net.3.bias"))
        k, hidden = len(w.core_aus), w.w1.shape[0]
        if w.engagement.shape != (k,) or w.w1.shape != (hidden, k) or w.b1.shape != (hidden,) \
                or w.w2.shape != (1, hidden) or w.b2.shape != (1,):
            raise ValueError(f"weight shapes do not fit {k} inputs: w1 {w.w1.shape}, w2 {w.w2.shape}")
        return w


class _Reader(pickle.Unpickler):
    """Unpickles torch's data.pkl with tensors rebuilt as numpy arrays; any other class is refused."""

    def __init__(self, data: bytes, storage: Callable[[str, type, int], np.ndarray]) -> None:
        super().__init__(io.BytesIO(data))
        self._storage = storage

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a pain regressor file")

    def persistent_load(self, pid):  # noqa: ANN001, ANN201
        kind, dtype, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return self._storage(str(key), dtype, int(numel))


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_: object) -> np.ndarray:
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride)).copy()


def read_model_file(path: Path) -> dict:
    """The pickled object of a ``torch.save`` zip file, tensors as numpy arrays, without torch.

    Raises :class:`ModelFileError` for a missing, truncated or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"pain model {path} does not exist")
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            pkl = next(n for n in names if n.endswith("/data.pkl"))
            root = pkl[: -len("data.pkl")]
            order = z.read(root + "byteorder").decode().strip() if root + "byteorder" in names else "little"

            def storage(key: str, dtype: type, numel: int) -> np.ndarray:
                dt = np.dtype(dtype).newbyteorder("<" if order == "little" else ">")
                return np.frombuffer(z.read(f"{root}data/{key}"), dtype=dt, count=numel).astype(dtype)

            return _Reader(z.read(pkl), storage).load()
    except (zipfile.BadZipFile, StopIteration, KeyError, EOFError, ValueError, pickle.UnpicklingError,
            TypeError, OSError) as e:
        raise ModelFileError(f"pain model {path.name} cannot be read (corrupt or not a torch file): "
                             f"{str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") from e


def load_weights(path: Path) -> MLPWeights:
    """The regressor's weights from its model file (``PainRegressor.save``), without torch."""
    blob = read_model_file(path)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ModelFileError(f"{Path(path).name} is not an AuE-IPA pain regressor (format {FORMAT} expected)")
    try:
        w = MLPWeights.from_state(blob["core_aus"], blob["state_dict"])
        if w.w1.shape[0] != int(blob["hidden"]):
            raise ValueError(f"hidden size {blob['hidden']} but w1 has {w.w1.shape[0]} rows")
    except (KeyError, ValueError, TypeError) as e:
        raise ModelFileError(f"{Path(path).name} does not fit the regressor architecture: {e}") from e
    return w
