"""The compute device of a run: ``auto``, ``cpu`` or ``cuda[:N]`` (``--device``), no Qt.

The command line puts the user's choice in ``$AUEPA_DEVICE`` so that everything that builds a
network later (the face networks, Grad-CAM), also in ``analyze --workers`` processes, follows it.
Unset means the program's defaults: face networks on the CPU with LiteRT, Grad-CAM on CUDA when
there is one. torch is imported only to resolve ``auto`` and ``cuda``.
"""

from __future__ import annotations

import os
import re

DEVICE_ENV = "AUEPA_DEVICE"
_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_spec(spec: str) -> str:
    """``spec`` normalised (lower case), or ValueError when it is not auto, cpu, cuda or cuda:N."""
    s = str(spec).strip().lower()
    if not _SPEC.match(s):
        raise ValueError(f"device {spec!r}: expected auto, cpu, cuda or cuda:N")
    return s


def requested_device(spec: str | None = None) -> str | None:
    """The device asked for: ``spec``, else ``$AUEPA_DEVICE``, else None (the defaults)."""
    if spec is None:
        spec = os.environ.get(DEVICE_ENV) or None
    return None if spec is None else check_device_spec(spec)


def resolve_device(spec: str) -> str:
    """``"cpu"`` or ``"cuda:N"`` for a spec; ``auto`` is CUDA's current device when CUDA works.

    ValueError (one line, for the user) when CUDA is asked for and not usable, or N is no GPU.
    """
    s = check_device_spec(spec)
    if s == "cpu":
        return "cpu"
    import torch

    ok = torch.cuda.is_available()
    if s == "auto":
        return f"cuda:{torch.cuda.current_device()}" if ok else "cpu"
    if not ok:
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a build without CUDA")
        raise ValueError(f"device {s}: CUDA is not available here ({build}); use --device cpu or auto")
    n = torch.cuda.device_count()
    idx = int(s.split(":")[1]) if ":" in s else torch.cuda.current_device()
    if idx >= n:
        raise ValueError(f"device {s}: there are {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
    return f"cuda:{idx}"
