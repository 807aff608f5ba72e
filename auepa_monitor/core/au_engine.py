"""The embedded AU intensity engine: FACS 0-5 intensities from MediaPipe blendshapes and geometry.

Features are MediaPipe's blendshape scores (0-1) and landmark distances normalised by the
eye distance in the roll-corrected face (:func:`geometry_features`). Each AU with an OpenFace
reference (1, 2, 4, 6, 7, 9, 10, 12, 20, 25, 26, 45) is a linear map of a few features, fitted
against OpenFace 2.2's ``AUxx_r`` by ``training/fit_au_calibration.py`` and stored in
``models/au_calibration.json`` (its model card holds the held-out agreement); values are
clipped to 0-5. Where the calibration says so, a feature first has the person's running neutral
value subtracted (:class:`NeutralBaseline`, the training population's neutral while it warms up).

AU27 and AU43 have no OpenFace reference and are defined from geometry, on scalars so that any
landmark set can feed them (the OpenFace backend uses its 68 points):

* AU27 (mouth stretch, :func:`au27_from_geometry`): the inner-lip gap over the eye distance,
  0 at ``AU27_START`` rising linearly to 5 at ``AU27_FULL``. On OpenFace's sample media a jaw
  drop (OpenFace AU26 2-2.8) opens the lips at most 0.35 eye distances and closed lips stay
  under 0.15, so AU27 starts at 0.5: only a mouth opened beyond what a jaw drop reaches counts
  as stretched.
* AU43 (eye closure, :func:`au43_from_geometry`): the mean eye aspect ratio (lid gap over eye
  width, ~0.33-0.38 open on those adults, 0.04-0.06 in a full blink). Thresholds are fractions
  of the person's open-eye ratio (80th percentile of the running baseline): 0 at or above
  ``EAR_OPEN_FRACTION`` of it, 5 at or below ``EAR_CLOSED_FRACTION``; fixed ``EAR_OPEN`` /
  ``EAR_CLOSED`` until the baseline is ready. Relative thresholds keep narrow-eyed people (0.21
  open on multi_face.avi) from reading as closing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..model_card import models_dir
from . import landmarks as L
from .errors import ModelFileError
from .records import REPORTED_AUS, FaceFit

CALIBRATION_FILE = "au_calibration.json"
#: AUs defined from geometry alone (no OpenFace reference, so no calibration map).
GEOMETRY_AUS = frozenset({27, 43})
BASELINE_MIN_QUALITY = 0.5  # only fits at least this good update the neutral baseline

# AU27 (mouth stretch): inner-lip gap in eye distances beyond what a jaw drop (AU26) reaches.
AU27_START = 0.50  # gap / eye distance where AU27 begins (0); jaw drops measured reach 0.35
AU27_FULL = 1.0  # gap / eye distance at AU27 = 5
# AU43 (eye closure): eye aspect ratio (lid gap / eye width), mean of both eyes.
EAR_OPEN = 0.20  # at or above: AU43 = 0
EAR_CLOSED = 0.07  # at or below: AU43 = 5
# With the person's open-eye ratio known (80th percentile of the running baseline):
EAR_OPEN_FRACTION = 0.70
EAR_CLOSED_FRACTION = 0.25


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

    With ``open_ear`` (this person's open-eye ratio, from the neutral baseline) the
    thresholds scale with it, so small or narrow eyes are not read as closing.
    """
    hi, lo = EAR_OPEN, EAR_CLOSED
    if open_ear is not None and open_ear > 0:
        hi, lo = EAR_OPEN_FRACTION * open_ear, EAR_CLOSED_FRACTION * open_ear
    return _rescale(-ear, -hi, -lo)


