"""De-identified export for research sharing (``auepa-monitor export ... --deidentify``). No Qt.

* A **session folder** (or a per-frame CSV of this program): ``frames.csv`` with the same
  columns, times made relative to the first row, and every text cell that is not a plain
  label (a file path, a URL, the login name) replaced by ``redacted``. Events, session.json
  and screenshots are not exported (absolute times, paths, the face).
* A **video**: the per-frame analysis (``frames.csv``, as above) and ``video.mp4`` (mp4v) in which
  every face the detector finds is blurred beyond recognition, with a margin, also on the
  frames just before and after each detection (the detector can miss a face for a frame). A
  check pass then runs the same detector (:meth:`FaceTracker.detect`) on the written video: any
  face it finds that is not inside a blurred region fails the export, and nothing is left.

Output names are generic (``frames.csv``, ``video.mp4``, ``export.json``): the input's name is
often the patient's. Files are staged in an owner-only folder inside ``DIR`` and moved in
place only when the export passed its check; they are 0600 (private_files) like every output.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import NOT_A_MEDICAL_DEVICE, __version__
from .errors import AuepaError
from .private_files import make_private, private_dir, write_private_text
from .recorder import FRAME_COLUMNS, read_frame_csv
from .sources import VIDEO_EXTS, open_source

CSV_NAME, VIDEO_NAME, INFO_NAME = "frames.csv", "video.mp4", "export.json"
TEXT_COLUMNS = ("pain_level", "au_engine", "model", "reason")
REDACTED = "redacted"
_PLAIN_LABEL = re.compile(r"[A-Za-z0-9 _.,()+-]{0,80}")
#: Face box grown by this fraction of its size on every side before blurring.
MARGIN = 0.35
#: Detections of this many frames before and after a frame are blurred in it too.
TEMPORAL = 3
#: Detector score from which a face is blurred (the check pass counts faces from 0.3).
BLUR_MIN_SCORE = 0.15
#: Write-and-check rounds before an export with an uncovered face fails.
CHECK_ROUNDS = 3

ProgressFn = Callable[[str, int, int], None]


class ExportError(AuepaError):
    """The export could not be made or failed its face check (nothing was left in the output folder)."""


@dataclass
class ExportResult:
    kind: str  # "session" or "video"
    out_dir: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    frames: int = 0
    faces_blurred: int = 0
    check_frames: int = 0
    check_detections: int = 0
    check_uncovered: int = 0
    check_rounds: int = 0
    #: Faces the check found outside the blur in an earlier round, blurred in the next one.
    added_in_check: int = 0
    redacted_cells: int = 0


# ----------------------------------------------------------------------------------- CSV


def _login_names() -> list[str]:
    names = set()
    try:
        names.add(getpass.getuser())
    except Exception:  # noqa: BLE001 (no login name: nothing to look for)
        pass
    names.add(Path.home().name)
    return [n.lower() for n in names if len(n) >= 3]


def deidentify_rows(rows: list[dict[str, str]]) -> tuple[list[list[str]], int]:
    """Rows of a per-frame CSV -> de-identified rows (times from 0) and the number of cells redacted.

    Numeric columns keep numbers only; text columns keep plain labels only (no ``/``, ``\\``,
    ``:``, ``@``) and never the login name; ``timestamp`` is made relative to the first row's.
    """
    t0 = None
    for r in rows:
        try:
            t0 = float(r["timestamp"])
            break
        except (ValueError, KeyError):
            continue
    logins = _login_names()
    out, redacted = [], 0
    for r in rows:
        row = []
        for c in FRAME_COLUMNS:
            v = r.get(c, "")
            if c in TEXT_COLUMNS:
                if v and (not _PLAIN_LABEL.fullmatch(v) or any(n in v.lower() for n in logins)):
                    v, redacted = REDACTED, redacted + 1
            elif v != "":
                try:
                    x = float(v)
                except ValueError:
                    v, redacted = "", redacted + 1
                else:
                    if c == "timestamp" and t0 is not None:
                        v = f"{x - t0:.3f}"
            row.append(v)
        out.append(row)
    return out, redacted


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FRAME_COLUMNS)
    w.writerows(rows)
    write_private_text(path, buf.getvalue())


# -------------------------------------------------------------------------------- staging


class _Staging:
    """An owner-only folder inside ``out_dir`` where the export is built; moved in place on success."""

    def __init__(self, out_dir: Path, names: tuple[str, ...]) -> None:
        self.out_dir = out_dir
        self.made_out_dir = not out_dir.exists()
        private_dir(out_dir)
        taken = [n for n in names if (out_dir / n).exists()]
        if taken:
            raise ExportError(f"{out_dir} already holds an export ({', '.join(taken)}); choose an empty folder")
        self.dir = Path(tempfile.mkdtemp(prefix=".export-partial-", dir=out_dir))  # 0700

    def commit(self) -> list[Path]:
        out = []
        for p in sorted(self.dir.iterdir()):
            make_private(p)
            dst = self.out_dir / p.name
            os.replace(p, dst)
            out.append(dst)
        self.dir.rmdir()
        return out

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.made_out_dir:
            try:
                self.out_dir.rmdir()  # only when empty
            except OSError:
                pass


def _info(kind: str, res: ExportResult, extra: dict) -> str:
    return json.dumps({"program": f"AuE-IPA Monitor {__version__}", "notice": NOT_A_MEDICAL_DEVICE,
                       "export": "de-identified", "kind": kind, "rows": res.rows,
                       "time_origin": "timestamp is seconds from the first row", **extra}, indent=2) + "\n"


# -------------------------------------------------------------------------------- session


def export_session(src: str | Path, out_dir: str | Path) -> ExportResult:
    """De-identified ``frames.csv`` of a session folder (or of a per-frame CSV file)."""
    src, out_dir = Path(src), Path(out_dir)
    csv_in = src / "frames.csv" if src.is_dir() else src
    if not csv_in.is_file():
        raise ExportError(f"{src}: not a session folder (no frames.csv) nor a per-frame CSV")
    try:
        rows = read_frame_csv(csv_in)
    except (ValueError, UnicodeDecodeError) as e:
        raise ExportError(f"{src}: {e}") from None
    out_rows, redacted = deidentify_rows(rows)
    stage = _Staging(out_dir, (CSV_NAME, INFO_NAME))
    res = ExportResult("session", str(out_dir), rows=len(out_rows), redacted_cells=redacted)
    try:
        _write_csv(stage.dir / CSV_NAME, out_rows)
        write_private_text(stage.dir / INFO_NAME, _info("session", res, {"cells_redacted": redacted}))
        res.files = [str(p) for p in stage.commit()]
    except BaseException:
        stage.discard()
        raise
    return res


# ---------------------------------------------------------------------------------- video


def _grow(box, margin: float, w: int, h: int) -> tuple[int, int, int, int]:
    x, y, bw, bh = box
    mx, my = bw * margin, bh * margin
    return (max(0, int(np.floor(x - mx))), max(0, int(np.floor(y - my))),
            min(w, int(np.ceil(x + bw + mx))), min(h, int(np.ceil(y + bh + my))))


def blur_regions(img: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Each region (x0, y0, x1, y1) replaced by a 5x5-cell mosaic, bilinearly smoothed: no facial
    detail survives (a face spans about 3 cells)."""
    out = img.copy()
    for x0, y0, x1, y1 in regions:
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        small = cv2.resize(out[y0:y1, x0:x1], (5, 5), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return out


def _mask(shape, regions) -> np.ndarray:
    m = np.zeros(shape[:2], bool)
    for x0, y0, x1, y1 in regions:
        m[y0:y1, x0:x1] = True
    return m


def covered(box, mask: np.ndarray, min_fraction: float = 0.5) -> bool:
    """Whether a detection is blurred: at least ``min_fraction`` of its core (the middle 60 %, where
    eyes, nose and mouth are) lies in blurred pixels."""
    x, y, w, h = box
    hh, ww = mask.shape
    xa, ya = max(0, int(x + 0.2 * w)), max(0, int(y + 0.2 * h))
    xb, yb = min(ww, int(np.ceil(x + 0.8 * w))), min(hh, int(np.ceil(y + 0.8 * h)))
    if xb <= xa or yb <= ya:
        return True  # outside the frame
    return float(mask[ya:yb, xa:xb].mean()) >= min_fraction


def _detect(tracker, bgr: np.ndarray, min_score: float | None = None) -> list:
    """Every face the detector finds: the whole frame and a 2x2 tiling (small faces).

    ``min_score`` None: the tracker's own detector (:meth:`FaceTracker.detect`, score >= 0.3),
    as the check pass uses it; otherwise the same network with a lower score, for blurring:
    whatever the check could find in the output was found, and blurred, first.
    """
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if min_score is None:
        return list(tracker.detect(rgb)) + list(tracker.detect(rgb, tiles=2))
    nets = tracker.nets
    dets = list(nets.detect(rgb, min_score))
    h, w = rgb.shape[:2]
    th, tw = h / 2, w / 2
    for i in range(2):
        for j in range(2):
            y0, x0 = int(max(0, i * th - 0.15 * th)), int(max(0, j * tw - 0.15 * tw))
            y1, x1 = int(min(h, (i + 1) * th + 0.15 * th)), int(min(w, (j + 1) * tw + 0.15 * tw))
            dets += nets.detect(np.ascontiguousarray(rgb[y0:y1, x0:x1]), min_score, ox=x0, oy=y0)
    return dets


def _write_blurred(video: Path, dst: Path, regions: list, fps: float, size: tuple[int, int], out_dir: Path,
                   progress: Callable[[int, int], None] | None) -> int:
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise ExportError(f"cannot write an MP4 (mp4v) video in {out_dir}")
    src = open_source(video)
    written = 0
    try:
        for i in range(len(regions)):
            f = src.read()
            if f is None:
                break
            writer.write(blur_regions(f.image, regions[i]))
            written += 1
            if progress:
                progress(written, len(regions))
    finally:
        writer.release()
        src.close()
    return written


def _check(tracker, video: Path, regions: list, progress: Callable[[int, int], None] | None) -> tuple[list, int, int]:
    """(uncovered detections as (frame index 0-based, Detection), frames read, detections) of a written video."""
    uncovered, dets, i = [], 0, 0
    src = open_source(video)
    try:
        while True:
            f = src.read()
            if f is None:
                break
            found = _detect(tracker, f.image)
            dets += len(found)
            if found:
                mask = _mask(f.image.shape, regions[i] if i < len(regions) else [])
                uncovered += [(i, d) for d in found if not covered(d.box, mask)]
            i += 1
            if progress:
                progress(i, len(regions))
    finally:
        src.close()
    return uncovered, i, dets


def export_video(video: str | Path, out_dir: str | Path, make_pipeline: Callable[[Path], object] | None = None,
                 max_frames: int | None = None, tracker=None, progress: ProgressFn | None = None,
                 margin: float = MARGIN) -> ExportResult:
    """De-identified ``video.mp4`` (faces blurred, checked) and ``frames.csv`` of a video file.

    Raises :class:`ExportError` (nothing left in ``out_dir``) when the check pass finds a face
    that is not covered, or the output cannot be written.
    """
    from .analyze import analyze_one

    video, out_dir = Path(video), Path(out_dir)
    if make_pipeline is None:
        def make_pipeline(_p):
            from .pipeline import Pipeline

            return Pipeline()
    own_tracker = tracker is None
    if own_tracker:
        from .face import FaceTracker

        tracker = FaceTracker()
    src = open_source(video)  # a clear SourceError before anything is made
    if src.live or not src.frame_count:
        src.close()
        raise ExportError(f"{video}: only recorded video files can be exported")
    fps, (w, h) = src.fps, src.size
    total = min(src.frame_count, max_frames) if max_frames else src.frame_count
    stage = _Staging(out_dir, (CSV_NAME, VIDEO_NAME, INFO_NAME))
    res = ExportResult("video", str(out_dir))
    try:
        # 1. The per-frame analysis, written first to the owner-only staging folder.
        summary = analyze_one(video, stage.dir, make_pipeline, "analysis", max_frames=max_frames,
                              progress=(lambda n, t: progress("analyse", n, total)) if progress else None)
        if summary.incomplete:  # a truncated or corrupt video: said, not exported as if whole
            raise ExportError(summary.incomplete.split("; ")[0])
        rows = read_frame_csv(stage.dir / "analysis.csv")
        for p in stage.dir.glob("analysis*"):
            p.unlink()  # the summary names the input: not part of the export
        # 2. Detection on every frame (plus the tracked target's box from the analysis).
        boxes: list[list] = []
        n = 0
        while n < total:
            f = src.read()
            if f is None:
                break
            boxes.append([d.box for d in _detect(tracker, f.image, BLUR_MIN_SCORE)])
            n += 1
            if progress:
                progress("detect", n, total)
        src.close()
        for r in rows:
            i = int(r["frame"]) - 1
            if r["face_x"] and 0 <= i < len(boxes):
                boxes[i].append(tuple(float(r[c]) for c in ("face_x", "face_y", "face_w", "face_h")))
        n = len(boxes)
        regions = [[_grow(b, margin, w, h) for j in range(max(0, i - TEMPORAL), min(n, i + TEMPORAL + 1))
                    for b in boxes[j]] for i in range(n)]
        res.faces_blurred = sum(len(b) for b in boxes)
        tmp_video = stage.dir / VIDEO_NAME
        # 3-4. Blur and write; then check: the detector again, on the written video. A face it
        # finds outside the blur (a face missed before, or one it sees in the blurred picture)
        # is blurred too and the video written again; still uncovered after CHECK_ROUNDS: failure.
        uncovered: list = []
        for round_ in range(1, CHECK_ROUNDS + 1):
            res.frames = _write_blurred(video, tmp_video, regions, fps, (w, h), out_dir,
                                        (lambda k, t: progress("blur", k, t)) if progress else None)
            make_private(tmp_video)
            uncovered, res.check_frames, res.check_detections = _check(
                tracker, tmp_video, regions, (lambda k, t: progress("check", k, t)) if progress else None)
            res.check_rounds = round_
            if res.check_frames != res.frames:
                raise ExportError(f"export check failed: the written video has {res.check_frames} frames, "
                                  f"{res.frames} were written; nothing was exported")
            if not uncovered:
                break
            res.added_in_check += len(uncovered)
            for i, d in uncovered:
                for j in range(max(0, i - 1), min(n, i + 2)):
                    regions[j].append(_grow(d.box, margin, w, h))
        res.check_uncovered = len(uncovered)
        if uncovered:
            i, d = uncovered[0]
            raise ExportError(f"export check failed: the detector still finds {len(uncovered)} face(s) not blurred "
                              f"in the written video after {CHECK_ROUNDS} rounds (first at frame {i + 1}, box "
                              f"{', '.join(f'{v:.0f}' for v in d.box)}, score {d.score:.2f}); nothing was exported")
        out_rows, redacted = deidentify_rows(rows)
        res.rows, res.redacted_cells = len(out_rows), redacted
        _write_csv(stage.dir / CSV_NAME, out_rows)
        write_private_text(stage.dir / INFO_NAME, _info("video", res, {
            "frames": res.frames, "fps": fps, "size": [w, h], "faces_blurred": res.faces_blurred,
            "blur": f"every detection scoring {BLUR_MIN_SCORE} or more, box grown by {margin:.0%} per side, also {TEMPORAL} frames before/after",
            "check": {"detector": "BlazeFace (FaceTracker.detect), whole frame and 2x2 tiles",
                      "frames": res.check_frames, "detections": res.check_detections, "uncovered": 0,
                      "rounds": res.check_rounds, "blurred_after_check": res.added_in_check},
            "cells_redacted": redacted}))
        res.files = [str(p) for p in stage.commit()]
    except BaseException:
        stage.discard()
        raise
    finally:
        src.close()
        if own_tracker:
            tracker.close()
    return res


def export_any(path: str | Path, out_dir: str | Path, **kw) -> ExportResult:
    """A session folder or per-frame CSV -> :func:`export_session`; a video -> :func:`export_video`."""
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix.lower() == ".csv":
        return export_session(path, out_dir)
    if path.suffix.lower() in VIDEO_EXTS or path.is_file():
        return export_video(path, out_dir, **kw)
    raise ExportError(f"{path}: neither a session folder nor a video")


def result_dict(res: ExportResult) -> dict:
    return asdict(res)
