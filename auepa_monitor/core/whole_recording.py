"""A finished recording's AUs and scores again, against the whole recording's neutral. No Qt.

Why: the live engine measures each frame against the neutral learnt *so far* (it cannot see
ahead). On a recorded input that is needlessly worse at the start: the neutral begins at the
adult population's value and rises only slowly (``au_engine.RISE_RATE``), so the first tens of
seconds of a new face read high; a toddler's brows rest higher than an adult's. OpenFace 2.2
does the same second pass after a video ends (its person-specific normalisation over the whole
video), so its reference output is made this way too.

Measured with the shipped calibration (training/validate_aus.py, section (f)): on the children
set the mean AU offset from OpenFace falls (AU01 +0.4 -> +0.1, AU02 +0.7/+0.8 -> +0.3/+0.2 by
family) at the same within-video r against OpenFace's geometry; on the clear references (held
out by person) the MAE of AU01/AU02 on default.wmv falls from 1.1/1.5 to 0.2/0.2.

Cost: the engine keeps about 0.4 kB of features per scored frame; the pass takes 0.08-0.1 ms per
frame (default.wmv, 2015-10-15-15-14.avi: 23 and 80 ms, about 1.5 % of the run), reading the CSV
back instead of keeping every frame's record in memory.

``analyze`` (and the video export) do it by default (``--au-neutral recording``); the window,
live or playing a file, shows the running neutral, as a nurse sees it at the bedside.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .au_engine import BASELINE_MIN_QUALITY
from .recorder import FRAME_COLUMNS, SCORE_COLUMNS, FrameCsvWriter, complete_lines, score_cells
from .scoring import pspi

_SCORE_AT = FRAME_COLUMNS.index(SCORE_COLUMNS[0])


@dataclass
class Rescored:
    """What the second pass changed.

    Attributes:
        neutral: how each frame's AUs were measured, for the summary ("whole recording (N good
            fits)" or "running: ..." with the reason the second pass did not run).
        frames: scored frames re-estimated.
        scores, pspis, levels: per scored frame, in order (pain 0-10, PSPI 0-16, level label),
            for the summary's statistics; empty when nothing changed.
    """

    neutral: str
    frames: int = 0
    scores: list[float] = field(default_factory=list)
    pspis: list[float] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)


def wants_second_pass(engine: Any) -> bool:
    """True for an engine that kept its features for a second pass (``neutral="recording"``)."""
    return getattr(engine, "neutral_mode", "running") == "recording" and hasattr(engine, "kept_features")


def rescore_csv(path: Path, engine: Any, scorer: Any) -> Rescored:
    """Rewrite the scored rows of the per-frame CSV ``path`` (as the frame loop wrote it with
    ``engine``) with AUs against the whole recording's neutral, their PSPI and the pain score
    (``scorer`` replayed in frame order, so its smoothing runs as it did live).

    The new file is written beside ``path`` and renamed over it only when whole: a failure
    leaves the running-neutral rows as they were. Rows of frames that were not scored, and
    every other cell, are copied unchanged. Returns what changed; with fewer good fits than the
    running neutral needs (``min_samples``), or rows the engine did not estimate, the file is
    left as it is and ``neutral`` says why.
    """
    kept = engine.kept_features()
    neutral = engine.whole_recording_neutral(kept)
    if neutral is None:
        return Rescored(f"running: fewer than {engine.neutral.min_samples} good fits for a whole-recording neutral")
    by_frame = {int(f): i for i, f in enumerate(kept.frames)}
    if len(by_frame) != len(kept.frames) or -1 in by_frame:
        return Rescored("running: the frames estimated could not be matched to the rows")
    aus = engine.reestimate(kept, neutral)
    scorer.reset()
    out = Rescored(f"whole recording ({int(np.sum(kept.quality >= BASELINE_MIN_QUALITY))} good fits)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.rescore")
    tmp.unlink(missing_ok=True)
    writer = FrameCsvWriter(tmp)
    try:
        rows = csv.reader(complete_lines(path))
        if tuple(next(rows, ())) != FRAME_COLUMNS:
            raise LookupError(f"{path.name}: not this program's per-frame CSV")
        for row in rows:
            if row[FRAME_COLUMNS.index("success")] == "1":
                i = by_frame.get(int(row[0]))
                if i is None:
                    raise LookupError(row[0])
                au = aus[i]
                p = pspi(au)
                score, raw, level = scorer.score(au, float(kept.times[i]))
                row[_SCORE_AT:_SCORE_AT + len(SCORE_COLUMNS)] = score_cells(au, p, score, raw, level.label)
                out.scores.append(score)
                out.pspis.append(p)
                out.levels.append(level.label)
                out.frames += 1
            writer.write_row(row)
        writer.close()
        if out.frames != len(kept.frames):
            raise LookupError(f"{len(kept.frames) - out.frames} estimated frames have no scored row")
        os.replace(tmp, path)
    except LookupError:
        tmp.unlink(missing_ok=True)
        return Rescored("running: the frames estimated could not be matched to the rows")
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    return out
