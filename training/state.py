"""Resumable runs: each finished stage (or fold) leaves a JSON result keyed by a fingerprint.

A stage is skipped when its result file exists with the same fingerprint (a hash of the
data and of every setting the stage uses, chained from the stages it depends on); any change
makes it, and only the stages after it, run again. Files are written atomically, so a run
killed mid-stage resumes at that stage.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


def fingerprint(*parts: Any) -> str:
    """Stable short hash of JSON-serialisable parts."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1, default=_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def load_done(path: Path, fp: str) -> dict[str, Any] | None:
    """The stored result when ``path`` holds one with fingerprint ``fp``; None otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("fingerprint") != fp:
        return None
    return data


def save_done(path: Path, fp: str, result: dict[str, Any], seconds: float) -> dict[str, Any]:
    data = {"fingerprint": fp, "seconds": round(seconds, 2), **result}
    write_json(Path(path), data)
    return data
