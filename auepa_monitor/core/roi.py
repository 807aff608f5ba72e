"""The target-face region given by the user (``--roi x,y,w,h`` in frame pixels). No Qt."""

from __future__ import annotations

from .errors import AuepaError

Box = tuple[float, float, float, float]


class RoiError(AuepaError):
    """A target region that does not lie on the frame."""


def parse_roi(text: str) -> Box:
    """'x,y,w,h' (frame pixels) -> box; ValueError with a clear message otherwise."""
    try:
        x, y, w, h = (float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--roi expects x,y,w,h in pixels, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--roi width and height must be positive, got {text!r}")
    return (x, y, w, h)


def format_roi(roi: Box) -> str:
    return ",".join(f"{v:g}" for v in roi)


def roi_problem(roi: Box, size: tuple[int, int], name: str = "") -> str:
    """'' when ``roi`` overlaps a frame of ``size`` (width, height), else a one-line reason.

    A region partly off the frame is kept (a face at the edge); one that misses the frame
    entirely can never hold a face.
    """
    x, y, w, h = roi
    fw, fh = size
    if fw <= 0 or fh <= 0:
        return ""  # size unknown (e.g. a camera that does not say): nothing to check against
    if x >= fw or y >= fh or x + w <= 0 or y + h <= 0:
        of = f" of {name}" if name else ""
        return (f"--roi {format_roi(roi)} lies outside the {fw}x{fh} frame{of} "
                f"(x,y,w,h in frame pixels from the top-left corner; x < {fw}, y < {fh})")
    return ""


def check_roi(roi: Box, size: tuple[int, int], name: str = "") -> None:
    """Raise :class:`RoiError` when ``roi`` does not overlap the frame."""
    problem = roi_problem(roi, size, name)
    if problem:
        raise RoiError(problem)
