"""The embedded AU intensity engine (v7): FACS 0-5 intensities from geometry, blendshapes and texture.

Every AU is ``clip(intercept + sum_j coef_j * sign_j * (feature_j - neutral_j), 0, 5)`` with
``coef_j >= 0``: a monotone map of a few sign-oriented features, each taken relative to the
person's running neutral (:class:`RunningNeutral`). The shipped calibration (v7) has intercept 0
everywhere: a face at its resting end reads 0 (v4's fitted intercepts carried OpenFace's own
resting offset into every frame, about 1 PSPI). The maps are fitted against OpenFace 2.2's
``AUxx_r`` on clear references by ``training/fit_au_calibration.py`` and stored in
``models/au_calibration.json`` (its model card holds the leave-one-person-out figures).

Live, the neutral is learnt from the frames seen so far; on a recorded input ``analyze`` measures
every frame again against the whole recording's neutral after the last frame
(``neutral="recording"``, :mod:`whole_recording`), as OpenFace 2.2 does for a video.

**Geometric AUs** (one measure each, :mod:`au_geometry`: MediaPipe's landmarks in the 2D
eye-line frame, roll and scale removed, in inter-ocular distances; one parameter: the gain).
Each is a monotone map of its raw measure that loses as little as possible: the neutral is the
measure's RESTING end (5th percentile of the running window; 30th for the brows and the jaw,
which nods and talk also move; 95th for the open eye, 20th for the lower lid; ``NEUTRAL_PERCENTILE``), so a resting face
reads near 0 and motion towards the action survives; the only clipping is at 0 (below the
resting end) and 5.

* AU01 inner brow raiser: ``brow_inner``, inner brow end height above the inner eye corner.
* AU02 outer brow raiser: ``brow_outer``, outer brow end height above the outer eye corner.
* AU04 brow lowerer: ``brow_lower`` (brows down and drawn together). Texture (glabella) and
  blendshape terms were evaluated: they raised the clear references' agreement with OpenFace's
  AU04 but cut the agreement with the brow geometry on the children set, so they are not used.
* AU12 lip corner puller: ``lip_pull``, lip corners' height above the inner-lip midpoint + half
  the mouth width.
* AU20 lip stretcher: ``mouth_width``, corner to corner.
* AU25 lips part: ``lip_gap``, inner-lip distance at the midline.
* AU26 jaw drop: ``jaw_drop``, chin depth below the eye line.
* AU45 blink: minus ``eye_open`` (eye aspect ratio) below the person's open-eye level.
* AU27 mouth stretch (:func:`au27_from_geometry`, no OpenFace reference): the inner-lip gap,
  0 at ``AU27_START`` rising linearly to 5 at ``AU27_FULL`` eye distances. On OpenFace's sample
  media a jaw drop (OpenFace AU26 2-2.8) opens the lips at most 0.35 eye distances, so only a
  mouth opened beyond what a jaw drop reaches counts as stretched.
* AU43 eye closure (:func:`au43_from_geometry`, no OpenFace reference): the mean eye aspect
  ratio against fractions of the person's open-eye ratio (95th percentile of ``eye_open`` over
  the running window, :attr:`RunningNeutral.target`, which follows a narrow-eyed person at once): 0 at or above ``EAR_OPEN_FRACTION`` of it, 5 at or below
  ``EAR_CLOSED_FRACTION``; fixed ``EAR_OPEN`` / ``EAR_CLOSED`` until the neutral is ready.

* AU07 lid tightener: ``lower_lid``, the lower lid's height above its eye's corner line (the
  lower lid rises and straightens), with the eye-squint blendshapes and the lower-lid texture as
  candidates. Not the eye aspect ratio: that falls as much when the upper lid follows a downward
  look or closes (AU43, AU45), which read as AU07 before (v6: within-video r of AU07 with the
  iris height -0.40 on the children, closed eyes AU07 3.7; now -0.03 and 1.9).

**Appearance AUs** (AU04's furrow, AU06, AU09, AU10): a handful of MediaPipe blendshapes
(``bs_*``), geometry and local texture of the aligned face (:mod:`au_appearance`: gradient
energy in the region the action wrinkles, against the person's neutral); the calibration keeps
only terms that earned a positive weight on the clear references (candidates and the kept
terms are in the model card).

The geometry helpers :func:`mouth_gap`, :func:`eye_aspect_ratio`, :func:`au27_from_geometry`
and :func:`au43_from_geometry` take plain coordinates, so OpenFace's 68 points feed them too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model_card import models_dir
from . import au_appearance, au_crop, au_geometry
from .errors import ModelFileError
from .records import REPORTED_AUS, FaceFit

CALIBRATION_FILE = "au_calibration.json"
#: AUs defined from geometry alone (no OpenFace reference, so no calibration map).
GEOMETRY_AUS = frozenset({27, 43})
BASELINE_MIN_QUALITY = 0.5  # only fits at least this good update the running neutral

# AU27 (mouth stretch): inner-lip gap in eye distances beyond what a jaw drop (AU26) reaches.
AU27_START = 0.50
AU27_FULL = 1.0
# AU43 (eye closure): eye aspect ratio (lid gap / eye width), mean of both eyes.
EAR_OPEN = 0.20
EAR_CLOSED = 0.07
EAR_OPEN_FRACTION = 0.70
EAR_CLOSED_FRACTION = 0.25

#: Percentile of the running window that is the person's neutral, per feature: the RESTING end of
#: each feature, so a resting face reads about 0 and all motion towards the action survives (a
#: neutral mid-range clips half the variation at 0). Low for what grows with its AU; high for the
#: open eye (AU45 grows as ``eye_open`` falls). The brows (AU01, AU02) and the jaw (AU26) rest
#: at the 30th: their measures also move with nods and talk, so the 5th put a resting face at
#: AU01 1.4, AU26 1.6 on the children (OpenFace 0.5, 0.6); at the 30th 1.0 and 1.2, with the
#: children's within-video r unchanged or up (AU01 0.57 -> 0.59, AU26 0.66 -> 0.69). The 50th
#: clipped real motion (AU01 r 0.48); for eye_open the 85th cost AU45 (0.34 -> 0.31). ``lower_lid``
#: (AU07) rests at the 20th: its frame-to-frame noise on small faces times its gain put the children's
#: mean AU07 at 1.96 with the 5th (1.59 with the 20th, 1.33 with the 30th), while the clear
#: references' held-out r fell from the 20th on (median 0.74 / 0.61 / 0.28, the stills lost it).
NEUTRAL_PERCENTILE: dict[str, float] = {
    "brow_inner": 30, "brow_outer": 30, "brow_lower": 5, "lip_pull": 5, "mouth_width": 5, "lip_gap": 5,
    "jaw_drop": 30, "eye_open": 95, "lip_raise": 5, "lower_lid": 20,
}
DEFAULT_PERCENTILE = 20.0  # blendshapes and texture
#: Geometric measures only: share of the way the neutral moves per good fit towards its window
#: percentile when that is further from the resting end (it jumps at once when the percentile is
#: nearer the resting end): a new person's neutral settles within the first fits below the
#: population value and drifts up over ~1/RISE_RATE fits (~10 s at 30 fps) above it, so it barely
#: moves within a short clip. Blendshapes and texture follow their percentile directly (rate 1).
RISE_RATE = 0.003


def _rescale(x: float, start: float, full: float) -> float:
    """Linear 0 at ``start`` to 5 at ``full``, clipped to 0-5."""
    return float(np.clip((x - start) / (full - start), 0.0, 1.0) * 5.0)


def mouth_gap(inner_upper: np.ndarray, inner_lower: np.ndarray, eye_distance: float) -> float:
    """Inner-lip gap in eye distances."""
    return float(np.linalg.norm(np.asarray(inner_lower) - np.asarray(inner_upper)) / max(eye_distance, 1e-6))


def eye_aspect_ratio(outer: np.ndarray, inner: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> float:
    """Lid gap over eye width for one eye (about 0.25-0.35 open, under 0.1 closed)."""
    width = float(np.linalg.norm(np.asarray(inner) - np.asarray(outer)))
    return float(np.linalg.norm(np.asarray(lower) - np.asarray(upper)) / max(width, 1e-6))


def au27_from_geometry(gap: float) -> float:
    """AU27 (mouth stretch) 0-5 from the inner-lip gap in eye distances (see module constants)."""
    return _rescale(gap, AU27_START, AU27_FULL)


def au43_from_geometry(ear: float, open_ear: float | None = None) -> float:
    """AU43 (eye closure) 0-5 from the mean eye aspect ratio.

    With ``open_ear`` (this person's open-eye ratio, from the running neutral) the
    thresholds scale with it, so small or narrow eyes are not read as closing.
    """
    hi, lo = EAR_OPEN, EAR_CLOSED
    if open_ear is not None and open_ear > 0:
        hi, lo = EAR_OPEN_FRACTION * open_ear, EAR_CLOSED_FRACTION * open_ear
    return _rescale(-ear, -hi, -lo)


def face_features(fit: FaceFit, crop: np.ndarray | None = None) -> dict[str, float]:
    """All features of one face: geometry (:func:`au_geometry.measures_mp`), ``bs_<name>``
    blendshapes and, with the aligned crop (:func:`au_crop.aligned_gray`), texture (``tx_*``)."""
    f = au_geometry.measures_mp(fit.landmarks, fit.pose.yaw, fit.pose.pitch)
    for k, v in fit.blendshapes.items():
        f["bs_" + k] = float(v)
    if crop is not None:
        f.update(au_appearance.texture_features(crop))
    return f


@dataclass(frozen=True)
class AUMap:
    """One AU: ``clip(intercept + sum coef * sign * (feature - neutral), 0, 5)``, ``coef >= 0``."""

    features: tuple[str, ...]
    sign: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def apply(self, feats: Mapping[str, float], neutral: Mapping[str, float]) -> float:
        val = self.intercept
        for name, s, c in zip(self.features, self.sign, self.coef, strict=True):
            x = feats.get(name)
            if x is None:  # e.g. texture without an image: the neutral value, no contribution
                continue
            val += c * s * (x - neutral.get(name, x))
        return float(np.clip(val, 0.0, 5.0))


class RunningNeutral:
    """Per-person neutral value of each feature, from the last ``window`` good fits.

    Each feature's target is a percentile of the window (``NEUTRAL_PERCENTILE``: its resting
    end). The neutral starts at the calibration's population value; from ``min_samples`` fits on,
    whenever the target is nearer the resting end than the neutral the neutral jumps to it, and
    otherwise it moves ``rise_rate`` of the way per fit (geometric measures; fast towards rest,
    slow away from it: a sustained expression does not become the neutral, and a moving neutral
    adds little trend to a short clip; blendshapes and texture: the whole way). Jumping to the
    person's own value once ``min_samples`` are in was evaluated: on the children set it cut
    AU01's within-video r against OpenFace's geometry from 0.56 to 0.47 and AU04's from 0.52 to
    0.46. Settling sooner was evaluated too (children by family, calibration refitted): a rise
    rate of at least ``1 / (30 + n)`` over the first ``n`` fits, or a population value shifted 1-2
    within-person std towards the action, cut the children's AU02 offset from OpenFace only from
    +1.1 to +0.8-0.9 and AU07's r from 0.40 to 0.32 / 0.21 / 0.10 (3dC3SQ), held-out AU07 on the
    clear references 0.61 -> 0.38-0.45. ``target`` holds the window percentiles themselves (AU43's
    open-eye level). Cost: one percentile over (window, features) per good fit (~30 us).
    """

    def __init__(self, population: Mapping[str, float], window: int = 300, min_samples: int = 10,
                 rise_rate: float = RISE_RATE) -> None:
        self.population = dict(population)
        self.names = sorted(self.population)
        self.pct = np.array([NEUTRAL_PERCENTILE.get(n, DEFAULT_PERCENTILE) for n in self.names])
        self._pcts = sorted(set(self.pct.tolist()))
        self._pick = np.array([self._pcts.index(p) for p in self.pct])
        self.rest_dir = np.where(self.pct < 50, -1.0, 1.0)  # the resting end: low (-1) or high (+1)
        self.rise = np.array([rise_rate if n in au_geometry.MEASURES else 1.0 for n in self.names])
        self.window, self.min_samples = window, min_samples
        self.reset()

    def reset(self) -> None:
        self._buf = np.full((self.window, len(self.names)), np.nan)
        self._n = 0
        self._val = np.array([self.population[n] for n in self.names], dtype=np.float64)
        self.value: dict[str, float] = dict(self.population)
        self.target: dict[str, float] = {}  # the window percentiles themselves (once ready)

    @property
    def ready(self) -> bool:
        return self._n >= self.min_samples

    def row(self, feats: Mapping[str, float]) -> np.ndarray:
        """``feats`` as a vector in ``names`` order (NaN where a feature is missing)."""
        return np.array([feats.get(n, np.nan) for n in self.names], dtype=np.float64)

    def targets(self, rows: np.ndarray) -> np.ndarray:
        """Each feature's target percentile (``NEUTRAL_PERCENTILE``) over ``rows`` (n, features),
        NaN where a feature has fewer than ``min_samples`` values."""
        if np.isnan(rows).any():
            target = np.full(len(self.names), np.nan)
            for j in range(len(self.names)):
                col = rows[:, j][~np.isnan(rows[:, j])]
                if len(col) >= self.min_samples:
                    target[j] = np.percentile(col, self.pct[j])
            return target
        if len(rows) < self.min_samples:
            return np.full(len(self.names), np.nan)
        q = _column_percentiles(rows, self._pcts)
        return q[self._pick, np.arange(len(self.names))]

    def update(self, feats: Mapping[str, float], row: np.ndarray | None = None) -> None:
        """Learn from one good fit's features (``row``: the same as :meth:`row` gives, if made already)."""
        self._buf[self._n % self.window] = self.row(feats) if row is None else row
        self._n += 1
        if self._n < self.min_samples:
            return
        target = self.targets(self._buf[: min(self._n, self.window)])
        ok = ~np.isnan(target)
        d = target - self._val
        toward_rest = d * self.rest_dir > 0
        step = np.where(toward_rest, d, self.rise * d)
        self._val[ok] += step[ok]
        self.value = dict(zip(self.names, self._val.tolist(), strict=True))
        self.target = {n: float(t) for n, t in zip(self.names, target, strict=True) if not np.isnan(t)}