def geometry_features(pts: np.ndarray) -> dict[str, float]:
    """Distances from (478, 2+) frame-pixel landmarks, in eye distances, roll removed.

    Keys: brow_inner_h, brow_outer_h, brow_mid_h (brow height above the eye centers' line),
    ear (eye aspect ratio), mouth_gap, mouth_width, corner_lift (lip corners above the lip
    center line, positive up), upper_lip_nose (upper lip to subnasale), nose_width, chin_drop.
    """
    p = np.asarray(pts, dtype=np.float64)[:, :2]
    re, le = L.eye_centers(p)
    v = le - re
    ed = float(np.hypot(*v)) or 1.0
    ux = v / ed
    down = np.array([-ux[1], ux[0]])
    if np.dot(down, p[L.CHIN] - (re + le) / 2) < 0:
        down = -down
    mid = (re + le) / 2

    def h(i: int) -> float:  # height above the eye line, in eye distances (positive up)
        return float(-np.dot(p[i] - mid, down) / ed)

    def d(i: int, j: int) -> float:
        return float(np.linalg.norm(p[i] - p[j]) / ed)

    ear_r = eye_aspect_ratio(*(p[i] for i in L.RIGHT_EYE))
    ear_l = eye_aspect_ratio(*(p[i] for i in L.LEFT_EYE))
    lip_mid = (p[L.UPPER_LIP_INNER] + p[L.LOWER_LIP_INNER]) / 2
    corner = (p[L.LIP_CORNER_RIGHT] + p[L.LIP_CORNER_LEFT]) / 2
    return {
        "brow_inner_h": (h(L.RIGHT_BROW[-1]) + h(L.LEFT_BROW[-1])) / 2,
        "brow_outer_h": (h(L.RIGHT_BROW[0]) + h(L.LEFT_BROW[0])) / 2,
        "brow_mid_h": (h(L.RIGHT_BROW[2]) + h(L.LEFT_BROW[2])) / 2,
        "ear": (ear_r + ear_l) / 2,
        "mouth_gap": mouth_gap(p[L.UPPER_LIP_INNER], p[L.LOWER_LIP_INNER], ed),
        "mouth_width": d(L.LIP_CORNER_RIGHT, L.LIP_CORNER_LEFT),
        "corner_lift": float(np.dot(lip_mid - corner, down) / ed),
        "upper_lip_nose": d(L.UPPER_LIP_OUTER, L.SUBNASALE),
        "nose_width": d(L.NOSE_ALA_RIGHT, L.NOSE_ALA_LEFT),
        "chin_drop": float(np.dot(p[L.CHIN] - mid, down) / ed),
    }


def face_features(fit: FaceFit) -> dict[str, float]:
    """All features of one face: geometry (``geometry_features``) plus ``bs_<name>`` blendshapes."""
    f = geometry_features(fit.landmarks)
    for k, v in fit.blendshapes.items():
        f["bs_" + k] = float(v)
    return f


@dataclass(frozen=True)
class AUMap:
    """Linear map for one AU: intensity = intercept + sum(coef * (feature - baseline)), clipped 0-5."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    baseline: tuple[str, ...] = ()  # features that have this person's neutral value subtracted
    # Population neutral of each ``baseline`` feature, subtracted while the person's own
    # baseline is still warming up (so the map means the same from the first frame on).
    neutral: tuple[float, ...] = ()

    def apply(self, feats: Mapping[str, float], person: Callable[[str], float | None] | None) -> float:
        """Intensity 0-5 from features; ``person(name)`` gives the person's neutral value or None."""
        val = self.intercept
        pop = dict(zip(self.baseline, self.neutral, strict=False))
        for name, c in zip(self.features, self.coef, strict=True):
            x = feats.get(name, 0.0)
            if person is not None and name in self.baseline:
                b = person(name)
                if b is None:
                    b = pop.get(name)
                if b is not None:
                    x -= b
            val += c * x
        return float(np.clip(val, 0.0, 5.0))


