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
live or playing a file, shows the running neutral, as a nurse sees it at the bedside. With
``--faces all`` each face_id is measured against its own whole recording
(:func:`rescore_faces_csv`; on multi_face.avi each of the three people's AU01 then reads 0 on
about a third of their frames, as the 30th-percentile neutral implies), and so is each person the
one target face was (its rows' ``face_id``: the automatic target moved to a more child-like face,
or was picked again after a loss without matching the lost one's proportions), never one neutral
mixing a parent's face and an infant's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .au_engine import BASELINE_MIN_QUALITY
from .processes import process_gone
from .recorder import FRAME_COLUMNS, SCORE_COLUMNS, FrameCsvWriter, frame_csv_rows, score_cells
from .scoring import pspi

_SCORE_AT = FRAME_COLUMNS.index(SCORE_COLUMNS[0])
#: Ends the name of the scratch file a second pass writes beside the CSV it rewrites.
RESCORE_SUFFIX = ".rescore"


@dataclass
class Rescored:
    """What the second pass changed.

    Attributes:
        neutral: how each frame's AUs were measured, for the summary ("whole recording (N good
            fits)" or "running: ..." with the reason the second pass did not run).
        frames: scored frames re-estimated.
        moved: rows moved to another face_id (see ``rescore_faces_csv``'s ``moved``).
        scores, pspis, levels: per scored frame, in order (pain 0-10, PSPI 0-16, level label),
            for the summary's statistics; empty when nothing changed.
    """

    neutral: str
    frames: int = 0
    moved: int = 0
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
    return rescore_faces_csv(path, {None: (engine, scorer)})


@dataclass
class _Face:
    """One face's part of the second pass: its new AUs by frame, or why its rows stay."""

    scorer: Any = None
    aus: list[dict[int, float]] | None = None  # None: the rows stay as the live pass wrote them
    times: np.ndarray | None = None
    by_frame: dict[int, int] = field(default_factory=dict)
    good: int = 0
    why: str = ""
    done: int = 0  # scored rows rewritten
    rows: int = 0  # scored rows seen


def _plan(engine: Any, scorer: Any) -> _Face:
    kept = engine.kept_features()
    neutral = engine.whole_recording_neutral(kept)
    if neutral is None:
        return _Face(why=f"fewer than {engine.neutral.min_samples} good fits for a whole-recording neutral")
    by_frame = {int(f): i for i, f in enumerate(kept.frames)}
    if len(by_frame) != len(kept.frames) or -1 in by_frame:
        return _Face(why=_UNMATCHED)
    scorer.reset()
    return _Face(scorer, engine.reestimate(kept, neutral), kept.times, by_frame,
                 int(np.sum(kept.quality >= BASELINE_MIN_QUALITY)))


_UNMATCHED = "the frames estimated could not be matched to the rows"
_COL = {c: FRAME_COLUMNS.index(c) for c in ("face_id", "success", "pspi", "pain_score", "pain_level")}


def rescore_faces_csv(path: Path, faces: Mapping[int | None, tuple[Any, Any]],
                      moved: Mapping[tuple[int, int], int] | None = None) -> Rescored:
    """:func:`rescore_csv` for a CSV of several faces (``analyze --faces all``, or one target that
    was several people): ``faces`` maps each ``face_id`` to the (engine, scorer) that scored its
    rows, and each face is measured against its own whole recording's neutral. The key None stands
    for every row (one target face). ``moved`` maps (frame, face_id) to the face_id the row belongs
    to (``Pipeline.moved_rows``: the probation of a face found again that proved to be someone
    else); those rows are moved first. With no ``faces`` (``--au-neutral running``) only the rows'
    ``face_id`` moves: every value stays as the live pass wrote it.

    A face with too few good fits keeps its running-neutral rows (``neutral`` says which); if no
    face can be re-estimated, or any scored row has no estimate, the file is left as it is.
    """
    moved = moved or {}
    plans = {fid: _plan(engine, scorer) for fid, (engine, scorer) in faces.items()}
    if not any(p.aus is not None for p in plans.values()):
        whys = sorted({p.why for p in plans.values()}) or [_UNMATCHED]
        if not moved:
            return Rescored("running: " + "; ".join(whys))
    out = Rescored("")
    tmp = path.with_name(f".{path.name}.{os.getpid()}{RESCORE_SUFFIX}")
    tmp.unlink(missing_ok=True)
    writer = FrameCsvWriter(tmp)
    try:
        rows = frame_csv_rows(path)
        last_of: dict[int, _Face] = {}  # id(scorer) -> the face its last scored row was
        for row in rows:
            if moved and row[_COL["face_id"]]:
                to = moved.get((int(row[0]), int(row[_COL["face_id"]])))
                if to is not None:
                    row[_COL["face_id"]] = str(to)
                    out.moved += 1
            if row[_COL["success"]] == "1" and faces:
                plan = plans[None] if None in plans else plans.get(int(row[_COL["face_id"]]))
                if plan is None:
                    raise LookupError(row[0])
                plan.rows += 1
                if plan.aus is not None:
                    if last_of.get(id(plan.scorer), plan) is not plan:
                        plan.scorer.reset()  # one scorer's next person: the smoothing starts again, as live
                    last_of[id(plan.scorer)] = plan
                    i = plan.by_frame.get(int(row[0]))
                    if i is None:
                        raise LookupError(row[0])
                    au = plan.aus[i]
                    p = pspi(au)
                    score, raw, level = plan.scorer.score(au, float(plan.times[i]))
                    row[_SCORE_AT:_SCORE_AT + len(SCORE_COLUMNS)] = score_cells(au, p, score, raw, level.label)
                    plan.done += 1
                    out.frames += 1
                out.scores.append(float(row[_COL["pain_score"]]))
                out.pspis.append(float(row[_COL["pspi"]]))
                out.levels.append(row[_COL["pain_level"]])
            writer.write_row(row)
        writer.close()
        for plan in plans.values():
            if plan.aus is not None and plan.done != len(plan.by_frame):
                raise LookupError(f"{len(plan.by_frame) - plan.done} estimated frames have no scored row")
        os.replace(tmp, path)
    except (LookupError, ValueError):
        return Rescored("running: " + _UNMATCHED)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    out.neutral = _neutral_text(plans)
    return out


def _neutral_text(plans: dict[int | None, _Face]) -> str:
    """The summary's ``au_neutral`` for a finished second pass."""
    if not any(p.aus is not None for p in plans.values()):  # only rows moved
        return "running: " + "; ".join(sorted({p.why for p in plans.values()}) or [_UNMATCHED])
    if None in plans:
        return f"whole recording ({plans[None].good} good fits)"
    done = sorted(f for f, p in plans.items() if p.aus is not None)
    text = f"whole recording, each face its own (face_id {', '.join(map(str, done))})"
    kept: dict[str, list[str]] = {}
    for f, p in sorted(plans.items()):
        if p.aus is None and p.rows:
            kept.setdefault(p.why, []).append(str(f))
    for why, ids in kept.items():
        text += f"; running for face_id {', '.join(ids)}: {why}"
    return text


def drop_stale_scratch(folder: Path) -> list[Path]:
    """Remove second-pass scratch files (``.<name>.<pid>.rescore``) in ``folder`` whose process is
    gone: a run killed during its second pass leaves one (the CSV it was rewriting stays whole).
    Returns what was removed."""
    gone = []
    for p in folder.glob(f".*{RESCORE_SUFFIX}"):
        try:
            pid = int(p.name[: -len(RESCORE_SUFFIX)].rsplit(".", 1)[1])
        except (IndexError, ValueError):
            continue
        if process_gone(pid):
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone
