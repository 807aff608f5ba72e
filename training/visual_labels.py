"""Visual labels of mouth and eye opening on the children set: a reference that is neither landmark set.

Why: on the children's webcam halves our landmark geometry and OpenFace's agree only partly
(``validate_aus`` table (a): lip gap r 0.38, eye opening 0.40), and a low r cannot say which of
the two is wrong. A person looking at the frames can, for the actions that are plainly
visible even on a 30 px face: is the mouth open, are the eyes open, is the face smiling.

**Labels** (``training/labels/children_visual.csv``; one row per frame): ``video`` (file stem),
``half`` (left / right: the half OpenFace ran on), ``frame`` (1-based, OpenFace's ``frame``),
``sample`` (``random``, or ``disagree:<measure>``: see below), and three ordinal labels, empty
where the frame does not show it (blur, a hand or a bottle over the mouth, a profile):

* ``mouth``: 0 lips closed, 1 lips parted (teeth may show, jaw barely dropped), 2 open wide
  (jaw dropped: laughing, a shout);
* ``eyes``: 0 closed, 1 narrowed (a smile's squint, a lid lowered by a downward look), 2 open;
* ``smile``: 0 none (an open mouth of surprise or speech is none), 1 slight, 2 clear (lip
  corners pulled up and out, cheeks raised).

**Protocol** (:func:`make_sheets`): frames where OpenFace's fit is good and ours is on the same
face (:func:`training.au_data.good_frames`). 96 drawn at random (at most 5 per clip half, so
that every family and person is seen), plus the 24 frames where the two landmark sets disagree
most on each of lip gap and eye opening (the difference of the two z-scores within the clip):
only those can tell which set is wrong. All 144 shuffled onto contact sheets of 12 face crops
(colour, 240 px, from the video itself), numbered, with no measure shown: the annotator sees
the face only. The shipped file was labelled by one annotator (the developer, 2026-12-01;
``smile`` in a second pass over the same sheets) on sheets made from the tracker of commit 53a356e; the ``disagree`` rows depend on that tracker's
output, the labels do not.

**Figures** (:func:`visual_table`, printed by ``validate_aus`` as table (d)): Spearman's rho of
each series with the label over the ``random`` rows (a fair sample of the good frames), the
area under the ROC curve for the label's positive class (:data:`CHECKS`: lips parted, jaw
dropped, eyes open, a smile) against the rest, and on the ``disagree`` rows how often each
landmark set's deviation from its clip mean has the label's sign (positive: above its mean).

Make new sheets: ``python -m training.visual_labels sheets --out DIR`` writes ``sheetNN.png`` and
``key.csv`` (the rows with empty labels for the annotator to fill in).

**Brow pairs** (``training/labels/children_brow_pairs.csv``; :func:`choose_brow_pairs`,
:func:`brow_table`, ``validate_aus`` table (e)). How high a brow sits says little alone, so brow
height is judged on a pair of frames of one clip half: ``higher`` is ``a`` or ``b``, the frame
whose brows sit higher above the eyes, empty where that cannot be told (brows under hair, a
turned or blurred face, the top of the head cut off). Pairs are at least 15 frames apart; per
clip half, those that the two landmark sets order most strongly in opposite directions by brow
height (``disagree``: only these can say which set is wrong) and, as a check that a difference is
visible at all, those both order alike (``agree``). Which frame is shown as ``a`` is random; the
sheets show no measure. Round 1: 24 ``disagree`` and 12 ``agree`` pairs (at most 2 of each per
clip half, seed ``SEED``); round 2 (``--brows --more --seed SEED+1``): 56 further ``disagree``
pairs (at most 5 per clip half). Same annotator and date; 16 of the 92 could be told, 15 of
them on the parents' faces: the toddlers' brows are mostly under their fringes.

Brow sheets: ``python -m training.visual_labels sheets --brows --out DIR`` (``browNN.png`` and
``brow_key.csv``).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auepa_monitor.core import au_geometry as G
from training import au_data as D
from training.au_data import good_frames

LABELS = Path(__file__).resolve().parent / "labels" / "children_visual.csv"
LABEL_NAMES = ("mouth", "eyes", "smile")
FIELDS = ("sheet_id", "video", "half", "frame", "sample", *LABEL_NAMES)
TILE = 240  # px, a face crop on a sheet
PER_SHEET = 12
SEED = 20261201


@dataclass(frozen=True)
class VisualLabel:
    """One labelled frame; ``mouth``, ``eyes``, ``smile`` 0-2 (module doc), None where not visible."""

    sheet_id: int
    video: str
    half: str
    frame: int  # 1-based, OpenFace's frame
    sample: str  # "random" or "disagree:<measure>"
    mouth: int | None
    eyes: int | None
    smile: int | None

    @property
    def clip(self) -> str:
        return f"{self.video}.{self.half}"

    @property
    def row(self) -> int:
        return self.frame - 1


def load_labels(path: Path = LABELS) -> list[VisualLabel]:
    """The labels file (see the module doc). Raises ValueError on a malformed row."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for k, r in enumerate(csv.DictReader(f), start=2):
            try:
                lab = [None if r[c] == "" else int(r[c]) for c in LABEL_NAMES]
                if any(v is not None and not 0 <= v <= 2 for v in lab) or r["half"] not in ("left", "right"):
                    raise ValueError("label outside 0-2 or half not left/right")
                out.append(VisualLabel(int(r["sheet_id"]), r["video"], r["half"], int(r["frame"]), r["sample"], *lab))
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}, line {k}: {e}") from e
    return out


# -- sheets -----------------------------------------------------------------------------------
def _clip_z(clip: D.Clip, rows: np.ndarray, measure: str) -> np.ndarray:
    """Our z-score minus OpenFace's of ``measure`` within the clip (rows = good frames)."""
    a = np.array([G.measures_68(clip.ref.landmarks[i])[measure] for i in rows])
    b = np.array([G.measures_mp(clip.track.landmarks[i])[measure] for i in rows])
    return (b - b.mean()) / max(float(b.std()), 1e-6) - (a - a.mean()) / max(float(a.std()), 1e-6)


def choose_frames(clips: list[D.Clip], n_random: int = 96, per_clip: int = 5, n_disagree: int = 24,
                  seed: int = SEED, measures: tuple[str, ...] = ("lip_gap", "eye_open")) -> list[tuple[str, int, str]]:
    """(clip name, row, sample) of the frames to label, shuffled (module doc: protocol)."""
    rng = random.Random(seed)
    cands, diff = [], {}
    for c in clips:
        rows = np.where(good_frames(c))[0]
        if len(rows) < 10:
            continue
        for m in measures:
            for i, z in zip(rows, _clip_z(c, rows, m), strict=True):
                diff[(c.name, int(i), m)] = abs(float(z))
        cands += [(c.name, int(i)) for i in rows]
    rng.shuffle(cands)
    picked: list[tuple[str, int, str]] = []
    per: dict[str, int] = {}
    for name, i in cands:
        if len(picked) >= n_random:
            break
        if per.get(name, 0) < per_clip:
            per[name] = per.get(name, 0) + 1
            picked.append((name, i, "random"))
    seen = {(n, i) for n, i, _ in picked}
    for m in measures:
        worst = sorted(((v, k[0], k[1]) for k, v in diff.items() if k[2] == m), reverse=True)
        added = 0
        for _, name, i in worst:
            if added >= n_disagree:
                break
            if (name, i) not in seen:
                seen.add((name, i))
                picked.append((name, i, f"disagree:{m}"))
                added += 1
    rng.shuffle(picked)
    return picked


