"""One AU-engine factory (issue 12): every front end builds its engine through core.engines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from auepa_monitor.core.au_engine import EmbeddedAUEngine
from auepa_monitor.core.engines import make_au_engine
from auepa_monitor.core.errors import EngineUnavailable

REPO = Path(__file__).resolve().parent.parent


def test_factory_builds_each_engine_or_says_why(tmp_path: Path) -> None:
    e = make_au_engine()
    assert isinstance(e, EmbeddedAUEngine) and e.use_baseline
    assert make_au_engine("embedded", neutral_baseline=False).use_baseline is False
    with pytest.raises(EngineUnavailable, match="unknown AU engine 'hog'"):
        make_au_engine("hog")
    with pytest.raises(EngineUnavailable):  # OpenFace needs a recorded file (and an install)
        make_au_engine("openface", None)


def test_front_ends_do_not_construct_engines_themselves() -> None:
    # Engine classes are constructed only by the factory (and by the engine modules themselves);
    # the scripts that fit and validate the embedded engine's calibration are its development tools.
    allowed = {"auepa_monitor/core/engines.py", "auepa_monitor/core/openface.py", "auepa_monitor/core/au_engine.py",
               "training/fit_au_calibration.py", "training/validate_aus.py", "benchmarks/compare_engines.py"}
    offenders = []
    for root in ("auepa_monitor", "training", "benchmarks"):
        for p in (REPO / root).rglob("*.py"):
            rel = p.relative_to(REPO).as_posix()
            if rel in allowed:
                continue
            for node in ast.walk(ast.parse(p.read_text())):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                    if name in ("EmbeddedAUEngine", "OpenFaceAUEngine"):
                        offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders
