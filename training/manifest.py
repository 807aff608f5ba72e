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
- ``scale``: ``flacc`` (0-10), ``nfcs`` (0-4, integer) or ``binary`` (0 no pain / 1 pain).

Every row is checked before anything runs; all problems are listed with their line numbers
(:class:`ManifestError`).

Label mapping (one rule for every stage, stated in the report):

- every score becomes a 0-10 regression target: FLACC as is, NFCS x 2.5, binary x 10;
- the 4 pain levels (:class:`PainLevel`, paper Table II) come from that 0-10 score;
- a data set's own label scheme is 4 levels for FLACC and 2 levels (no pain / pain, pain = any
  level above "no pain") for NFCS and binary; predictions are collapsed the same way.
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
SCALES: dict[str, tuple[float, float]] = {"flacc": (0.0, 10.0), "nfcs": (0.0, 4.0), "binary": (0.0, 1.0)}
#: Multiplier from each scale to the common 0-10 target.
TO_0_10: dict[str, float] = {"flacc": 1.0, "nfcs": 2.5, "binary": 10.0}
FOLDER_FPS = 30.0


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
        scale: ``flacc``, ``nfcs`` or ``binary``.
    """

    line: int
    subject: str
    dataset: str
    media: Path
    time_s: float
    score: float
    scale: str

    @property
    def target(self) -> float:
        """The common regression target, pain 0-10."""
        return self.score * TO_0_10[self.scale]

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
    """A data set's label scheme: ``4level`` for FLACC, ``binary`` for NFCS and pain/no-pain."""
    return "4level" if scale == "flacc" else "binary"


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
        if scale and scale not in SCALES:
            bad.append(f"unknown scale {get['scale']!r} (expected flacc, nfcs or binary)")
        score = _parse_float(get["score"])
        if score is None:
            bad.append(f"score {get['score']!r} is not a number")
        elif scale in SCALES:
            lo, hi = SCALES[scale]
            if not lo <= score <= hi:
                bad.append(f"score {score:g} is outside the {scale} range {lo:g}-{hi:g}")
            elif scale in ("nfcs", "binary") and score != int(score):
                bad.append(f"score {score:g} must be a whole number on the {scale} scale")
        time_s = 0.0 if get["time_s"] == "" else _parse_float(get["time_s"])
        if time_s is None or time_s < 0:
            bad.append(f"time_s {get['time_s']!r} is not a time in seconds >= 0")
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
        if get["dataset"] and scale in SCALES:
            prev = seen_scale.setdefault(get["dataset"], (scale, lineno))
            if prev[0] != scale:
                bad.append(f"data set {get['dataset']!r} uses scale {scale} here but {prev[0]} on line {prev[1]}")
        if bad:
            problems.extend(f"line {lineno}: {b}" for b in bad)
            continue
        rows.append(Row(lineno, get["subject"], get["dataset"], media, float(time_s or 0.0), float(score),
                        scale))
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