def face_tile(img: np.ndarray, points: np.ndarray, size: int = TILE) -> np.ndarray:
    """A square colour crop around ``points`` (N, 2 image px; both landmark sets), 1.3x their extent."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    s = 1.3 * max(x1 - x0, y1 - y0, 1.0) / size
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    m = np.array([[1 / s, 0, size / 2 - cx / s], [0, 1 / s, size / 2 - cy / s]])
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_CUBIC, borderValue=(80, 80, 80))


def face_tiles(clips: list[D.Clip], need: dict[str, set[int]], children: Path) -> dict[tuple[str, int], np.ndarray]:
    """(clip name, row) -> :func:`face_tile` of that frame, for the rows ``need`` names per clip half
    (the crop spans both landmark sets, so neither decides what the annotator sees)."""
    by_name = {c.name: c for c in clips}
    tiles = {}
    for name, rows in need.items():
        video, half = name.rsplit(".", 1)
        x0 = 0 if half == "left" else 320
        c = by_name[name]
        for i, img in enumerate(D.video_frames(children / f"{video}.mp4", x0, x0 + 320)):
            if i in rows:
                pts = np.vstack([c.ref.landmarks[i][:, :2], c.track.landmarks[i][:, :2]])
                tiles[(name, i)] = face_tile(img, pts)
    return tiles


def make_sheets(clips: list[D.Clip], out: Path, children: Path = D.DEFAULT_CHILDREN, **choose) -> Path:
    """Contact sheets of the frames :func:`choose_frames` picks, and ``key.csv`` to fill in; returns the key."""
    out.mkdir(parents=True, exist_ok=True)
    picked = choose_frames(clips, **choose)
    need: dict[str, set[int]] = {}
    for name, i, _ in picked:
        need.setdefault(name, set()).add(i)
    tiles = face_tiles(clips, need, children)
    for s in range(0, len(picked), PER_SHEET):
        sheet = np.full((4 * (TILE + 20), 3 * (TILE + 10), 3), 255, np.uint8)
        for k, (name, i, _) in enumerate(picked[s:s + PER_SHEET]):
            r, col = divmod(k, 3)
            y, x = r * (TILE + 20), col * (TILE + 10)
            sheet[y + 18:y + 18 + TILE, x + 5:x + 5 + TILE] = tiles[(name, i)]
            cv2.putText(sheet, str(s + k + 1), (x + 8, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        cv2.imwrite(str(out / f"sheet{s // PER_SHEET + 1:02d}.png"), sheet)
    key = out / "key.csv"
    with open(key, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for k, (name, i, sample) in enumerate(picked, start=1):
            video, half = name.rsplit(".", 1)
            w.writerow([k, video, half, i + 1, sample, *[""] * len(LABEL_NAMES)])
    return key


# -- figures ----------------------------------------------------------------------------------
def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties); NaN with fewer than 3 points or a constant series."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for the boolean ``positive``; NaN without both classes."""
    from sklearn.metrics import roc_auc_score

    positive = np.asarray(positive, bool)
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, score))


@dataclass(frozen=True)
class Check:
    """One measure (and its AU) against one label. The measure grows with the label; ``au_sign``
    orients the AU so too (AU45 is closure: it counts negatively). ``open_at``: the label value
    from which a frame is in the positive class (AUC, disagreement sign)."""

    label: str  # one of LABEL_NAMES
    measure: str  # au_geometry measure
    au: int
    au_sign: int
    open_at: int
    open_text: str


CHECKS = (
    Check("mouth", "lip_gap", 25, 1, 1, "lips parted or open (mouth >= 1)"),
    Check("mouth", "jaw_drop", 26, 1, 2, "jaw dropped (mouth 2)"),
    Check("eyes", "eye_open", 45, -1, 2, "eyes open (2)"),
    Check("smile", "lip_pull", 12, 1, 1, "a slight or clear smile (smile >= 1)"),
)


