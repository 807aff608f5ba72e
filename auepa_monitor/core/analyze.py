"""Headless batch analysis: one per-frame CSV and one summary per input. No Qt."""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import AuepaError, ModelFileError
from .frame_loop import process_frames
from .private_files import private_dir, write_private_text
from .recorder import FrameCsvWriter
from .records import PainLevel
from .roi import check_roi, parse_roi  # noqa: F401 (parse_roi: kept importable from here)
from .sources import open_source


@dataclass
class Summary:
    """What one input gave: counts, pain statistics and timing."""

    input: str
    csv: str
    frames: int = 0
    #: Frames scored: target fitted well enough to give AU values and a pain score.
    frames_with_face: int = 0
    #: Frames where the target was tracked (box present), scored or not.
    frames_tracked: int = 0
    #: Why frames were not scored: reason -> frame count (see FrameResult.reason).
    unscored: dict[str, int] = field(default_factory=dict)
    max_faces_seen: int = 0
    #: Frames on which the detector saw more than one face.
    frames_several_faces: int = 0
    #: How the target face was chosen (the documented rule, see README "Target face").
    target_rule: str = ""
    #: Times the automatic rule picked a face again after the target was lost (no ROI).
    target_reacquired: int = 0
    mean_pain_score: float | None = None
    max_pain_score: float | None = None
    mean_pspi: float | None = None
    level_frames: dict[str, int] = field(default_factory=dict)
    au_engine: str = ""
    model: str = ""
    model_warning: str = ""
    seconds: float = 0.0
    fps: float = 0.0
    #: Why the input ended early ('' for a complete run): the result is then written as
    #: ``<name>.partial.csv`` and never replaces a complete ``<name>.csv``.
    incomplete: str = ""


def _csv_name(path: Path, used: set[str]) -> str:
    stem = path.stem if path.is_file() else path.name
    name, i = stem, 2
    while name in used:  # two inputs with the same name from different folders
        name, i = f"{stem}_{i}", i + 1
    used.add(name)
    return name


def _partial_note(frames: int, part_path: Path, csv_path: Path) -> str:
    kept = f"; the earlier complete result {csv_path.name} was kept" if csv_path.exists() else ""
    return f"{frames} frames analysed, partial result in {part_path}{kept}"


