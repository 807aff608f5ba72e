"""The training manifest: one CSV row per scored time point of a video (or per image / image folder).

Columns (header required, order free, extra columns ignored):

- ``subject``: subject (infant) id; cross-validation never puts one subject in both train and test.
- ``dataset``: data set name (e.g. ``youtube_immunization``); one is the training set, the others
  are tested on without fine-tuning.
- ``media``: a video file, an image file or a folder of images (sorted by name, 30 fps nominal);
  a relative path is resolved against the manifest's own folder.
- ``time_s``: seconds into the video where the time point's consecutive frames start
  (empty or 0 for a still image; for an image folder, frame index = round(time_s * 30)).
- ``score``: the time point's score on ``scale``.
- ``scale``: one of :data:`SCALE_DEFS` (``flacc``, ``nfcs`` = 0-4 coding, ``nfcs8``, ``nfcs10``,
  ``nips``, ``binary``); one data set uses one scale.

Optional columns:

- ``face_x, face_y, face_w, face_h``: the infant's face box in frame pixels; the tracker's target
  region (:class:`FaceTracker` ``roi``), so another face (a parent, a nurse) is never taken.
  All four or none per row.
- ``frame_start, frame_end``: a frame range (1-based, inclusive) of a video or image-folder row,
  used instead of ``time_s``; ``--frames`` frames are taken evenly spread over it (every frame
  when the range is shorter).
- ``class`` (or ``stimulus``): the row's class or stimulus (pain, rest, cry, air, friction, ...);
  carried through to per-class results.

Every row is checked before anything runs; all problems are listed with their line numbers
(:class:`ManifestError`).

Label mapping (one rule for every stage, stated in the report; see :class:`Scale`):

- every score becomes a 0-10 regression target by a piecewise-linear map that sends the scale's
  lowest score to 0, its pain threshold (``pain_from``) to 2.5 and its highest score to 10:
  FLACC stays as it is, NFCS 0-4 is x 2.5, binary is x 10;
- the 4 pain levels (:class:`PainLevel`, paper Table II) come from that 0-10 score, so "no pain"
  is exactly "below the scale's own pain threshold";
- a data set's own label scheme is 4 levels for FLACC and 2 levels (no pain / pain, pain = any
  level above "no pain") for the others; predictions are collapsed the same way.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from auepa_monitor.core.errors import AuepaError
from auepa_monitor.core.records import PainLevel
from auepa_monitor.core.sources import IMAGE_EXTS, VIDEO_EXTS

REQUIRED = ("subject", "dataset", "media", "time_s", "score", "scale")
BOX_COLUMNS = ("face_x", "face_y", "face_w", "face_h")
RANGE_COLUMNS = ("frame_start", "frame_end")
CLASS_COLUMNS = ("class", "stimulus")
FOLDER_FPS = 30.0


@dataclass(frozen=True)
class Scale:
    """A pain scale with its true range and the rule that maps it to the common 0-10 target.

    ``pain_from`` is the lowest score that counts as pain; the 0-10 target is piecewise linear:
    [lo, pain_from) -> [0, 2.5) and [pain_from, hi] -> [2.5, 10], so the 4 levels of Table II
    ([0,2.5) no pain, [2.5,5) weak, [5,7.5) mid, [7.5,10] strong) split the pain part of the scale
    into three equal thirds and "no pain" is exactly "below the threshold".
    """

    name: str
    lo: float
    hi: float
    pain_from: float
    whole: bool
    scheme: str  # "4level" or "binary"
    note: str

    def to_0_10(self, score: float) -> float:
        if score < self.pain_from:
            return 2.5 * (score - self.lo) / (self.pain_from - self.lo)
        if self.hi <= self.pain_from:
            return 10.0
        return 2.5 + 7.5 * (score - self.pain_from) / (self.hi - self.pain_from)

    def rule(self) -> str:
        """The mapping in words (for the report)."""
        if self.name == "flacc":
            return "FLACC 0-10 as is"
        if self.hi <= self.pain_from:
            return f"{self.name}: {self.lo:g} -> 0, {self.hi:g} -> 10"
        return (f"{self.name} {self.lo:g}-{self.hi:g}: [{self.lo:g}, {self.pain_from:g}) -> [0, 2.5), "
                f"[{self.pain_from:g}, {self.hi:g}] -> [2.5, 10] linearly (pain from {self.pain_from:g})")


#: The scales a manifest may declare. Add an entry here for another scale (range, pain threshold).
SCALE_DEFS: dict[str, Scale] = {s.name: s for s in (
    Scale("flacc", 0, 10, 2.5, False, "4level", "FLACC 0-10, scored on the paper's 4 levels"),
    Scale("nfcs", 0, 4, 1, True, "binary", "NFCS coded 0-4 (x 2.5; kept for older manifests: real NFCS totals "
                                           "are nfcs8 or nfcs10)"),
    Scale("nfcs4", 0, 4, 1, True, "binary", "NFCS coded 0-4 (x 2.5), same as nfcs"),
    Scale("nfcs8", 0, 8, 3, True, "binary", "NFCS total of the 8-item variant, 0-8; pain from 3"),
    Scale("nfcs10", 0, 10, 3, True, "binary", "NFCS total of the 10-item scale, 0-10; pain from 3"),
    Scale("nips", 0, 7, 3, True, "binary", "NIPS 0-7; 0-2 no pain, pain from 3"),
    Scale("binary", 0, 1, 1, True, "binary", "0 = no pain, 1 = pain"),
)}
#: Kept for older callers: (lo, hi) of each scale.
SCALES: dict[str, tuple[float, float]] = {n: (s.lo, s.hi) for n, s in SCALE_DEFS.items()}


class ManifestError(AuepaError):
    """The manifest has problems; ``problems`` lists them as ``"line N: ..."`` strings."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        head = f"{path}: {len(problems)} problem(s) in the manifest"
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Row:
    """One scored time point.

    Attributes:
        line: 1-based line number in the CSV (the header is line 1).
        subject, dataset: ids as written.
        media: resolved absolute path of the video, image or image folder.
        time_s: start time of the consecutive frames, seconds (0 for a still).
        score: the score as written, on ``scale``.
        scale: a name of :data:`SCALE_DEFS`.
        box: the face box (x, y, w, h) in frame pixels, the tracker's target region; None: the largest face.
        frame_range: (first, last) 1-based frame numbers of a video or folder row, or None (use ``time_s``).
        cls: the row's class or stimulus ("" when the manifest has none).
    """

    line: int
    subject: str
    dataset: str
    media: Path
    time_s: float
    score: float
    scale: str
    box: tuple[float, float, float, float] | None = None
    frame_range: tuple[int, int] | None = None
    cls: str = ""

    @property
    def target(self) -> float:
        """The common regression target, pain 0-10 (:meth:`Scale.to_0_10`)."""
        return SCALE_DEFS[self.scale].to_0_10(self.score)

    @property
    def level(self) -> int:
        """Pain level 0-3 of :attr:`target` (paper, Table II)."""
        return int(PainLevel.from_score(self.target))

    @property
    def kind(self) -> str:
        """``video``, ``image`` or ``folder``."""
        if self.media.is_dir():
            return "folder"
        return "image" if self.media.suffix.lower() in IMAGE_EXTS else "video"