def visual_table(clips: list[D.Clip], replays: dict[str, np.ndarray], labels: list[VisualLabel],
                 reported: tuple[int, ...]) -> tuple[str, dict]:
    """Table (d): each series against the visual labels.

    ``replays``: clip name -> (n, len(reported)) our AU output per frame (validate_aus.replay).
    Labelled frames where our fit is absent are left out (counted in ``n``).
    """
    by_name = {c.name: c for c in clips}
    col = {a: j for j, a in enumerate(reported)}
    means: dict[tuple[str, str], tuple[float, float]] = {}

    def clip_means(c: D.Clip, m: str) -> tuple[float, float]:
        if (c.name, m) not in means:
            rows = np.where(good_frames(c))[0]
            means[(c.name, m)] = (float(np.mean([G.measures_68(c.ref.landmarks[i])[m] for i in rows])),
                                  float(np.mean([G.measures_mp(c.track.landmarks[i])[m] for i in rows])))
        return means[(c.name, m)]

    lines = ["(d) children set: against visual labels (training/visual_labels.py; one annotator, blind to every "
             "measure; Spearman rho over the random sample, AUC of the positive class there, and on the frames where the two "
             "landmark sets disagree most: how often each one's deviation from its clip mean has the label's sign)",
             "  label  series                      n  rho(random)  AUC(random)   n  right(disagree)"]
    figs: dict = {}
    for chk in CHECKS:
        label, measure, au, sgn, open_at = chk.label, chk.measure, chk.au, chk.au_sign, chk.open_at
        rows_r, rows_d = [], []
        for lab in labels:
            v = getattr(lab, label)
            c = by_name.get(lab.clip)
            if v is None or c is None or lab.row >= len(c.track) or not c.track.fit[lab.row] \
                    or c.ref.landmarks is None:
                continue
            i = lab.row
            of_geo = G.measures_68(c.ref.landmarks[i])[measure]
            us_geo = G.measures_mp(c.track.landmarks[i])[measure]
            of_au = float(c.ref.aus[au][i]) if au in c.ref.aus else math.nan
            us_au = float(replays[c.name][i, col[au]])
            rec = (v, of_geo, us_geo, sgn * us_au, sgn * of_au)
            if lab.sample == "random":
                rows_r.append(rec)
            elif lab.sample == f"disagree:{measure}":
                m_of, m_us = clip_means(c, measure)
                rows_d.append((v, of_geo - m_of, us_geo - m_us))
        y = np.array([r[0] for r in rows_r], float)
        x = np.array([r[1:] for r in rows_r], float).reshape(len(rows_r), 4)
        d = np.array(rows_d, float).reshape(len(rows_d), 3)
        # the label's sign around the clip mean: open (>= open_at) above, the rest below
        want = np.where(d[:, 0] >= open_at, 1.0, -1.0) if len(d) else d[:, 0]
        right = {"openface": float(np.mean(np.sign(d[:, 1]) == want)) if len(d) else math.nan,
                 "ours": float(np.mean(np.sign(d[:, 2]) == want)) if len(d) else math.nan}
        key = f"{label}:{measure}"
        figs[key] = {"n_random": len(y), "n_disagree": len(d), "right_disagree": right, "series": {}}
        names = (f"OpenFace {measure}", f"our {measure}", f"our AU{au:02d}", f"OpenFace AU{au:02d}_r")
        for k, name in enumerate(names):
            ok = ~np.isnan(x[:, k])
            rho = spearman(x[ok, k], y[ok])
            a = auc(x[ok, k], y[ok] >= open_at)
            figs[key]["series"][name] = {"rho": round(rho, 3), "auc": round(a, 3)}
            tail = ""
            if k < 2:
                tail = f"{len(d):4d}  {right['openface' if k == 0 else 'ours']:6.2f}"
            lines.append(f"  {label:<6} {('-' if sgn < 0 and k >= 2 else '') + name:<24} {int(ok.sum()):4d}  {rho:11.2f}  "
                         f"{a:11.2f}  {tail}")
        lines.append(f"         (positive: {chk.open_text})")
    return "\n".join(lines), figs


# -- brow pairs -------------------------------------------------------------------------------
# Brow height is relative (a toddler's brows at rest sit anywhere), so it is judged on pairs of
# frames of the same clip half: which of the two shows the brows higher above the eyes?
BROW_LABELS = Path(__file__).resolve().parent / "labels" / "children_brow_pairs.csv"
BROW_FIELDS = ("pair_id", "video", "half", "frame_a", "frame_b", "sample", "higher")
BROW_MEASURES = ("brow_inner", "brow_outer")


@dataclass(frozen=True)
class BrowPair:
    """Two frames (1-based) of one clip half; ``higher`` "a" or "b" (brows higher above the eyes in
    that frame), None where the annotator could not tell. ``sample``: ``disagree`` (the two landmark
    sets order the pair oppositely) or ``agree`` (both order it alike: a check that the difference
    is visible at all)."""

    pair_id: int
    video: str
    half: str
    frame_a: int
    frame_b: int
    sample: str
    higher: str | None

    @property
    def clip(self) -> str:
        return f"{self.video}.{self.half}"


def load_brow_pairs(path: Path = BROW_LABELS) -> list[BrowPair]:
    """The brow-pair labels file. Raises ValueError on a malformed row."""
    out = []
    with open(path, newline="", encoding="utf-8") as f:
        for k, r in enumerate(csv.DictReader(f), start=2):
            try:
                h = r["higher"].strip().lower() or None
                if h not in (None, "a", "b") or r["half"] not in ("left", "right"):
                    raise ValueError("higher must be a, b or empty; half left or right")
                out.append(BrowPair(int(r["pair_id"]), r["video"], r["half"], int(r["frame_a"]), int(r["frame_b"]),
                                    r["sample"], h))
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{path}, line {k}: {e}") from e
    return out


def _brow_height(values: dict[str, np.ndarray]) -> np.ndarray:
    """Brow height within a clip: the mean z-score of the inner and outer brow heights."""
    return sum((v - v.mean()) / max(float(v.std()), 1e-6) for v in (values[m] for m in BROW_MEASURES)) / 2


