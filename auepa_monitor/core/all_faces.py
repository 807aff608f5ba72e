"""Every face in view, each tracked as its own person with a stable ``face_id`` (``analyze --faces all``). No Qt.

For researchers who pick the infant afterwards, as with OpenFace's multi-face tool: each face
gets its own :class:`Pipeline` (tracker, AU engine with the person's own neutral baseline,
scorer), all sharing one set of face networks. The whole-frame detector runs every
``detect_every`` frames; a confident face that no track covers is first offered to a track that
lost its face nearby (a person who moved fast or turned away keeps their id), else starts a new
track (the next ``face_id``); a track that has lost its face for ``drop_after`` frames ends, and
its id is never reused. Each track's target region follows its face (the last box), so a person
walking across the picture stays one track. Two tracks that converge on one face are merged into
the older one; when the older one had no row while the newer one lived (it had lost the face,
and the newer one took it up), the newer one's rows are that face's too, and the second pass
moves them to the older ``face_id`` (:attr:`AllFacesPipeline.moved_rows`; ``merged_ids`` counts
these). A track's face found again after a loss is on the single target's probation
(``FaceTracker(check_person=True)``): when it proves to be someone else (a parent's face handed
to a toddler's lost track), that row says ``person_changed`` and the face goes on under a new
``face_id``, measured against its own neutral; the old id ends there.

A track that ended by losing its face for ``drop_after`` frames is not forgotten: at the end of the
run (:meth:`AllFacesPipeline.rejoin_faces`, before the second pass) a later track that started
from a new detection near where it was last seen (its first box within ``REJOIN_DISTANCE`` face
sizes of the ended track's last box, its size within 0.67-1.5 of it) and whose face has the same
proportion (:class:`~auepa_monitor.core.face.TargetSignature`: the medians of both tracks' fits of
scoring quality, at least ``REJOIN_MIN_FITS`` each, within ``REJOIN_SIGNATURE_TOL`` eye
distances) is the same person coming back: its rows move to the earlier ``face_id``
(``rejoined_ids``). Measured on the 28 children full frames (OpenFace's half-frame fits say who is
who; thresholds chosen on both families, so not held out): see ``REJOIN_DISTANCE``.
"""

from __future__ import annotations

import dataclasses
import math
from array import array
from bisect import bisect_left
from collections.abc import Callable

import cv2
import numpy as np

from .face import SCORE_MIN_QUALITY, FaceTracker, TargetSignature, _iou
from .face_nets import FaceNets
from .pipeline import Pipeline
from .records import FrameResult
from .sources import Frame

#: A later track's first box within this many face sizes (the larger side of the ended track's last
#: box) of where an ended track last saw its face may be that face again (:meth:`AllFacesPipeline.rejoin_faces`).
#: Measured on the 28 children full frames with ``--faces all`` (OpenFace's half-frame fits say who
#: is who): of 26 pairs (a track, a track that began after its last row) on one person, 17 lie within
#: 1 face size; of 27 on two people, 2 do, one of another size and one a track begun because its
#: face proved to be someone else, neither of which may rejoin; the signature check then keeps 7
#: joins (face_ids 107 -> 100), rows on a face_id of the other person unchanged at 5.
REJOIN_DISTANCE = 1.0
#: Least fits of scoring quality each track needs for its signature median, and how far the two
#: medians may differ (eye distances; toddlers 0.41-0.56, parents 0.53-0.66, :class:`TargetSignature`).
REJOIN_MIN_FITS = 5
REJOIN_SIGNATURE_TOL = 0.10


