"""The one AU-engine factory. No Qt.

``analyze`` and its workers (:mod:`.pipeline_factory`), the pipeline's default, the monitor
session (window and ward) and training's extraction all get their engine here, so an engine is
built one way everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine_api import AUEngine
from .errors import EngineUnavailable

#: The engines a user can choose (``--au-engine``).
ENGINES = ("embedded", "openface")


def make_au_engine(name: str = "embedded", source: str | Path | None = None, *, binary: str | Path | None = None,
                   neutral_baseline: bool = True, neutral: str = "running", **openface_kw: Any) -> AUEngine:
    """An AU engine by name.

    * ``embedded``: :class:`~.au_engine.EmbeddedAUEngine` (every source, live ones too);
      ``neutral_baseline`` False uses the population's neutral instead of the person's running
      one (training: a short clip is too short to learn a face's neutral); ``neutral``
      "recording" keeps each frame's features for a second pass over a finished recording
      against its whole-recording neutral (:mod:`.whole_recording`; ``analyze``), "running" not.
    * ``openface``: :class:`~.openface.OpenFaceAUEngine` for one recorded file ``source``, run with
      the user's ``FeatureExtraction`` (``binary``, else the usual search); ``openface_kw`` go to it
      (e.g. ``progress``).

    Raises :class:`EngineUnavailable` for an unknown name or when OpenFace is not installed.
    """
    if name == "embedded":
        from .au_engine import EmbeddedAUEngine

        return EmbeddedAUEngine(neutral_baseline=neutral_baseline, neutral=neutral)
    if name == "openface":
        from .openface import OpenFaceAUEngine

        return OpenFaceAUEngine(source, binary=binary, **openface_kw)
    raise EngineUnavailable(f"unknown AU engine {name!r} (expected {' or '.join(ENGINES)})")