def analyze_one(path: Path, out_dir: Path, make_pipeline: Callable[[Path], object], csv_stem: str,
                progress: Callable[[int, int], None] | None = None, max_frames: int | None = None) -> Summary:
    """Analyse one input into ``out_dir/<csv_stem>.csv`` and ``<csv_stem>.summary.json``.

    Raises :class:`AuepaError` (e.g. SourceError) when the input cannot be read. The CSV is
    written as ``<csv_stem>.partial.csv`` and renamed at the end, so an earlier ``<csv_stem>.csv`` is
    only ever replaced by a complete run: rows of a run that stopped early (an unreadable image,
    a video that ends before the length its container announces: ``Summary.incomplete``) go to
    ``<csv_stem>.partial.csv`` instead, and the message says so.
    """
    src = open_source(path)
    try:
        pipe = make_pipeline(Path(path))
    except BaseException:
        src.close()
        raise
    roi = getattr(getattr(pipe, "tracker", None), "roi", None)
    if roi is not None:
        try:
            check_roi(roi, src.size, str(path))
        except BaseException:
            src.close()
            pipe.close()  # type: ignore[attr-defined]
            raise
    csv_path = out_dir / f"{csv_stem}.csv"
    part_path = out_dir / f"{csv_stem}.partial.csv"
    # Written as the partial result and renamed at the end: an earlier result is replaced only by
    # a complete one, never by a run that failed, stopped early or was killed (whose rows stay,
    # whole lines, in <stem>.partial.csv).
    part_summary = out_dir / f"{csv_stem}.partial.summary.json"
    part_path.unlink(missing_ok=True)
    part_summary.unlink(missing_ok=True)
    s = Summary(input=str(path), csv=str(csv_path))
    t0 = time.perf_counter()
    levels: Counter[str] = Counter()
    scores, pspis = [], []
    reasons: Counter[str] = Counter()
    writer = FrameCsvWriter(part_path)
    ok = False
    try:
        for _, out in process_frames(src, pipe, max_frames):  # type: ignore[arg-type]
            # One result per frame (the target face), or one per tracked face (--faces all).
            results = out if isinstance(out, list) else [out]
            for r in results:
                writer.write(r)
                if r.reason:
                    reasons[r.reason] += 1
                if r.success:
                    scores.append(r.pain_score)
                    pspis.append(r.pspi)
                    levels[r.pain_level.label] += 1
            s.frames += 1
            seen = max((r.faces_seen for r in results), default=len(results))
            s.max_faces_seen = max(s.max_faces_seen, seen, len(results))
            s.frames_several_faces += max(seen, len(results)) > 1
            s.frames_tracked += any(r.face is not None for r in results)
            s.frames_with_face += any(r.success for r in results)
            if progress:
                progress(s.frames, src.frame_count)
        s.incomplete = src.incomplete
        ok = True
    except AuepaError as e:  # e.g. an image of a sequence unreadable: keep the rows before it, aside
        writer.close()
        if s.frames:
            raise type(e)(f"{e}; {_partial_note(s.frames, part_path, csv_path)}") from e
        raise
    finally:
        writer.close()
        src.close()
        pipe.close()  # type: ignore[attr-defined]
        if not ok and not s.frames:
            part_path.unlink(missing_ok=True)
    if s.incomplete:
        s.csv = str(part_path)
        s.incomplete = f"{s.incomplete}; {_partial_note(s.frames, part_path, csv_path)}"
        summary_path = part_summary
    else:
        os.replace(part_path, csv_path)
        summary_path = out_dir / f"{csv_stem}.summary.json"
    s.seconds = time.perf_counter() - t0
    s.fps = s.frames / s.seconds if s.seconds > 0 else math.nan
    if scores:
        s.mean_pain_score = round(sum(scores) / len(scores), 3)
        s.max_pain_score = round(max(scores), 3)
        s.mean_pspi = round(sum(pspis) / len(pspis), 3)
    s.level_frames = {lv.label: levels.get(lv.label, 0) for lv in PainLevel}
    s.unscored = dict(sorted(reasons.items()))
    tracker = getattr(pipe, "tracker", None)
    roi = getattr(tracker, "roi", None)
    if tracker is None:
        s.target_rule = "every face, one row per face per frame with a stable face_id (--faces all)"
    else:
        s.target_rule = (f"the face inside --roi {','.join(f'{v:g}' for v in roi)}" if roi is not None else
                         "the largest face at first detection, then followed; re-picked by size only after "
                         "15 frames lost")
    s.target_reacquired = int(getattr(tracker, "reacquired", 0))
    s.au_engine = pipe.au_engine.name  # type: ignore[attr-defined]
    s.model = pipe.scorer.name  # type: ignore[attr-defined]
    s.model_warning = pipe.scorer.card.warning  # type: ignore[attr-defined]
    write_private_text(summary_path, json.dumps(asdict(s), indent=2) + "\n")
    return s


def analyze_many(paths: list[Path], out_dir: Path, make_pipeline: Callable[[Path], object],
                 on_start: Callable[[Path], Callable[[int, int], None] | None] | None = None,
                 on_error: Callable[[Path, str], None] | None = None,
                 on_done: Callable[[Summary], None] | None = None) -> tuple[list[Summary], list[tuple[Path, str]]]:
    """Analyse every input; a bad one is reported through ``on_error`` and the rest still run.

    A :class:`ModelFileError` (the face model cannot be loaded) is raised instead: no input
    could run, so the caller reports it once.
    """
    private_dir(out_dir)  # 0700 when made here; a one-line warning when an existing one is wider
    used: set[str] = set()
    done, failed = [], []
    for p in paths:
        p = Path(p)
        progress = on_start(p) if on_start else None
        try:
            s = analyze_one(p, out_dir, make_pipeline, _csv_name(p, used), progress)
        except ModelFileError:
            raise  # a bad face/pain model fails every input alike: stop and say it once
        except AuepaError as e:
            failed.append((p, str(e)))
            if on_error:
                on_error(p, str(e))
            continue
        if s.incomplete:  # counted as failed: a partial run is not a result (the message says where it is)
            failed.append((p, s.incomplete))
            if on_error:
                on_error(p, s.incomplete)
            continue
        done.append(s)
        if on_done:
            on_done(s)
    return done, failed