class AllFacesPipeline:
    """Runs one :class:`Pipeline` per face in view.

    Args:
        nets: the shared face networks.
        make_pipeline: builds the pipeline of a new face from its tracker (which carries the
            face's box as its ROI); gives each face its own AU engine and scorer.
        detect_every: frames between whole-frame detections that look for new faces.
        drop_after: frames a track may go without its face before it ends.
        min_score: detector score (0-1) for a face to start a track.
        check_person: each track's face found again after a loss is on the person probation (a
            new face_id when it proves to be someone else); False only as the benchmark's baseline.
    """

    def __init__(self, nets: FaceNets, make_pipeline: Callable[[FaceTracker], Pipeline], detect_every: int = 10,
                 drop_after: int = 30, min_score: float = 0.5, check_person: bool = True) -> None:
        self.nets = nets
        self.check_person = check_person
        self.make_pipeline = make_pipeline
        self.detect_every = detect_every
        self.drop_after = drop_after
        self.min_score = min_score
        self.tracks: dict[int, Pipeline] = {}
        # Every face_id of the run, ended ones too: its pipeline and which of that pipeline's
        # persons (``FaceTracker.target_id``) it is; a track that changes person gets a new id.
        self._everyone: dict[int, tuple[Pipeline, int]] = {}
        self._missed: dict[int, int] = {}
        self._boxes: dict[int, tuple[float, float, float, float]] = {}
        self._next_id = 0
        self._n = 0
        #: (frame, face_id) -> face_id: rows that proved to be another face_id's (a probation's,
        #: see ``Pipeline.moved_rows``; a merged or rejoined track's), moved after the run.
        self.moved_rows: dict[tuple[int, int], int] = {}
        #: Ids whose rows all went to an older id their track merged into (see the module docstring),
        #: and the rows they held, which the second pass moves to the older id.
        self.merged_ids = self.merged_rows = 0
        #: Ids whose rows went to an ended track's id by :meth:`rejoin_faces`, and those rows.
        self.rejoined_ids = self.rejoined_rows = 0
        # Each face_id's rows so far, in frame order: (frames, the face_id each was written under).
        self._rows: dict[int, tuple[array, array]] = {}
        self._ends: dict[int, _Ends] = {}  # each face_id's first and last place, signature, how it began and ended

    # The analyze loop reads these like a single Pipeline's.
    @property
    def au_engine(self):
        return self._template().au_engine

    @property
    def scorer(self):
        return self._template().scorer

    @property
    def tracker(self):
        return None

    def _template(self) -> Pipeline:
        if not hasattr(self, "_tmpl"):
            self._tmpl = self.make_pipeline(FaceTracker(nets=self.nets))
        return self._tmpl

    def reset(self) -> None:
        self.tracks.clear()
        self._everyone.clear()
        self._missed.clear()
        self._boxes.clear()
        self._rows.clear()
        self._ends.clear()
        self.merged_ids = self.merged_rows = self.rejoined_ids = self.rejoined_rows = 0
        self._n = 0

    def close(self) -> None:
        for p in {id(p): p for p, _ in self._everyone.values()}.values():
            p.close()

    def second_pass_faces(self) -> dict[int | None, tuple]:
        """Each face_id's engine and scorer, ended tracks included (see :meth:`Pipeline.second_pass_faces`)."""
        return {fid: self._face_of(fid) for fid in self._everyone}

    def _face_of(self, fid: int) -> tuple:
        """The (engine, scorer) that scored ``fid``'s rows."""
        pipe, person = self._everyone[fid]
        faces = pipe.second_pass_faces()
        return faces[person] if person in faces else faces[None]

    def process(self, frame: Frame) -> list[FrameResult]:
        """The results of every tracked face in this frame (a face with no fit this frame is left out)."""
        if self._n % self.detect_every == 0:
            self._add_new_faces(frame)
        self._n += 1
        out: list[FrameResult] = []
        for fid, pipe in list(self.tracks.items()):
            r = pipe.process(frame)
            if r.face_id != self._everyone[fid][1]:
                old, fid = fid, self._another_person(fid, r.face_id)
                self.moved_rows.update({(f, old): fid for f in pipe.last_moved})
                self._take_rows(old, fid, len(pipe.last_moved))
            r = dataclasses.replace(r, face_id=fid)
            if r.face is None:
                self._missed[fid] += 1
                if self._missed[fid] >= self.drop_after:
                    del self.tracks[fid], self._missed[fid], self._boxes[fid]
                    self._ends.setdefault(fid, _Ends()).ended = "dropped"
                continue
            self._missed[fid] = 0
            self._boxes[fid] = r.face.box
            pipe.tracker.roi = r.face.box  # the region follows the face (no reset: the lock stays)
            out.append(r)
        self._merge_duplicates(out)
        out = [r for r in out if r.face_id in self.tracks]
        for r in out:
            frames, written = self._rows.setdefault(r.face_id, (array("q"), array("q")))
            frames.append(r.frame)
            written.append(r.face_id)
            self._ends.setdefault(r.face_id, _Ends()).saw(r, self.nets)
        return out

    def _take_rows(self, src: int, dst: int, n: int) -> None:
        """The last ``n`` rows of ``src`` are ``dst``'s (they keep the id they were written under)."""
        if n <= 0 or src not in self._rows:
            return
        frames, written = self._rows[src]
        n = min(n, len(frames))
        to_f, to_w = self._rows.setdefault(dst, (array("q"), array("q")))
        to_f[:0], to_w[:0] = frames[-n:], written[-n:]  # before dst's own: frames stay in order
        self._ends.setdefault(src, _Ends()).hand_signature(self._ends.setdefault(dst, _Ends()), frames[-n])
        del frames[-n:], written[-n:]

    def _another_person(self, fid: int, person: int) -> int:
        """Track ``fid``'s tracker found that its face is now another person (its ``person``):
        the track goes on under a new face_id, and ``fid`` ends."""
        new = self._next_id
        self._next_id += 1
        self.tracks[new] = self.tracks.pop(fid)
        self._missed[new] = self._missed.pop(fid)
        self._boxes[new] = self._boxes.pop(fid)
        self._everyone[new] = (self.tracks[new], person)
        self._ends.setdefault(fid, _Ends()).ended = "person"
        self._ends[new] = _Ends(began="person")
        return new

    def _add_new_faces(self, frame: Frame) -> None:
        img = frame.image
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB if img.ndim == 3 else cv2.COLOR_GRAY2RGB)
        finder = FaceTracker(nets=self.nets)
        for d in finder.detect(rgb, tiles=2 if max(rgb.shape[:2]) <= 960 else None):
            if d.score < self.min_score or any(_iou(d.box, b) > 0.2 for b in self._boxes.values()):
                continue
            lost = self._lost_track_near(d.box)
            if lost is not None:
                # The face of a track that lost it nearby: hand it the new place instead of a new id.
                self.tracks[lost].tracker.roi = d.box
                self._boxes[lost] = d.box
                continue
            fid = self._next_id
            self._next_id += 1
            self.tracks[fid] = self.make_pipeline(FaceTracker(nets=self.nets, roi=d.box, check_person=self.check_person))
            self._everyone[fid] = (self.tracks[fid], self.tracks[fid].tracker.target_id)
            self._missed[fid] = 0
            self._boxes[fid] = d.box
            self._ends[fid] = _Ends(began="detection")

    def _lost_track_near(self, box: tuple[float, float, float, float]) -> int | None:
        """The track that lost its face most recently within 3 face sizes of ``box``, of a similar size."""
        best, best_missed = None, None
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        for fid, missed in self._missed.items():
            if missed == 0:
                continue
            b = self._boxes[fid]
            size = max(b[2], b[3], 1.0)
            ratio = max(box[2], box[3]) / size
            dist = ((b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2) ** 0.5
            if dist <= 3 * size and 0.67 <= ratio <= 1.5 and (best_missed is None or missed < best_missed):
                best, best_missed = fid, missed
        return best

    def _merge_duplicates(self, results: list[FrameResult]) -> None:
        by_id = {r.face_id: r for r in results}
        for a in sorted(by_id):
            for b in sorted(by_id):
                if a < b and a in self.tracks and b in self.tracks and \
                        _iou(by_id[a].face.box, by_id[b].face.box) > 0.5:
                    del self.tracks[b], self._missed[b], self._boxes[b]
                    self._ends.setdefault(b, _Ends()).ended = "merged"
                    # b's row of this frame is not written (a's is): its engine must not keep it
                    # for the second pass, or that pass finds an estimate without a row.
                    forget = getattr(self._face_of(b)[0], "forget", None)
                    if forget is not None:
                        forget((by_id[b].frame,))
                    n = self._adopt_rows(a, b)
                    if n:
                        self._ends.setdefault(a, _Ends()).add_signature(self._ends[b])
                    self.merged_ids += n > 0
                    self.merged_rows += n

    def _adopt_rows(self, a: int, b: int) -> int:
        """Track ``b`` is the face of ``a``: if ``a`` had no row between ``b``'s first and last (``b``
        took up ``a``'s face while ``a`` had lost it, or after ``a`` ended), ``b``'s rows (and the
        features kept for the second pass) become ``a``'s. Returns the rows moved (0: none)."""
        fb, wb = self._rows.get(b, (array("q"), array("q")))
        if not fb:
            return 0
        fa, wa = self._rows.setdefault(a, (array("q"), array("q")))
        i = bisect_left(fa, fb[0])
        if i < len(fa) and fa[i] <= fb[-1]:
            return 0  # both had rows meanwhile: two faces that only now met
        self.moved_rows.update({(f, w): a for f, w in zip(fb, wb, strict=True)})
        engine_b, engine_a = self._face_of(b)[0], self._face_of(a)[0]
        hand_over = getattr(engine_b, "hand_over", None)
        if hand_over is not None and engine_b is not engine_a:
            hand_over(fb, engine_a)
        self._rows[a] = (fa[:i] + fb + fa[i:], wa[:i] + wb + wa[i:])
        del self._rows[b]
        return len(fb)

    def rejoin_faces(self) -> int:
        """At the end of the run: give each track that ended by losing its face the rows of a later
        track that is the same person coming back (module docstring), in the order the later tracks
        began; a chain (lost, back, lost again, back) ends under the first id. Returns the ids rejoined.
        Call once, before the second pass reads :attr:`moved_rows`."""
        ends = {fid: e for fid, e in self._ends.items() if fid in self._rows and e.first_box is not None}
        n0 = self.rejoined_ids
        for b in sorted((f for f, e in ends.items() if e.began == "detection"), key=lambda f: self._rows[f][0][0]):
            eb, first_b = ends[b], self._rows[b][0][0]
            best, best_d = None, REJOIN_DISTANCE
            for a, ea in ends.items():
                if a == b or ea.ended != "dropped" or self._rows[a][0][-1] >= first_b:
                    continue
                d = ea.distance_to(eb)
                if d <= best_d and ea.same_face(eb):
                    best, best_d = a, d
            if best is None:
                continue
            n = self._adopt_rows(best, b)
            if n:
                self.rejoined_ids += 1
                self.rejoined_rows += n
                ends[best].take_over(eb)
                del ends[b]
        return self.rejoined_ids - n0

    def face_proportions(self) -> dict[int, tuple[float, int]]:
        """Each face_id's face proportion (:class:`~auepa_monitor.core.face.TargetSignature`, eye
        distances), the median over the fits of scoring quality its rows hold, and how many; after
        :meth:`rejoin_faces`, for the face_ids the rows end under (see :mod:`.face_table`)."""
        return {fid: (float(np.median(e.signature)), len(e.signature))
                for fid, e in self._ends.items() if fid in self._rows and len(e.signature)}


@dataclasses.dataclass
class _Ends:
    """What :meth:`AllFacesPipeline.rejoin_faces` needs of one face_id: its first and last box
    (pixels), its signature values (fits of scoring quality), and how it began (``detection``: a new
    track; ``person``: a track's face proved to be someone else) and ended (``dropped``: lost for
    ``drop_after`` frames; ``merged``; ``person``; ``""``: tracked to the end)."""

    began: str = ""
    ended: str = ""
    first_box: tuple[float, float, float, float] | None = None
    last_box: tuple[float, float, float, float] | None = None
    signature: array = dataclasses.field(default_factory=lambda: array("d"))
    signature_frames: array = dataclasses.field(default_factory=lambda: array("q"))  # each value's frame

    def saw(self, r: FrameResult, nets: FaceNets) -> None:
        """One row of this face_id."""
        box = tuple(float(v) for v in r.face.box)
        self.first_box = self.first_box or box
        self.last_box = box
        if r.face.quality >= SCORE_MIN_QUALITY:
            lm = r.face.landmarks
            self.signature.append(TargetSignature.value(lm, nets.head_rotation(lm)))
            self.signature_frames.append(r.frame)

    def hand_signature(self, other: _Ends, first_frame: int) -> None:
        """This face's signature values from ``first_frame`` on are ``other``'s (rows that proved to be its)."""
        i = bisect_left(self.signature_frames, first_frame)
        other.signature[:0], other.signature_frames[:0] = self.signature[i:], self.signature_frames[i:]
        del self.signature[i:], self.signature_frames[i:]

    def add_signature(self, other: _Ends) -> None:
        """``other``'s rows became this face's: their signature values too, in frame order."""
        pairs = sorted(zip([*self.signature_frames, *other.signature_frames], [*self.signature, *other.signature],
                           strict=True))
        self.signature_frames = array("q", [f for f, _ in pairs])
        self.signature = array("d", [v for _, v in pairs])

    def distance_to(self, later: _Ends) -> float:
        """From this face's last box to ``later``'s first, in this face's sizes; inf when their
        sizes differ by more than 0.67-1.5x."""
        a, b = self.last_box, later.first_box
        size = max(a[2], a[3], 1.0)
        if not 0.67 <= max(b[2], b[3]) / size <= 1.5:
            return math.inf
        return math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2) / size

    def same_face(self, other: _Ends) -> bool:
        """Both signatures known and their medians within ``REJOIN_SIGNATURE_TOL``."""
        if min(len(self.signature), len(other.signature)) < REJOIN_MIN_FITS:
            return False
        return abs(float(np.median(self.signature)) - float(np.median(other.signature))) <= REJOIN_SIGNATURE_TOL

    def take_over(self, later: _Ends) -> None:
        """``later``'s rows became this face's: it now ends where and how ``later`` ended."""
        self.last_box, self.ended = later.last_box, later.ended
        self.add_signature(later)