def choose_brow_pairs(clips: list[D.Clip], n_disagree: int = 24, n_agree: int = 12, per_clip: int = 2,
                      min_gap: int = 15, seed: int = SEED) -> list[tuple[str, int, int, str]]:
    """(clip name, row a, row b, sample) of the pairs to label: within each clip half, the frame pairs
    (at least ``min_gap`` frames apart) that the two landmark sets order most strongly in opposite
    directions by brow height (``disagree``, strength = the smaller of the two z differences), and
    pairs both order alike by a wide margin (``agree``); at most ``per_clip`` of each per clip half.
    Which frame is shown as "a" is random."""
    rng = random.Random(seed)
    dis: list[tuple[float, str, int, int]] = []
    agr: list[tuple[float, str, int, int]] = []
    for c in clips:
        rows = np.where(good_frames(c))[0]
        if len(rows) < 10:
            continue
        of = {m: np.array([G.measures_68(c.ref.landmarks[i])[m] for i in rows]) for m in BROW_MEASURES}
        us = {m: np.array([G.measures_mp(c.track.landmarks[i])[m] for i in rows]) for m in BROW_MEASURES}
        zo, zu = _brow_height(of), _brow_height(us)
        do, du = zo[:, None] - zo[None, :], zu[:, None] - zu[None, :]
        far = np.abs(rows[:, None] - rows[None, :]) >= min_gap
        for pool, strength in ((dis, np.minimum(du, -do)), (agr, np.minimum(du, do))):
            s = np.where(far, strength, -np.inf)
            taken: set[int] = set()
            for _ in range(per_clip):
                s_masked = s.copy()
                s_masked[list(taken), :] = -np.inf
                s_masked[:, list(taken)] = -np.inf
                a, b = np.unravel_index(int(np.argmax(s_masked)), s.shape)
                if not np.isfinite(s_masked[a, b]) or s_masked[a, b] <= 0:
                    break
                taken |= {int(a), int(b)}
                pool.append((float(s_masked[a, b]), c.name, int(rows[a]), int(rows[b])))
    picked = [(n, a, b, "disagree") for _, n, a, b in sorted(dis, reverse=True)[:n_disagree]]
    picked += [(n, a, b, "agree") for _, n, a, b in sorted(agr, reverse=True)[:n_agree]]
    picked = [(n, b, a, s) if rng.random() < 0.5 else (n, a, b, s) for n, a, b, s in picked]
    rng.shuffle(picked)
    return picked


