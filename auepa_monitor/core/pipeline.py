"""The per-frame pipeline: frame -> target face -> AUs -> PSPI and pain score -> FrameResult. No Qt."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .au_regions import au_centers
from .engine_api import AUEngine, AUValuesMissing
from .face import SCORE_MIN_QUALITY, Box, FaceTracker, looks_like, unscored_reason
from .records import FaceFit, FrameResult
from .scoring import PainScorer, pspi
from .sources import Frame


@dataclass(frozen=True)
class Tracked:
    """The tracking stage's result for one frame (see :meth:`Pipeline.track`).

    Attributes:
        frame: the frame.
        fit: the target face, or None.
        faces_seen: faces the detector saw (its last pass).
        reason: why the frame will not be scored ("" when it will): see ``FrameResult.reason``.
        size: (width, height) of the frame in pixels.
        t0: ``time.perf_counter()`` when tracking began (for the latency).
        person: which person the target is (``FaceTracker.target_id``; the row's ``face_id``).
        moved_back: on the frame a face found again proved to be another person
            (``FaceTracker.just_changed_person``), how many frames just before it were its probation
            (``FaceTracker.probation_frames``): that person's already, under the old ``face_id``.
        on_probation: the face was found again after a loss and may still prove to be someone
            else (``FaceTracker.on_probation``): it is measured, but does not move the neutral.
        signature: the fit's face proportion (``FaceTracker.last_signature``, eye distances), or
            None (no fit, or one below scoring quality).
    """

    frame: Frame
    fit: FaceFit | None
    faces_seen: int
    reason: str
    size: tuple[int, int]
    t0: float
    person: int = 0
    moved_back: int = 0
    on_probation: bool = False
    signature: float | None = None


#: Frames of one probation the pipeline can move to the new person (the probation ends after
#: ``face.PERSON_CHECK_FITS`` good fits; frames of lower quality in between do not count).
PROBATION_MAX = 300


def torch_device() -> str:
    """"cuda" when a CUDA GPU is usable, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _Proportions:
    """Each face_id's face proportions (eye distances) in constant memory, for a monitor that runs
    for days: the newest ``PROBATION_MAX`` values with their frames (a probation may still move
    them to another face_id, :attr:`Pipeline.moved_rows`), older ones counted in 0.005-wide bins
    over 0-1.5 (values outside are counted at the ends), so a median is exact to 0.0025."""

    EDGES = np.linspace(0.0, 1.5, 301)

    def __init__(self) -> None:
        self._recent: deque[tuple[int, int, float]] = deque()
        self._counts: dict[int, np.ndarray] = {}

    @classmethod
    def _bin(cls, value: float) -> int:
        return min(max(int(np.searchsorted(cls.EDGES, value, side="right")) - 1, 0), len(cls.EDGES) - 2)

    def _count(self, fid: int, value: float) -> None:
        self._counts.setdefault(fid, np.zeros(len(self.EDGES) - 1, np.int64))[self._bin(value)] += 1

    def add(self, frame: int, fid: int, value: float, moved: dict[tuple[int, int], int]) -> None:
        self._recent.append((frame, fid, value))
        if len(self._recent) > PROBATION_MAX:  # settled: older than any probation that can move it
            f, i, v = self._recent.popleft()
            self._count(moved.get((f, i), i), v)

    def median(self, fid: int, moved: dict[tuple[int, int], int]) -> tuple[float | None, int]:
        """(median, values) of one face_id; (None, 0) without a value."""
        return self.medians(moved, only=fid).get(fid, (None, 0))

    def medians(self, moved: dict[tuple[int, int], int], only: int | None = None) -> dict[int, tuple[float, int]]:
        """face_id -> (median, values); of face_id ``only`` alone when given."""
        counts = {fid: c.copy() for fid, c in self._counts.items() if only in (None, fid)}
        exact: dict[int, list[float]] = {}
        for f, i, v in self._recent:
            fid = moved.get((f, i), i)
            if only in (None, fid):
                exact.setdefault(fid, []).append(v)
        out = {}
        for fid in sorted(set(counts) | set(exact)):
            if fid not in counts:
                out[fid] = (float(np.median(exact[fid])), len(exact[fid]))
                continue
            c = counts[fid]
            for v in exact.get(fid, []):
                c[self._bin(v)] += 1
            n = int(c.sum())
            k = int(np.searchsorted(np.cumsum(c), (n + 1) / 2))  # the bin holding the median
            out[fid] = (float((self.EDGES[k] + self.EDGES[k + 1]) / 2), n)
        return out


class Pipeline:
    """Runs the per-frame core on frames of one source.

    Each result says what the target person's face proportions have looked like so far
    (``FrameResult.target_looks``), re-read every ``LOOKS_EVERY`` frames and when the person changes.

    Args:
        tracker: face tracker (created with defaults when None).
        au_engine: AU engine (the embedded engine when None).
        scorer: pain scorer (the shipped prior when None).
        roi: (x, y, w, h) frame pixels of the target face, or None.
        min_quality: fit quality (0-1) below which a frame is tracked but not scored.
    """

    #: Frames between readings of the target person's proportions (``FrameResult.target_looks``).
    LOOKS_EVERY = 15

    def __init__(self, tracker: FaceTracker | None = None, au_engine: AUEngine | None = None,
                 scorer: PainScorer | None = None, roi: Box | None = None,
                 min_quality: float = SCORE_MIN_QUALITY) -> None:
        self.min_quality = min_quality
        if au_engine is None:
            from .engines import make_au_engine

            au_engine = make_au_engine()
        self.tracker = tracker or FaceTracker(roi=roi)
        if roi is not None:
            self.tracker.set_target(roi)
        self.au_engine = au_engine
        self.scorer = scorer or PainScorer()
        self._person = 0
        self._engines: dict[int, AUEngine] = {0: au_engine}  # each target person's engine (own neutral)
        self._recent: deque[int] = deque(maxlen=PROBATION_MAX)  # frames finished for the current person
        #: (frame, old face_id) -> new face_id: rows of a probation that ended in a change of person,
        #: written under the lost person's face_id; the second pass moves them
        #: (:func:`whole_recording.rescore_faces_csv`).
        self.moved_rows: dict[tuple[int, int], int] = {}
        #: The frames the last :meth:`finish` moved to the new person (empty on most frames).
        self.last_moved: tuple[int, ...] = ()
        self._proportions = _Proportions()  # for face_proportions()
        self._looks: tuple[int, str] = (0, "")  # (face_id, what it looks like), re-read every LOOKS_EVERY
        self._looks_age = 0

    def reset(self, keep_person: bool = True) -> None:
        """Forget temporal state (target, baselines, smoothing), e.g. after a seek. With
        ``keep_person`` (the same source goes on) the face picked next keeps its ``face_id`` only
        if it proves to be the person followed before (``FaceTracker.reset``)."""
        self.tracker.reset(keep_person=keep_person)
        self.au_engine.reset()
        self.scorer.reset()
        self._recent.clear()

    def new_source(self, engine: AUEngine | None = None) -> None:
        """Start on another source: forget the target and every person's neutral, number the
        people from 0 again (each source's ``face_id`` starts at 0), and measure with ``engine``
        (None: the first person's engine so far). Runs in the processing thread, before the new
        source's first frame."""
        self.au_engine = engine or self._engines[0]
        self._engines = {0: self.au_engine}
        self._person = 0
        self.moved_rows = {}
        self._proportions = _Proportions()
        self._looks, self._looks_age = (0, ""), 0
        self.tracker.restart_people()
        self.reset(keep_person=False)

    def _to_person(self, person: int) -> None:
        """The tracker now follows another person: measure them against their own neutral (an
        engine of their own, where the engine can make one) and restart the score's smoothing."""
        fresh = getattr(self.au_engine, "for_new_person", None)
        if fresh is not None:
            if person not in self._engines:
                self._engines[person] = fresh()
            self.au_engine = self._engines[person]
        self._person = person
        self.scorer.reset()

    def _move_probation(self, n: int, old_engine: AUEngine, old_person: int) -> None:
        """The last ``n`` frames finished were the probation of a face that proved to be the new
        person: their rows move to the new ``face_id`` (:attr:`moved_rows`) and their features kept
        for the second pass to the new person's engine. Live, their scores stay as shown: measured
        against the lost person's running neutral (which they did not move: ``Tracked.on_probation``)."""
        frames = tuple(self._recent)[max(len(self._recent) - n, 0):] if n else ()
        self._recent.clear()
        self.last_moved = frames
        if not frames:
            return
        self.moved_rows.update({(f, old_person): self._person for f in frames})
        hand_over = getattr(old_engine, "hand_over", None)
        if hand_over is not None and old_engine is not self.au_engine:
            hand_over(frames, self.au_engine)

    def set_target(self, roi: Box | None) -> None:
        self.tracker.set_target(roi)

    def close(self) -> None:
        self.tracker.close()

    def second_pass_faces(self) -> dict[int | None, tuple[AUEngine, PainScorer]]:
        """The engine and scorer of each face whose rows a second pass rewrites
        (:func:`whole_recording.rescore_faces_csv`): None, every row, while the target was one
        person; else each person's ``face_id`` (the rows of one person are consecutive, so the
        one scorer serves them in turn)."""
        if len(self._engines) == 1:
            return {None: (self.au_engine, self.scorer)}
        return {fid: (engine, self.scorer) for fid, engine in self._engines.items()}

    def face_proportions(self) -> dict[int, tuple[float, int]]:
        """Each face_id's face proportion (:class:`~auepa_monitor.core.face.TargetSignature`, eye
        distances): the median over its fits of scoring quality, and how many, with the rows
        :attr:`moved_rows` takes to another face_id counted there (see :mod:`.face_table`).

        The values are the tracker's own (on each raw fit, computed for the target lock anyway).
        ``AllFacesPipeline`` measures its rows' on the smoothed fits instead, at 0.2 ms a row: its
        rejoining tolerance was chosen on those (on the raw values one of its 7 joins on the
        children videos, two tracks of one parent 0.108 apart, is missed)."""
        return self._proportions.medians(self.moved_rows)

    def process(self, frame: Frame) -> FrameResult:
        """Process one frame into an immutable :class:`FrameResult` (:meth:`track`, then :meth:`finish`)."""
        return self.finish(self.track(frame))

    def track(self, frame: Frame) -> Tracked:
        """Stage 1: find the target face in the frame. Runs ahead of :meth:`finish` in its own thread
        when frames are processed in a pipeline (``frame_loop.process_frames``)."""
        t0 = time.perf_counter()
        img = frame.image
        size = (img.shape[1], img.shape[0])
        if size != getattr(self, "_last_size", size):
            # The frame size changed (a camera renegotiated, an image sequence of mixed sizes):
            # the tracked box is in the old frame's pixels, so look for the face afresh.
            self.tracker.reset()
        self._last_size = size
        fit, faces_seen = self.tracker.process(img)
        reason = (self.tracker.last_reason or "no_face") if fit is None else unscored_reason(fit, self.min_quality)
        if fit is not None and self.tracker.just_switched:
            reason = "target_switched"  # said in the row, and it breaks the alarms' sustain streaks
        moved_back = 0
        if fit is not None and getattr(self.tracker, "just_changed_person", False) and not self.tracker.just_switched:
            reason = "person_changed"  # the face found again is someone else: the same, said and unscored
            moved_back = self.tracker.probation_frames
        return Tracked(frame, fit, faces_seen, reason, size, t0, self.tracker.target_id, moved_back,
                       fit is not None and getattr(self.tracker, "on_probation", False),
                       None if fit is None else getattr(self.tracker, "last_signature", None))

    def finish(self, t: Tracked) -> FrameResult:
        """Stage 2: AU intensities, PSPI and the pain score of a tracked frame, in frame order."""
        frame, fit, faces_seen, size = t.frame, t.fit, t.faces_seen, t.size
        self.last_moved = ()
        if t.person != self._person:
            old_engine, old_person = self.au_engine, self._person
            self._to_person(t.person)
            self._move_probation(t.moved_back, old_engine, old_person)
        self._recent.append(frame.index)
        if t.signature is not None:
            self._proportions.add(frame.index, t.person, t.signature, self.moved_rows)
        self._looks_age += 1
        if self._looks[0] != t.person or self._looks_age >= self.LOOKS_EVERY:
            self._looks = (t.person, looks_like(*self._proportions.median(t.person, self.moved_rows)))
            self._looks_age = 0
        looks = self._looks[1]
        if t.reason:
            # Tracked is not scored: a turned, occluded or unsure fit keeps its box (for the view
            # and the CSV's face_x..face_h) but gets no AU values and no score.
            return FrameResult(frame=frame.index, timestamp=frame.timestamp, faces_seen=faces_seen, face=fit,
                               au_engine=self.au_engine.name, model_name=self.scorer.name, size=size,
                               reason=t.reason, latency_ms=(time.perf_counter() - t.t0) * 1000,
                               face_id=t.person, target_looks=looks)
        try:
            # A face on probation may be someone else: measured, but kept out of the running neutral
            # of the person it may not be (live there is no going back once its values are in).
            au = self.au_engine.estimate(fit, frame, learn=not t.on_probation)
        except AUValuesMissing as e:
            # No AU values for this frame: recorded like a frame without a face (success 0,
            # empty AU and score cells), with the engine's reason.
            return FrameResult(frame=frame.index, timestamp=frame.timestamp, faces_seen=faces_seen, face=None,
                               au_engine=self.au_engine.name, au_missing=str(e), reason="au_missing",
                               model_name=self.scorer.name, face_id=t.person, target_looks=looks,
                               size=size, latency_ms=(time.perf_counter() - t.t0) * 1000)
        score, raw, level = self.scorer.score(au, frame.timestamp)
        regions = {k: (float(v[0]), float(v[1])) for k, v in au_centers(fit.landmarks).items()}
        return FrameResult(
            frame=frame.index, timestamp=frame.timestamp, faces_seen=faces_seen, face=fit,
            au=MappingProxyType(au), au_engine=self.au_engine.name, au_regions=MappingProxyType(regions),
            pspi=pspi(au), pain_score=score, pain_raw=raw, pain_level=level, model_name=self.scorer.name,
            size=size, latency_ms=(time.perf_counter() - t.t0) * 1000, face_id=t.person, target_looks=looks,
        )
