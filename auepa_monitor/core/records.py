"""The immutable per-frame record that flows from the pipeline to view, plot, alerts and recorder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

import numpy as np

#: Action Units the program reports (FACS numbers). Table I of the paper plus AU26 and AU45.
TABLE_I_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 9, 10, 12, 20, 25, 27, 43)
REPORTED_AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 9, 10, 12, 20, 25, 26, 27, 43, 45)
#: The paper's core AUs in engagement order (Fig. 5 / Sec. V-C).
PAPER_CORE_AUS: tuple[int, ...] = (27, 25, 10, 12, 9, 6, 20)


#: Plain words for ``FrameResult.reason`` (why a frame was not scored), for the window and alarms.
REASON_TEXT: dict[str, str] = {
    "no_face": "no face found",
    "target_lost": "target face lost",
    "target_switched": "now following a more child-like face",
    "person_changed": "the face found again is another person",
    "turned": "face turned away",
    "occluded": "face covered",
    "too_dark": "too dark to see the face",
    "unsure_fit": "unsure face fit",
    "au_missing": "no AU values",
}


def au_column(au: int) -> str:
    """OpenFace-style intensity column name, e.g. 6 -> ``AU06_r``."""
    return f"AU{au:02d}_r"


class PainLevel(IntEnum):
    """Pain levels from a 0-10 score (paper, Table II). Where each level starts: :class:`PainScale`."""

    NO_PAIN = 0
    WEAK = 1
    MID = 2
    STRONG = 3

    @property
    def label(self) -> str:
        return ("no pain", "weak pain", "mid pain", "strong pain")[int(self)]

    @classmethod
    def from_score(cls, score: float, scale: PainScale | None = None) -> PainLevel:
        """The level of ``score`` on ``scale`` (default: the paper's, [0, 2.5) no pain, [2.5, 5) weak,
        [5, 7.5) mid, [7.5, 10] strong)."""
        return (scale or PAPER_SCALE).level(score)


@dataclass(frozen=True)
class PainScale:
    """Where each pain level starts on the 0-10 score: the one definition of levels and their names.

    The scorer (the record's ``pain_level`` and the CSV), the window's panel, banner, curve and
    help, and the pain alarms all read levels from one scale, so a score never has two names.
    The default is the paper's; the monitor's alarm settings move ``mid`` and ``strong``
    (:meth:`AlertConfig.scale`), and "weak" then starts at 2.5 or at ``mid``, whichever is lower.
    """

    weak: float = 2.5
    mid: float = 5.0
    strong: float = 7.5

    def level(self, score: float) -> PainLevel:
        """The level of a 0-10 score: the highest level whose start it reaches."""
        if score >= self.strong:
            return PainLevel.STRONG
        if score >= self.mid:
            return PainLevel.MID
        if score >= self.weak:
            return PainLevel.WEAK
        return PainLevel.NO_PAIN

    def start(self, level: PainLevel) -> float:
        """The score where ``level`` starts (0 for no pain)."""
        return (0.0, self.weak, self.mid, self.strong)[int(level)]

    def describe(self) -> str:
        """One line naming the levels and their ranges, e.g. for Help."""
        return (f"below {self.weak:g} no pain, {self.weak:g}-{self.mid:g} weak, {self.mid:g}-{self.strong:g} mid, "
                f"from {self.strong:g} strong")

    def to_dict(self) -> dict[str, float]:
        return {"weak": self.weak, "mid": self.mid, "strong": self.strong}


#: The paper's levels (Table II): analyze, training and the default of the monitor.
PAPER_SCALE = PainScale()


def frozen_array(a: np.ndarray) -> np.ndarray:
    """Return a read-only copy so a record cannot be changed by one of its consumers."""
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees: yaw (left/right turn), pitch (nod), roll (tilt in the image plane)."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class FaceFit:
    """One tracked face in one frame.

    Attributes:
        box: (x, y, w, h) face box in frame pixels.
        landmarks: (478, 3) float32, x and y in frame pixels, z in the same pixel scale
            (MediaPipe's relative depth times the crop width); read-only.
        blendshapes: the 52 MediaPipe blendshape scores, each 0-1.
        pose: head pose in degrees.
        quality: fit quality 0-1; drops on strong head turns, occlusion or an unsure fit.
        presence: the landmark network's face-presence score 0-1.
        quality_parts: the factors (each 0-1) that make ``quality`` (see ``face.quality_from_parts``).
        raw_landmarks: (478, 3) this frame's points before the tracker's temporal smoothing, or None
            when ``landmarks`` are not smoothed; use :attr:`image_landmarks` to crop this frame.
    """

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    blendshapes: Mapping[str, float]
    pose: HeadPose
    quality: float
    presence: float = 1.0
    quality_parts: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    raw_landmarks: np.ndarray | None = None

    @property
    def image_landmarks(self) -> np.ndarray:
        """The points where the face is in THIS frame's pixels: what a crop of the frame (the aligned
        AU texture crop, the pain model's face crop) must be aligned with. ``landmarks`` may hold
        the tracker's time-averaged face shape, which is not exactly where this frame's face is."""
        return self.landmarks if self.raw_landmarks is None else self.raw_landmarks


@dataclass(frozen=True)
class FrameResult:
    """Everything the program knows about one frame.

    Attributes:
        frame: 1-based frame number (OpenFace convention).
        timestamp: seconds from the start of the source.
        faces_seen: how many faces the detector saw in the frame (the target included).
        face: the target face while it is tracked (also on frames too poor to score), or None.
        au: AU number -> intensity on the FACS 0-5 scale (empty when no face).
        au_engine: which engine produced the AU values ("embedded" or "openface").
        au_regions: region name (e.g. "AU6_R") -> (x, y) center in frame pixels.
        pspi: PSPI (Eq. 1), 0-16, or None without a face.
        pain_score: regressor output on the FLACC-like 0-10 scale (smoothed when smoothing is on).
        pain_raw: the unsmoothed regressor output, 0-10.
        pain_level: level of ``pain_score``.
        model_name: name of the pain model that produced the score.
        size: (width, height) of the frame in pixels.
        latency_ms: time spent processing this frame, in milliseconds.
        au_missing: why the AU engine gave no values although the tracker found the target
            (e.g. OpenFace's fit failed on this frame); then ``face`` is None. Empty otherwise.
        reason: why the frame has no AU values and no score, "" when it has them: "no_face",
            "target_lost" (the fit jumped off the target), "target_switched" (the automatic target
            moved to a more child-like face: this frame is its first), "person_changed" (the face
            found again after a loss proved to be another person: a new ``face_id`` from this frame),
            "turned", "occluded", "too_dark", "unsure_fit"
            (fit quality below the scoring threshold), or "au_missing" (see ``au_missing``).
        face_id: which face this is: for the one target face, which person the target is (0 for
            the first; +1 each time the automatic rule took someone else, see
            ``FaceTracker.target_id``); with ``analyze --faces all`` a stable number per tracked
            person, as OpenFace's ``face_id``.
        target_looks: what this face_id's face proportions have looked like so far
            (``face.looks_like``: "child", "adult", "unclear"; "" until 10 fits of scoring quality),
            updated every ``Pipeline.LOOKS_EVERY`` frames; a hint for the window, not an age estimate.
    """

    frame: int
    timestamp: float
    faces_seen: int
    face: FaceFit | None
    au: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))
    au_engine: str = "embedded"
    au_regions: Mapping[str, tuple[float, float]] = field(default_factory=lambda: MappingProxyType({}))
    pspi: float | None = None
    pain_score: float | None = None
    pain_raw: float | None = None
    pain_level: PainLevel | None = None
    model_name: str = ""
    size: tuple[int, int] = (0, 0)
    latency_ms: float = 0.0
    au_missing: str = ""
    reason: str = ""
    face_id: int = 0
    target_looks: str = ""

    @property
    def success(self) -> bool:
        """True when the frame was scored: target fitted well enough, AU values present (OpenFace's ``success``)."""
        return self.face is not None and not self.reason and bool(self.au)

    @property
    def confidence(self) -> float:
        """Fit quality 0-1 (OpenFace's ``confidence`` column); 0 without a face."""
        return self.face.quality if self.face is not None else 0.0
