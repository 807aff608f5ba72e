"""Headless batch analysis: one per-frame CSV and one summary per input. No Qt."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import AuepaError, ModelFileError
from .face_table import face_table
from .frame_loop import process_frames
from .private_files import private_dir, write_private_bytes
from .recorder import FrameCsvWriter
from .records import PainLevel
from .roi import check_roi, parse_roi  # noqa: F401 (parse_roi: kept importable from here)
from .sources import open_source
from .whole_recording import drop_stale_scratch, rescore_faces_csv, wants_second_pass


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
    #: Times the automatic target moved to a clearly more child-like face (rows with reason
    #: ``target_switched``); each person the target was has its own ``face_id``.
    target_switched: int = 0
    #: Times a face found again after a loss proved, over its next fits, to be another person than
    #: the one lost (rows with reason ``person_changed``; a new ``face_id`` from there).
    person_changes: int = 0
    #: Rows of those faces' probation frames (up to the decision, written under the lost person's
    #: face_id) that were moved to the new face_id after the run (with ``--au-neutral running`` too,
    #: their values as live); 0 when the run ended early.
    rows_moved_to_new_face_id: int = 0
    #: ``--faces all``: tracks that took up a face while its older track had lost it and later
    #: merged with it, and their own rows, moved to the older face_id after the run (as above).
    face_ids_merged: int = 0
    rows_moved_to_older_face_id: int = 0
    #: ``--faces all``: tracks that began after an older track had lost its face for good (ended),
    #: near its last place and with the same face proportions (the same person back), and their
    #: rows, moved to the ended track's face_id after the run (as above).
    face_ids_rejoined: int = 0
    rows_moved_to_earlier_face_id: int = 0
    #: Each face_id's rows (:class:`~auepa_monitor.core.face_table.FaceRows` as a dict: frames, rows,
    #: rows scored, face width, mean pain, and with ``--faces all`` the face's proportion and whether
    #: it looks like a child's), so a researcher can tell which id is the infant; empty for a run
    #: that ended early.
    faces: list[dict[str, Any]] = field(default_factory=list)
    mean_pain_score: float | None = None
    max_pain_score: float | None = None
    mean_pspi: float | None = None
    level_frames: dict[str, int] = field(default_factory=dict)
    au_engine: str = ""
    model: str = ""
    model_warning: str = ""
    seconds: float = 0.0
    fps: float = 0.0
    #: What each frame's AUs were measured against: the whole recording's neutral (a second pass
    #: after the last frame, ``--au-neutral recording``: the default) or the running one (as live).
    au_neutral: str = ""
    #: Why the input ended early ('' for a complete run): the result is then written as
    #: ``<name>.partial.csv`` and never replaces a complete ``<name>.csv``.
    incomplete: str = ""
    #: The input's content and the analysis settings (see :func:`input_key`): a re-run finds the
    #: complete result of the same content and settings here and skips the input.
    key: str = ""


def analysis_settings(args: Any) -> dict[str, Any]:
    """Everything besides an input's content that decides its per-frame rows: the program (version
    and the digest of its per-frame code), the model files (face model, AU calibration, pain model)
    and the options (``args``: the ``analyze`` namespace, or any object with its attributes).

    Raises :class:`ModelFileError` when the face model cannot be found (nothing could run).
    """
    from .. import __version__
    from ..model_card import models_dir
    from ..nets.device import DEVICE_ENV
    from .face import find_face_model
    from .openface import content_key

    pkg = Path(__file__).resolve().parent.parent
    code = hashlib.blake2b(digest_size=12)
    for f in sorted([*pkg.glob("core/*.py"), *pkg.glob("nets/*.py")]):
        code.update(f.name.encode() + b"\0" + f.read_bytes())
    shipped = {f.name: content_key(f) for f in sorted(models_dir().glob("*")) if f.is_file() and f.suffix != ".md"}
    engine = getattr(args, "au_engine", None) or "embedded"
    if engine == "openface":
        from .openface import find_feature_extraction

        try:
            engine += "|" + find_feature_extraction(getattr(args, "openface_bin", None)).identity()
        except AuepaError:  # not installed: every input fails with the reason, nothing is written to skip
            engine += "|unavailable"
    model = getattr(args, "model", None)
    return {"program": __version__, "code": code.hexdigest(), "face_model": content_key(find_face_model()),
            "models": shipped, "pain_model": content_key(Path(model)) if model else "shipped prior",
            "au_engine": engine, "roi": getattr(args, "roi", None) or "",
            "smoothing": not getattr(args, "no_smoothing", False), "faces": getattr(args, "faces", "target"),
            "au_neutral": getattr(args, "au_neutral", None) or "running",
            "device": os.environ.get(DEVICE_ENV, "")}  # --device: LiteRT or torch face networks


def settings_key(settings: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=16).hexdigest()


def input_key(path: Path, settings: str) -> str:
    """Key of one input's result: its content (not its name or time stamps) and the settings key.
    Empty when the input cannot be read (it is analysed, and fails there with its reason)."""
    from .openface import content_key

    try:
        return hashlib.blake2b(f"{content_key(Path(path))}|{settings}".encode(), digest_size=20).hexdigest()
    except OSError:
        return ""


def complete_result(out_dir: Path, csv_stem: str, key: str) -> Summary | None:
    """The summary of ``out_dir/<csv_stem>.csv`` when it is a complete result with this ``key``, else None."""
    if not key:
        return None
    try:
        data = json.loads((out_dir / f"{csv_stem}.summary.json").read_text(encoding="utf-8"))
        s = Summary(**data)
    except (OSError, ValueError, TypeError):
        return None
    csv_path = out_dir / f"{csv_stem}.csv"
    if s.key != key or s.incomplete or not csv_path.is_file() or Path(s.csv).name != csv_path.name:
        return None
    return s


def drop_partial(out_dir: Path, csv_stem: str) -> None:
    """Remove an earlier run's partial result of ``csv_stem`` (a complete one supersedes it)."""
    (out_dir / f"{csv_stem}.partial.csv").unlink(missing_ok=True)
    (out_dir / f"{csv_stem}.partial.summary.json").unlink(missing_ok=True)


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
                progress: Callable[[int, int], None] | None = None, max_frames: int | None = None,
                key: str = "") -> Summary:
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
    drop_partial(out_dir, csv_stem)
    drop_stale_scratch(out_dir)
    s = Summary(input=str(path), csv=str(csv_path), key=key if max_frames is None else "")
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
    engine = getattr(pipe, "au_engine", None)
    second = engine is not None and wants_second_pass(engine) and not s.incomplete
    if not s.incomplete and hasattr(pipe, "rejoin_faces"):
        pipe.rejoin_faces()  # type: ignore[attr-defined]
    moved = None if s.incomplete else getattr(pipe, "moved_rows", None)
    if second or moved:
        # The second pass; without it (--au-neutral running) rows only move to the face_id they
        # proved to be (a person change's probation, a merged or rejoined track), values as live.
        re = rescore_faces_csv(part_path, pipe.second_pass_faces() if second else {},  # type: ignore[attr-defined]
                               moved)
        if re.moved:
            s.face_ids_merged = int(getattr(pipe, "merged_ids", 0))
            s.rows_moved_to_older_face_id = int(getattr(pipe, "merged_rows", 0))
            s.face_ids_rejoined = int(getattr(pipe, "rejoined_ids", 0))
            s.rows_moved_to_earlier_face_id = int(getattr(pipe, "rejoined_rows", 0))
        s.rows_moved_to_new_face_id = re.moved - s.rows_moved_to_older_face_id - s.rows_moved_to_earlier_face_id
        if re.frames:
            scores, pspis, levels = re.scores, re.pspis, Counter(re.levels)
    if second:
        s.au_neutral = re.neutral
    elif engine is not None and hasattr(engine, "neutral_mode"):
        s.au_neutral = "running (the run ended early)" if wants_second_pass(engine) else "running (as live)"
    else:
        s.au_neutral = "the AU engine's own"
    if s.incomplete:
        s.csv = str(part_path)
        s.incomplete = f"{s.incomplete}; {_partial_note(s.frames, part_path, csv_path)}"
        summary_path = part_summary
    else:
        os.replace(part_path, csv_path)
        summary_path = out_dir / f"{csv_stem}.summary.json"
        proportions = pipe.face_proportions() if hasattr(pipe, "face_proportions") else None
        s.faces = [asdict(f) for f in face_table(csv_path, proportions)]
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
        s.target_rule = ("every face, one row per face per frame with a stable face_id (--faces all; a new face_id "
                         "when a track's face found again after a loss proves to be someone else)")
    else:
        s.target_rule = (f"the face inside --roi {','.join(f'{v:g}' for v in roi)}" if roi is not None else
                         "at first detection the face with the most child-like proportions (the largest when "
                         "they do not tell), then followed; picked again by that rule only after 15 frames lost, "
                         "and moved to another face seen clearly more child-like at two checks in a row "
                         "(a new face_id for each person; also when a face found again proves to be someone else)")
    s.target_reacquired = int(getattr(tracker, "reacquired", 0))
    s.target_switched = int(getattr(tracker, "switched", 0))
    # --faces all has one tracker per face: count its tracks' person_changed rows instead.
    s.person_changes = int(getattr(tracker, "person_changes", reasons.get("person_changed", 0)))
    s.au_engine = pipe.au_engine.name  # type: ignore[attr-defined]
    s.model = pipe.scorer.name  # type: ignore[attr-defined]
    s.model_warning = pipe.scorer.card.warning  # type: ignore[attr-defined]
    write_atomic(summary_path, summary_json(s))
    return s


