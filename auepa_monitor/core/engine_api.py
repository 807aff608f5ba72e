"""What an AU engine is and how it says it has no values for a frame. No Qt.

A leaf of the core: the engines (embedded, OpenFace) and the pipeline that runs them both
import it, so no engine imports the pipeline.
"""

from __future__ import annotations

from typing import Protocol

from .records import FaceFit
from .sources import Frame


class AUValuesMissing(Exception):  # noqa: N818 (a per-frame outcome, not a program error)
    """Raised by :meth:`AUEngine.estimate` when the engine has no values for this frame.

    E.g. OpenFace's fit failed (``success`` 0) or OpenFace tracked another face than the
    target. The pipeline records the frame as having no AU values (never zeros); the
    message says why and goes into :attr:`FrameResult.au_missing`.
    """


class AUEngine(Protocol):
    """An AU intensity engine: the target face in one frame -> AU number -> intensity 0-5.

    ``frame`` gives engines that work on whole files (OpenFace) the frame number and time.
    ``estimate`` may raise :class:`AUValuesMissing` for a frame it has no values for.
    ``learn=False``: measure this frame but do not let it move the person's running neutral (the
    face is on probation: it may prove to be someone else).
    """

    name: str

    def estimate(self, fit: FaceFit, frame: Frame, learn: bool = True) -> dict[int, float]: ...

    def reset(self) -> None: ...