def _column_percentiles(b: np.ndarray, pcts: list[float]) -> np.ndarray:
    """``np.percentile(b, pcts, axis=0)`` (linear method) from one ``np.partition``: (len(pcts), columns).

    Per good fit on a (300, features) window; numpy's wrapper costs about as much as the work.
    """
    n = b.shape[0]
    pos = np.asarray(pcts, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    part = np.partition(b, np.unique(np.concatenate([lo, hi])), axis=0)
    t = (pos - lo)[:, None]
    a, c = part[lo], part[hi]
    # numpy's lerp: from the nearer end, so t = 0 and t = 1 return the order statistic exactly.
    return np.where(t < 0.5, a + (c - a) * t, c - (c - a) * (1.0 - t))


def _image_of(frame: object) -> np.ndarray | None:
    img = getattr(frame, "image", frame)
    return img if isinstance(img, np.ndarray) and img.ndim in (2, 3) else None


#: ``neutral`` of :class:`EmbeddedAUEngine`: the live, causal running neutral, or (recorded
#: inputs, ``analyze``) the whole recording's, applied in a second pass (:mod:`whole_recording`).
NEUTRAL_MODES = ("running", "recording")


@dataclass(frozen=True)
class KeptFeatures:
    """The features of the frames an engine estimated, in order, for a second pass.

    Attributes:
        frames: (n,) frame index of each estimate (-1 when the caller gave no frame).
        times: (n,) the frames' timestamps in seconds (NaN when the caller gave no frame).
        rows: (n, features) float64 features in :attr:`RunningNeutral.names` order, NaN if missing.
        quality: (n,) fit quality 0-1.
    """

    frames: np.ndarray
    times: np.ndarray
    rows: np.ndarray
    quality: np.ndarray


class EmbeddedAUEngine:
    """AU intensities (FACS 0-5) for every reported AU from one :class:`FaceFit` (and its frame).

    Args:
        calibration: path to the calibration JSON (default ``models/au_calibration.json``), or
            the calibration itself as a dict (what the fit script evaluates).
        neutral_baseline: subtract the person's running neutral (else the population's).
        neutral: ``"running"`` (live: each frame against the neutral learnt so far) or
            ``"recording"``: the same per-frame output, and the engine also keeps each frame's
            features (about 0.4 kB per scored frame) so that a finished recording can be
            re-estimated against its whole-recording neutral (:meth:`whole_recording_neutral`,
            :meth:`reestimate`), as OpenFace 2.2 does after a video ends.
    """

    name = "embedded"

    def __init__(self, calibration: str | Path | dict | None = None, neutral_baseline: bool = True,
                 neutral: str = "running") -> None:
        if neutral not in NEUTRAL_MODES:
            raise ValueError(f"neutral must be one of {NEUTRAL_MODES}, got {neutral!r}")
        if isinstance(calibration, dict):
            self.calibration_path: Path | None = None
            self.maps, population = parse_calibration(calibration, "calibration")
        else:
            path = Path(calibration) if calibration else models_dir() / CALIBRATION_FILE
            self.maps, population = load_calibration_full(path)
            self.calibration_path = path
        self.use_baseline = neutral_baseline
        self.neutral_mode = neutral
        population = {**population, "eye_open": population.get("eye_open", 0.3)}
        self.neutral = RunningNeutral(population)
        self._kept: list[tuple[int, float, np.ndarray, float]] = []

    def reset(self) -> None:
        self.neutral.reset()
        self._kept = []

    def for_new_person(self) -> EmbeddedAUEngine:
        """An engine with this one's calibration and settings and a neutral of its own, for another
        person (the tracker's automatic target moved to someone else)."""
        other = copy.copy(self)
        other.neutral = copy.deepcopy(self.neutral)
        other.neutral.reset()
        other._kept = []
        return other

    def hand_over(self, frames: Collection[int], other: EmbeddedAUEngine) -> None:
        """Move what was kept for a second pass of ``frames`` (frame indices) to ``other``, the
        engine of the person those frames proved to be (the probation of a face found again)."""
        take = set(frames)
        other._kept = [k for k in self._kept if k[0] in take] + other._kept
        self.forget(take)

    def forget(self, frames: Collection[int]) -> None:
        """Drop what was kept for a second pass of ``frames`` (frame indices): their rows were not
        written under this face (``--faces all``: a track merged into an older one on that frame)."""
        take = set(frames)
        self._kept = [k for k in self._kept if k[0] not in take]

    def estimate(self, fit: FaceFit, frame: object = None, learn: bool = True) -> dict[int, float]:
        """AU number -> intensity 0-5 for every AU in ``REPORTED_AUS``.

        ``frame``: the :class:`sources.Frame` (or its BGR image) the fit came from; without it
        the texture terms contribute nothing. ``learn=False``: the frame does not move the running
        neutral (a face on probation), though a second pass still gets its features.
        """
        img = _image_of(frame)
        crop = au_crop.aligned_gray(img, fit.image_landmarks) if img is not None else None
        return self.estimate_crop(fit, crop, int(getattr(frame, "index", -1)),
                                  float(getattr(frame, "timestamp", np.nan)), learn)

    def estimate_crop(self, fit: FaceFit, crop: np.ndarray | None, index: int = -1,
                      timestamp: float = np.nan, learn: bool = True) -> dict[int, float]:
        """Same as :meth:`estimate` from the aligned grey crop (:func:`au_crop.aligned_gray`);
        ``index`` and ``timestamp`` (s) name the frame for a second pass (``neutral="recording"``)."""
        feats = face_features(fit, crop)
        row = None
        if self.neutral_mode == "recording":
            row = self.neutral.row(feats)
            self._kept.append((index, timestamp, row, float(fit.quality)))
        return self.estimate_features(feats, fit.quality, row, learn)

    def estimate_features(self, feats: Mapping[str, float], quality: float,
                          row: np.ndarray | None = None, learn: bool = True) -> dict[int, float]:
        """Same as :meth:`estimate` from precomputed :func:`face_features` and the fit quality 0-1
        (``row``: the features as :meth:`RunningNeutral.row` gives them, if made already)."""
        if learn and self.use_baseline and quality >= BASELINE_MIN_QUALITY:
            self.neutral.update(feats, row)
        open_ear = self.neutral.target.get("eye_open") if self.use_baseline and self.neutral.ready else None
        return self._aus(feats, self.neutral.value, open_ear)

    def _aus(self, feats: Mapping[str, float], neutral: Mapping[str, float], open_ear: float | None
             ) -> dict[int, float]:
        out = {au: m.apply(feats, neutral) for au, m in self.maps.items()}
        out[27] = au27_from_geometry(feats["lip_gap"])
        out[43] = au43_from_geometry(feats["eye_open"], open_ear)
        return {au: out.get(au, 0.0) for au in REPORTED_AUS}

    # -- second pass over a finished recording (neutral="recording") -------------------------
    def kept_features(self) -> KeptFeatures:
        """What :meth:`estimate` kept since the last :meth:`reset` (empty unless neutral="recording")."""
        n = len(self.neutral.names)
        if not self._kept:
            return KeptFeatures(np.zeros(0, np.int64), np.zeros(0), np.zeros((0, n)), np.zeros(0))
        frames, times, rows, quality = zip(*self._kept, strict=True)
        return KeptFeatures(np.asarray(frames, np.int64), np.asarray(times), np.vstack(rows), np.asarray(quality))

    def whole_recording_neutral(self, kept: KeptFeatures) -> dict[str, float] | None:
        """The neutral of a whole recording: each feature's ``NEUTRAL_PERCENTILE`` (its resting end)
        over every fit of quality >= ``BASELINE_MIN_QUALITY``, the same rule as the running
        neutral's target but over all of it, so no frame is measured against a neutral still
        being learnt. None with fewer than ``min_samples`` such fits (or without the baseline)."""
        good = kept.rows[kept.quality >= BASELINE_MIN_QUALITY]
        if not self.use_baseline or len(good) < self.neutral.min_samples:
            return None
        target = self.neutral.targets(good)
        return {n: (float(t) if not np.isnan(t) else self.neutral.population[n])
                for n, t in zip(self.neutral.names, target, strict=True)}

    def reestimate(self, kept: KeptFeatures, neutral: Mapping[str, float]) -> list[dict[int, float]]:
        """AU intensities (0-5) of each kept frame against a fixed ``neutral`` (e.g. the whole
        recording's); AU43's open-eye level is ``neutral["eye_open"]`` (its 95th percentile)."""
        names = self.neutral.names
        out = []
        for row in kept.rows:
            feats = {n: float(v) for n, v in zip(names, row, strict=True) if not np.isnan(v)}
            out.append(self._aus(feats, neutral, neutral.get("eye_open")))
        return out


def fit_ready() -> bool:
    """This engine's calibration can be refitted per fold by ``training.fit_au_calibration``."""
    return True


def parse_calibration(data: object, label: str) -> tuple[dict[int, AUMap], dict[str, float]]:
    """Check and read a calibration (format: ``{"aus": {"6": {"features", "sign", "coef",
    "intercept"}}, "neutral": {feature: population value}}``); raises ValueError-like errors."""
    maps = {}
    for k, v in data["aus"].items():
        n = len(v["features"])
        if len(v["coef"]) != n or len(v["sign"]) != n:
            raise ValueError(f"AU{k}: features, sign and coef differ in length")
        m = AUMap(tuple(str(f) for f in v["features"]), tuple(float(s) for s in v["sign"]),
                  tuple(float(c) for c in v["coef"]), float(v["intercept"]))
        if not np.all(np.isfinite([*m.coef, m.intercept])):
            raise ValueError(f"AU{k}: non-finite number")
        if any(c < 0 for c in m.coef) or any(s not in (-1.0, 1.0) for s in m.sign):
            raise ValueError(f"AU{k}: coef must be >= 0 and sign +-1")
        maps[int(k)] = m
    missing = sorted(set(REPORTED_AUS) - GEOMETRY_AUS - maps.keys())
    if missing:
        raise ValueError(f"no map for AU {', '.join(map(str, missing))}")
    neutral = {str(k): float(v) for k, v in data["neutral"].items()}
    if not np.all(np.isfinite(list(neutral.values()))):
        raise ValueError("non-finite neutral value")
    unknown = {f for m in maps.values() for f in m.features} - neutral.keys()
    if unknown:
        raise ValueError(f"no population neutral for {sorted(unknown)}")
    return maps, neutral


def load_calibration_full(path: Path) -> tuple[dict[int, AUMap], dict[str, float]]:
    """Read ``au_calibration.json``: the AU maps and the population neutral."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"AU calibration {path} is missing (rerun training/fit_au_calibration.py)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return parse_calibration(data, path.name)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"AU calibration {path.name} is not valid: {e}") from e


def load_calibration(path: Path) -> dict[int, AUMap]:
    """The AU maps of ``au_calibration.json`` (see :func:`load_calibration_full`)."""
    return load_calibration_full(path)[0]