def make_brow_sheets(clips: list[D.Clip], out: Path, children: Path = D.DEFAULT_CHILDREN,
                     exclude: list[BrowPair] = (), first_id: int = 1, **choose) -> Path:
    """Sheets of numbered pairs (frame a left, b right, no measure shown) and ``brow_key.csv`` to fill
    in with "a" or "b" (the frame whose brows sit higher above the eyes); returns the key. Pairs
    already in ``exclude`` (an earlier round) are left out; numbering starts at ``first_id``."""
    out.mkdir(parents=True, exist_ok=True)
    done = {(p.clip, frozenset((p.frame_a - 1, p.frame_b - 1))) for p in exclude}
    picked = [p for p in choose_brow_pairs(clips, **choose) if (p[0], frozenset(p[1:3])) not in done]
    need: dict[str, set[int]] = {}
    for name, a, b, _ in picked:
        need.setdefault(name, set()).update((a, b))
    tiles = face_tiles(clips, need, children)
    per_sheet = 6
    for s in range(0, len(picked), per_sheet):
        sheet = np.full((3 * (TILE + 20), 2 * (2 * TILE + 30), 3), 255, np.uint8)
        for k, (name, a, b, _) in enumerate(picked[s:s + per_sheet]):
            r, col = divmod(k, 2)
            y, x = r * (TILE + 20), col * (2 * TILE + 30)
            sheet[y + 18:y + 18 + TILE, x + 5:x + 5 + TILE] = tiles[(name, a)]
            sheet[y + 18:y + 18 + TILE, x + 10 + TILE:x + 10 + 2 * TILE] = tiles[(name, b)]
            n = first_id + s + k
            cv2.putText(sheet, f"{n}a", (x + 8, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
            cv2.putText(sheet, f"{n}b", (x + 13 + TILE, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        cv2.imwrite(str(out / f"brow{s // per_sheet + 1:02d}.png"), sheet)
    key = out / "brow_key.csv"
    with open(key, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(BROW_FIELDS)
        for k, (name, a, b, sample) in enumerate(picked, start=first_id):
            video, half = name.rsplit(".", 1)
            w.writerow([k, video, half, a + 1, b + 1, sample, ""])
    return key


def brow_table(clips: list[D.Clip], replays: dict[str, np.ndarray], pairs: list[BrowPair],
               reported: tuple[int, ...]) -> tuple[str, dict]:
    """Table (e): on each labelled pair, does each series order the two frames as the annotator did?

    Series: OpenFace's and our ``brow_inner`` and ``brow_outer``, our AU01 and AU02 (``replays`` as in
    :func:`visual_table`), OpenFace's AU01_r and AU02_r. A tie counts as wrong.
    """
    by_name = {c.name: c for c in clips}
    col = {a: j for j, a in enumerate(reported)}
    series = ("OpenFace brow_inner", "our brow_inner", "our AU01", "OpenFace AU01_r",
              "OpenFace brow_outer", "our brow_outer", "our AU02", "OpenFace AU02_r")

    def values(c: D.Clip, i: int) -> list[float]:
        of, us = G.measures_68(c.ref.landmarks[i]), G.measures_mp(c.track.landmarks[i])
        return [of["brow_inner"], us["brow_inner"], float(replays[c.name][i, col[1]]), float(c.ref.aus[1][i]),
                of["brow_outer"], us["brow_outer"], float(replays[c.name][i, col[2]]), float(c.ref.aus[2][i])]

    right: dict[str, dict[str, list[bool]]] = {s: {name: [] for name in series} for s in ("disagree", "agree")}
    unsure = {"disagree": 0, "agree": 0}
    for p in pairs:
        if p.sample not in right:
            continue
        if p.higher is None:
            unsure[p.sample] += 1
            continue
        c = by_name.get(p.clip)
        if c is None:
            continue
        a, b = p.frame_a - 1, p.frame_b - 1
        if max(a, b) >= len(c.track) or not (c.track.fit[a] and c.track.fit[b]):
            continue
        va, vb = values(c, a), values(c, b)
        want = 1.0 if p.higher == "a" else -1.0
        for name, x, y in zip(series, va, vb, strict=True):
            right[p.sample][name].append(bool(np.sign(x - y) == want))
    lines = ["(e) children set: brow height judged on pairs of frames of one clip half (training/visual_labels.py; "
             "one annotator, blind to every measure): share of the pairs each series orders as the annotator did",
             f"  pairs: disagree (the two landmark sets order the pair oppositely; {unsure['disagree']} could not be "
             f"told) and agree (both order it alike; {unsure['agree']} could not be told)",
             "  series                 right(disagree)  n   right(agree)  n"]
    figs: dict = {"unsure": unsure, "series": {}}
    for name in series:
        d, g = right["disagree"][name], right["agree"][name]
        rd = float(np.mean(d)) if d else math.nan
        rg = float(np.mean(g)) if g else math.nan
        figs["series"][name] = {"right_disagree": round(rd, 3), "n_disagree": len(d),
                                "right_agree": round(rg, 3), "n_agree": len(g)}
        lines.append(f"  {name:<22} {rd:15.2f} {len(d):3d}  {rg:13.2f} {len(g):3d}")
    return "\n".join(lines), figs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Make contact sheets for labelling mouth, eyes and smile.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sheets", help="write sheetNN.png and key.csv into --out")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--children", type=Path, default=D.DEFAULT_CHILDREN)
    s.add_argument("--cache", type=Path, default=D.DEFAULT_CACHE)
    s.add_argument("--seed", type=int, default=SEED)
    s.add_argument("--brows", action="store_true", help="brow pairs instead (browNN.png, brow_key.csv)")
    s.add_argument("--more", action="store_true", help="with --brows: a further round of disagreement pairs, "
                   "leaving out those already labelled (run with --seed one above the first round's)")
    args = ap.parse_args(argv)
    clips = D.children_clips(args.children, args.cache)
    if args.brows:
        # A further round: more pairs per clip half, none already in the shipped labels.
        done = load_brow_pairs() if args.more else []
        more = {"n_disagree": 80, "n_agree": 0, "per_clip": 5} if args.more else {}
        key = make_brow_sheets(clips, args.out, args.children, exclude=done,
                               first_id=1 + max((p.pair_id for p in done), default=0), seed=args.seed, **more)
        print(f"wrote {key} and the sheets beside it: fill in higher (a or b, empty when it cannot be told)")
        return 0
    key = make_sheets(clips, args.out, args.children, seed=args.seed)
    print(f"wrote {key} and the sheets beside it: fill in {', '.join(LABEL_NAMES)} (0-2, empty when not visible)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