def summary_json(s: Summary) -> bytes:
    return (json.dumps(asdict(s), indent=2) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (0600) under a temporary name in the same folder, then rename:
    a reader never sees a half-written file, and a crash leaves the old one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_private_bytes(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def plan_names(paths: list[Path]) -> list[str]:
    """The output name (CSV stem) of each input, in order: its file or folder name, ``_2``, ``_3``..
    added for inputs of the same name from different folders."""
    used: set[str] = set()
    return [_csv_name(Path(p), used) for p in paths]


def analyze_many(paths: list[Path], out_dir: Path, make_pipeline: Callable[[Path], object],
                 on_start: Callable[[Path], Callable[[int, int], None] | None] | None = None,
                 on_error: Callable[[Path, str], None] | None = None,
                 on_done: Callable[[Summary], None] | None = None, settings: str | None = None,
                 on_skip: Callable[[Summary], None] | None = None,
                 skip: bool = True) -> tuple[list[Summary], list[tuple[Path, str]]]:
    """Analyse every input; a bad one is reported through ``on_error`` and the rest still run.

    With ``settings`` (:func:`settings_key` of :func:`analysis_settings`), an input whose complete
    result for the same content and settings is already in ``out_dir`` is skipped (``on_skip``,
    in neither returned list; ``skip`` False analyses it again) and each new result records its key.

    A :class:`ModelFileError` (the face model cannot be loaded) is raised instead: no input
    could run, so the caller reports it once.
    """
    private_dir(out_dir)  # 0700 when made here; a one-line warning when an existing one is wider
    done, failed = [], []
    for p, stem in zip(map(Path, paths), plan_names(paths), strict=True):
        key = input_key(p, settings) if settings is not None else ""
        prev = complete_result(out_dir, stem, key) if skip else None
        if prev is not None:
            drop_partial(out_dir, stem)  # as a complete run would
            if on_skip:
                on_skip(prev)
            continue
        progress = on_start(p) if on_start else None
        try:
            s = analyze_one(p, out_dir, make_pipeline, stem, progress, key=key)
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
