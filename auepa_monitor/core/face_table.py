"""One line per ``face_id`` of a per-frame CSV: what a researcher needs to pick the infant. No Qt.

``analyze --faces all`` writes a row per face per frame; a video of a toddler with a parent in view
gives a handful of face ids, some of them short tracks on a passing face or on a face-like pattern.
:func:`face_table` sums each id's rows up (frames, rows scored, face width, pain) and, when the
pipeline measured it, the face's proportion (:class:`~auepa_monitor.core.face.TargetSignature`: the
nose's depth below the eye line in eye distances, median over the id's fits of scoring quality;
short in a child's face) and what it looks like (:func:`~auepa_monitor.core.face.looks_like`):
``child`` below ``CHILD_NOSE_DEPTH`` (0.50), ``adult`` from ``ADULT_NOSE_DEPTH`` (0.56), ``unclear``
between, ``""`` with fewer than ``MIN_PROPORTION_FITS`` (10) fits. A hint for choosing, not an
age estimate: it tells toddlers from their parents; infants' faces, shorter still, should read as
children (not measured: no infant video here has a parent in view).

Measured on the 28 children full frames (OpenFace's half-frame fits say who each face_id is: the
ids with 10 fits or more, most of their rows on one of OpenFace's two faces). Per-id medians with
``analyze --faces all``: toddlers 0.46 (0.42-0.54) and parents 0.60 (0.55-0.66) in family 3dC3SQ,
0.42 (0.42-0.47) and 0.59 (0.55-0.63) in 4JDccE. With the default single target the toddlers of
3dC3SQ read higher (up to 0.57: one toddler, eating, reads 0.52-0.57 in both modes). One cut
cannot tell them all: the midpoint of one family's medians labels the other's ``--faces all`` ids
right on 18 of 18 (3dC3SQ's 0.53 on 4JDccE) and 21 of 22 (4JDccE's 0.51 on 3dC3SQ), but with the
default target a cut at 0.52 read 3 of 11 toddler ids of 3dC3SQ as adults. Hence the band
between: its edges are set on both families (not held out) just outside where the two overlap,
and ``benchmarks/children_tracking.py --all-faces`` and ``--full-frame`` print how each mode's ids read.
The adults of OpenFace's sample videos (default.wmv, 2015-10-15-15-14.avi, image_sequence, the three
people of multi_face.avi) read 0.50-0.62: 2 ``adult``, 4 ``unclear``, none ``child``; the lowest, 0.50,
is multi_face.avi's smallest face (50 px wide).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .face import looks_like
from .recorder import FRAME_COLUMNS, frame_csv_rows


@dataclass(frozen=True)
class FaceRows:
    """One ``face_id``'s rows in a per-frame CSV.

    ``first_frame``/``last_frame``: 1-based frame numbers; ``rows``: frames the face was tracked
    (box present); ``scored``: rows with AU values and a pain score (``success`` 1);
    ``face_width_px``: median box width in frame pixels; ``mean_pain_score``: 0-10 over the scored
    rows (None without one); ``nose_depth``: median nose depth below the eye line in eye distances
    over ``proportion_fits`` fits of scoring quality (None when not measured); ``looks``: ``child``,
    ``adult``, ``unclear`` or ``""`` (too few fits to tell), see the module docstring.
    """

    face_id: int
    first_frame: int
    last_frame: int
    rows: int
    scored: int
    face_width_px: float
    mean_pain_score: float | None
    nose_depth: float | None = None
    proportion_fits: int = 0
    looks: str = ""


def face_table(csv_path: Path, proportions: Mapping[int, tuple[float, int]] | None = None) -> list[FaceRows]:
    """Each face_id of the per-frame CSV at ``csv_path`` (rows with a box), in face_id order.

    ``proportions``: face_id -> (median nose depth, fits), e.g. ``AllFacesPipeline.face_proportions()``.
    Raises ValueError when the file is not a per-frame CSV of this program.
    """
    rows = frame_csv_rows(csv_path)
    fid_at, frame_at, ok_at, w_at, pain_at = (FRAME_COLUMNS.index(c) for c in
                                              ("face_id", "frame", "success", "face_w", "pain_score"))
    # Per face_id: frames, box widths, pain scores of the scored rows (a column each, not row dicts:
    # an hour of video with two faces is 200,000 rows).
    acc: dict[int, tuple[list[int], list[float], list[float]]] = {}
    for row in rows:
        if len(row) != len(FRAME_COLUMNS) or not row[fid_at] or not row[w_at]:
            continue
        frames, widths, pains = acc.setdefault(int(row[fid_at]), ([], [], []))
        frames.append(int(row[frame_at]))
        widths.append(float(row[w_at]))
        if row[ok_at] == "1" and row[pain_at]:
            pains.append(float(row[pain_at]))
    out = []
    for fid in sorted(acc):
        frames, widths, pains = acc[fid]
        prop, fits = (proportions or {}).get(fid, (None, 0))
        prop = None if prop is None or not math.isfinite(prop) else round(float(prop), 3)
        out.append(FaceRows(
            face_id=fid, first_frame=min(frames), last_frame=max(frames), rows=len(frames), scored=len(pains),
            face_width_px=round(statistics.median(widths), 1),
            mean_pain_score=round(sum(pains) / len(pains), 3) if pains else None,
            nose_depth=prop, proportion_fits=int(fits), looks=looks_like(prop, fits)))
    return out