def scheme_of(scale: str) -> str:
    """A data set's label scheme: ``4level`` for FLACC, ``binary`` for NFCS, NIPS and pain/no-pain."""
    return SCALE_DEFS[scale].scheme


def collapse(levels: list[int] | tuple[int, ...], scheme: str) -> list[int]:
    """Map 0-3 pain levels to ``scheme``: unchanged for ``4level``; 0 -> 0, 1-3 -> 1 for ``binary``."""
    if scheme == "4level":
        return [int(v) for v in levels]
    return [1 if int(v) > 0 else 0 for v in levels]


def class_names(scheme: str) -> list[str]:
    if scheme == "4level":
        return [PainLevel(i).label for i in range(4)]
    return ["no pain", "pain"]


def _parse_float(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def read_manifest(path: str | Path) -> list[Row]:
    """Read and validate a manifest; raises :class:`ManifestError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, ["the manifest file does not exist"])
    base = path.resolve().parent
    problems: list[str] = []
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        lines = [ln for ln in f]
    # Lines starting with '#' are comments (kept out of csv parsing, but counted for line numbers).
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise ManifestError(path, ["the manifest is empty (no header)"])
    reader = csv.reader([ln for _, ln in numbered])
    header = [h.strip() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ManifestError(path, [f"line {numbered[0][0]}: header lacks column(s) {', '.join(missing)} "
                                   f"(required: {', '.join(REQUIRED)})"])
    col = {c: header.index(c) for c in REQUIRED}
    has_box = [c for c in BOX_COLUMNS if c in header]
    if has_box and len(has_box) != len(BOX_COLUMNS):
        raise ManifestError(path, [f"line {numbered[0][0]}: the face box needs all of {', '.join(BOX_COLUMNS)} "
                                   f"(the header has only {', '.join(has_box)})"])
    has_range = [c for c in RANGE_COLUMNS if c in header]
    if has_range and len(has_range) != len(RANGE_COLUMNS):
        raise ManifestError(path, [f"line {numbered[0][0]}: a frame range needs both {' and '.join(RANGE_COLUMNS)}"])
    for c in (*has_box, *has_range):
        col[c] = header.index(c)
    cls_col = next((c for c in CLASS_COLUMNS if c in header), None)
    if cls_col:
        col["class"] = header.index(cls_col)
    seen_scale: dict[str, tuple[str, int]] = {}
    for (lineno, _), cells in zip(numbered[1:], reader, strict=True):
        cells = [c.strip() for c in cells]
        if len(cells) < len(header):
            problems.append(f"line {lineno}: {len(cells)} field(s), the header has {len(header)}")
            continue
        get = {c: cells[i] for c, i in col.items()}
        bad = []
        for c in ("subject", "dataset", "media", "scale"):
            if not get[c]:
                bad.append(f"empty {c}")
        scale = get["scale"].lower()
        if scale and scale not in SCALE_DEFS:
            bad.append(f"unknown scale {get['scale']!r} (expected one of {', '.join(SCALE_DEFS)})")
        score = _parse_float(get["score"])
        if score is None:
            bad.append(f"score {get['score']!r} is not a number")
        elif scale in SCALE_DEFS:
            sd = SCALE_DEFS[scale]
            if not sd.lo <= score <= sd.hi:
                hint = " (an NFCS total above 4: declare nfcs8 or nfcs10)" if scale == "nfcs" and score > 4 else ""
                bad.append(f"score {score:g} is outside the {scale} range {sd.lo:g}-{sd.hi:g}{hint}")
            elif sd.whole and score != int(score):
                bad.append(f"score {score:g} must be a whole number on the {scale} scale")
        time_s = 0.0 if get["time_s"] == "" else _parse_float(get["time_s"])
        if time_s is None or time_s < 0:
            bad.append(f"time_s {get['time_s']!r} is not a time in seconds >= 0")
        box = None
        if has_box:
            cells_box = [get[c] for c in BOX_COLUMNS]
            if any(cells_box):
                vals = [_parse_float(v) for v in cells_box]
                if any(v is None for v in vals):
                    bad.append(f"face box {', '.join(cells_box)} is not four numbers (x, y, w, h)")
                elif vals[2] <= 0 or vals[3] <= 0 or vals[0] < 0 or vals[1] < 0:
                    bad.append(f"face box {', '.join(cells_box)} needs x, y >= 0 and w, h > 0")
                else:
                    box = tuple(float(v) for v in vals)
        frange = None
        if has_range and (get["frame_start"] or get["frame_end"]):
            a, b = _parse_float(get["frame_start"]), _parse_float(get["frame_end"])
            if a is None or b is None or a != int(a) or b != int(b) or not 1 <= a <= b:
                bad.append(f"frame range {get['frame_start']!r}-{get['frame_end']!r} must be whole frame numbers "
                           "1 <= start <= end")
            elif time_s:
                bad.append("give time_s or a frame range, not both")
            else:
                frange = (int(a), int(b))
        media = Path(get["media"])
        if get["media"]:
            if not media.is_absolute():
                media = (base / media).resolve()
            if not media.exists():
                bad.append(f"media {get['media']} does not exist (looked for {media})")
            elif media.is_file() and media.suffix.lower() not in IMAGE_EXTS | VIDEO_EXTS:
                bad.append(f"media {get['media']} is neither a known video nor image type")
            elif media.is_dir() and not any(p.suffix.lower() in IMAGE_EXTS for p in media.iterdir()):
                bad.append(f"media folder {get['media']} holds no images")
            elif frange is not None and media.is_file() and media.suffix.lower() in IMAGE_EXTS:
                bad.append("a frame range needs a video or an image folder, not a still image")
        if get["dataset"] and scale in SCALES:
            prev = seen_scale.setdefault(get["dataset"], (scale, lineno))
            if prev[0] != scale:
                bad.append(f"data set {get['dataset']!r} uses scale {scale} here but {prev[0]} on line {prev[1]}")
        if bad:
            problems.extend(f"line {lineno}: {b}" for b in bad)
            continue
        rows.append(Row(lineno, get["subject"], get["dataset"], media, float(time_s or 0.0), float(score),
                        scale, box, frange, get.get("class", "")))
    if not problems and not rows:
        problems.append("the manifest has a header but no rows")
    if problems:
        raise ManifestError(path, problems)
    return rows


def datasets(rows: list[Row]) -> dict[str, list[Row]]:
    """Rows grouped by data set, in first-seen order."""
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(r.dataset, []).append(r)
    return out