class NeutralBaseline:
    """Running per-person neutral value of features (like OpenFace's running median).

    Keeps a window of recent values per feature (only from good fits) and reports a low
    percentile as "neutral" for features that grow with expression, which is how OpenFace
    treats a person's resting face in its dynamic AU models.
    """

    def __init__(self, window: int = 300, percentile: float = 10.0, min_samples: int = 30) -> None:
        self.window = window
        self.percentile = percentile
        self.min_samples = min_samples
        self._buf: dict[str, list[float]] = {}
        self._cache: dict[str, float] = {}
        self._n = 0

    def reset(self) -> None:
        self._buf.clear()
        self._cache.clear()
        self._n = 0

    def update(self, feats: Mapping[str, float], names: set[str]) -> None:
        self._n += 1
        for k in names:
            b = self._buf.setdefault(k, [])
            b.append(feats[k])
            if len(b) > self.window:
                del b[0]
        if self._n % 10 == 0 or self._n <= self.min_samples:
            self._cache = {k: float(np.percentile(b, self.percentile)) for k, b in self._buf.items()
                           if len(b) >= self.min_samples}

    def get(self, name: str) -> float | None:
        return self._cache.get(name)

    def open_ear(self) -> float | None:
        b = self._buf.get("ear")
        if b is None or len(b) < self.min_samples:
            return None
        return float(np.percentile(b, 80))


class EmbeddedAUEngine:
    """AU intensities (FACS 0-5) for every reported AU from one :class:`FaceFit`.

    Args:
        calibration: path to the calibration JSON (default ``models/au_calibration.json``).
        neutral_baseline: subtract a running per-person neutral value where the calibration asks.
    """

    name = "embedded"

    def __init__(self, calibration: str | Path | None = None, neutral_baseline: bool = True) -> None:
        path = Path(calibration) if calibration else models_dir() / CALIBRATION_FILE
        self.maps = load_calibration(path)
        self.calibration_path = path
        self.use_baseline = neutral_baseline
        self.baseline = NeutralBaseline()
        self._baseline_feats = {f for m in self.maps.values() for f in m.baseline} | {"ear"}

    def reset(self) -> None:
        self.baseline.reset()

    def estimate(self, fit: FaceFit, frame: object = None) -> dict[int, float]:
        """AU number -> intensity 0-5 for every AU in ``REPORTED_AUS`` (``frame`` is unused here)."""
        return self.estimate_features(face_features(fit), fit.quality)

    def estimate_features(self, feats: Mapping[str, float], quality: float) -> dict[int, float]:
        """Same as :meth:`estimate` from precomputed :func:`face_features` and the fit quality 0-1.

        The calibration script replays recorded features through this, so the figures in the
        model card come from the engine itself.
        """
        if self.use_baseline and quality >= BASELINE_MIN_QUALITY:
            self.baseline.update(feats, self._baseline_feats & feats.keys())
        person = self.baseline.get if self.use_baseline else None
        out = {au: m.apply(feats, person) for au, m in self.maps.items()}
        out[27] = au27_from_geometry(feats["mouth_gap"])
        open_ear = self.baseline.open_ear() if self.use_baseline else None
        out[43] = au43_from_geometry(feats["ear"], open_ear)
        return {au: out.get(au, 0.0) for au in REPORTED_AUS}


def load_calibration(path: Path) -> dict[int, AUMap]:
    """Read ``au_calibration.json``: {"aus": {"6": {"features": [...], "coef": [...], ...}}}."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"AU calibration {path} is missing (rerun training/fit_au_calibration.py)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        maps = {}
        for k, v in data["aus"].items():
            if len(v["features"]) != len(v["coef"]):
                raise ValueError(f"AU{k}: features and coef differ in length")
            base = tuple(v.get("baseline", ()))
            neutral = tuple(float(x) for x in v.get("neutral", ()))
            if neutral and len(neutral) != len(base):
                raise ValueError(f"AU{k}: baseline and neutral differ in length")
            unknown = set(base) - set(v["features"])
            if unknown:
                raise ValueError(f"AU{k}: baseline names features the map does not use: {sorted(unknown)}")
            m = AUMap(tuple(str(f) for f in v["features"]), tuple(float(c) for c in v["coef"]),
                      float(v["intercept"]), base, neutral)
            if not np.all(np.isfinite([*m.coef, m.intercept, *m.neutral])):
                raise ValueError(f"AU{k}: non-finite number")
            maps[int(k)] = m
        missing = sorted(set(REPORTED_AUS) - GEOMETRY_AUS - maps.keys())
        if missing:
            raise ValueError(f"no map for AU {', '.join(map(str, missing))}")
        return maps
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFileError(f"AU calibration {path.name} is not valid: {e}") from e
