"""Frames -> aligned 224x224 face crops -> AU intensities, for every manifest row, cached on disk.

Per row the paper takes 30 consecutive frames from the time point (Sec. IV); a still image
gives one frame; a row with a frame range gives ``n_frames`` frames spread evenly over it. A row's
face box is the tracker's target region (``FaceTracker.set_target``), so the boxed face is the one
measured even when a larger face is in view. Each frame goes through the app's own chain, in
the app's one frame loop (:func:`frame_loop.process_frames`, :class:`RowChain`): :class:`FaceTracker`,
then :func:`align_face` (the crop the end-to-end CNN sees) and :func:`au_centers` in crop pixels
(the Eq. 2 regions), then the AU engine. Frames where no face is fitted are skipped and counted.

Cache (content-keyed, so a rerun, a renamed file or a second manifest using the same media
reuses the work; a changed file, time point, frame count or engine is recomputed):
``<cache>/crops/<key>.npy`` (M, 224, 224, 3) uint8 BGR crops, ``<key>.npz`` centers and frame
numbers; ``<cache>/aus/<key>-<engine>.npz`` (M, A) AU intensities 0-5.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from auepa_monitor.core.au_regions import AU_REGION_NAMES, CROP_SIZE, align_face, au_centers
from auepa_monitor.core.face import FaceTracker, unscored_reason
from auepa_monitor.core.frame_loop import process_frames
from auepa_monitor.core.pipeline import AUValuesMissing
from auepa_monitor.core.records import REPORTED_AUS
from auepa_monitor.core.sources import Frame, ImageSource, Source, VideoFileSource

from .manifest import FOLDER_FPS, Row

#: Bump when the crop or the way frames are picked changes, so old cache entries are not reused.
# crop2: face tracker v2 (LiteRT, tracked from landmarks; unscored frames left out).
CROP_VERSION = "crop2"
#: The Eq. 2 region names, in a fixed order (columns of the ``centers`` arrays).
REGION_NAMES: tuple[str, ...] = tuple(n for names in AU_REGION_NAMES.values() for n in names)
AU_ORDER: tuple[int, ...] = REPORTED_AUS


def file_digest(path: Path, index: dict[str, str] | None = None) -> str:
    """SHA-1 of a file's bytes (or of a folder's image names and bytes); memoised by size and mtime."""
    path = Path(path)
    st = path.stat()
    memo = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    if index is not None and memo in index:
        return index[memo]
    h = hashlib.sha1()
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(p.name.encode() if path.is_dir() else b"")
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    d = h.hexdigest()
    if index is not None:
        index[memo] = d
    return d


@dataclass
class RowSamples:
    """What one manifest row gave: M fitted frames out of ``tried``."""

    row: Row
    crops: np.ndarray  # (M, 224, 224, 3) uint8 BGR, memory-mapped from the cache
    centers: np.ndarray  # (M, R, 2) float32, crop pixels, columns = REGION_NAMES
    frames: np.ndarray  # (M,) int, 1-based frame numbers in the media
    au: np.ndarray  # (M, A) float32 AU intensities 0-5, columns = AU_ORDER
    tried: int
    sel: np.ndarray | None = None  # (M,) rows of ``crops`` in use (frames the AU engine had values for)

    @classmethod
    def usable(cls, row: Row, crops: np.ndarray, centers: np.ndarray, frames: np.ndarray, au: np.ndarray,
               tried: int) -> RowSamples:
        """Keep the frames with AU values (an engine without values for a frame stores NaN)."""
        keep = np.flatnonzero(~np.isnan(au).any(axis=1)) if len(au) else np.zeros(0, int)
        return cls(row, crops, centers[keep], frames[keep], au[keep], tried, keep)

    def crop(self, j: int) -> np.ndarray:
        return np.asarray(self.crops[self.sel[j] if self.sel is not None else j])


@dataclass
class SampleSet:
    """All samples (fitted frames) of a manifest, flattened, with per-sample labels.

    ``crops`` is a list of per-row memory maps; :meth:`crop` gives one sample's crop.
    """

    rows: list[RowSamples]
    row_of: np.ndarray = field(init=False)  # (N,) index into rows
    pos_in_row: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.row_of = np.concatenate([np.full(len(r.frames), i) for i, r in enumerate(self.rows)]
                                     or [np.zeros(0, int)]).astype(int)
        self.pos_in_row = np.concatenate([np.arange(len(r.frames)) for r in self.rows]
                                         or [np.zeros(0, int)]).astype(int)

    def __len__(self) -> int:
        return len(self.row_of)

    def _per(self, f: Callable[[RowSamples], object]) -> np.ndarray:
        return np.array([f(self.rows[i]) for i in self.row_of])

    @property
    def subjects(self) -> np.ndarray:
        return self._per(lambda r: r.row.subject)

    @property
    def datasets(self) -> np.ndarray:
        return self._per(lambda r: r.row.dataset)

    @property
    def classes(self) -> np.ndarray:
        """(N,) the rows' class / stimulus ("" when none)."""
        return self._per(lambda r: r.row.cls)

    @property
    def targets(self) -> np.ndarray:
        """(N,) pain 0-10 (the common target)."""
        return self._per(lambda r: r.row.target).astype(np.float32)

    @property
    def levels(self) -> np.ndarray:
        """(N,) pain level 0-3."""
        return self._per(lambda r: r.row.level).astype(int)

    @property
    def au(self) -> np.ndarray:
        """(N, A) AU intensities 0-5, columns :data:`AU_ORDER`."""
        if not self.rows:
            return np.zeros((0, len(AU_ORDER)), np.float32)
        return np.concatenate([r.au for r in self.rows]).astype(np.float32)

    def crop(self, i: int) -> np.ndarray:
        return self.rows[self.row_of[i]].crop(int(self.pos_in_row[i]))

    def centers(self, i: int) -> dict[str, np.ndarray]:
        c = self.rows[self.row_of[i]].centers[self.pos_in_row[i]]
        return {n: c[j] for j, n in enumerate(REGION_NAMES)}

    def subset(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx, dtype=int)


def open_media(row: Row) -> Source:
    if row.kind == "video":
        return VideoFileSource(row.media)
    return ImageSource(row.media, fps=FOLDER_FPS)


def range_frames(first: int, last: int, n_frames: int) -> list[int]:
    """``n_frames`` frame numbers spread evenly over [first, last] (all of them when fewer)."""
    count = last - first + 1
    if count <= n_frames:
        return list(range(first, last + 1))
    return sorted({int(round(v)) for v in np.linspace(first, last, n_frames)})


class RowFrames(Source):
    """The frames one manifest row measures, as a source (read lazily, in order): ``n_frames``
    consecutive frames from ``time_s``, one frame of a still image, or ``n_frames`` frames spread
    evenly over the row's frame range. Frames keep their numbers and times in the media."""

    def __init__(self, row: Row, n_frames: int) -> None:
        self.row, self.n_frames = row, n_frames
        self._src = open_media(row)
        self.name, self.fps, self.size = self._src.name, self._src.fps, self._src.size
        self.frame_count = self._src.frame_count
        self._chosen = self._choose()

    def read(self) -> Frame | None:
        return next(self._chosen, None)

    def close(self) -> None:
        self._src.close()

    def _choose(self) -> Iterator[Frame]:
        src, row = self._src, self.row
        if row.kind == "image":
            f = src.read()
            if f is not None:
                yield f
            return
        if row.frame_range is not None:
            first, last = row.frame_range
            if src.frame_count:
                last = min(last, src.frame_count)
            want = set(range_frames(first, last, self.n_frames))
            if not want:
                return
            if first > 1:
                src.seek(first)
            while (f := src.read()) is not None and f.index <= last:
                if f.index in want:
                    yield f
            return
        start = int(round(row.time_s * src.fps)) + 1
        if src.frame_count and start > src.frame_count:
            return
        if start > 1:
            src.seek(start)
        for _ in range(self.n_frames):
            f = src.read()
            if f is None:
                return
            yield f


def read_frames(row: Row, n_frames: int) -> list[Frame]:
    """The row's frames (:class:`RowFrames`) as a list."""
    with RowFrames(row, n_frames) as src:
        return list(iter(src.read, None))


@dataclass
class _Tracked:
    """The tracking stage's result: the frame and the row's face in it (None: none to measure)."""

    frame: Frame
    fit: Any


@dataclass
class FrameSample:
    """One measured frame: the aligned crop, the Eq. 2 region centres on it, the AU intensities."""

    crop: np.ndarray  # (224, 224, 3) uint8 BGR
    centers: np.ndarray  # (R, 2) float32 crop pixels, rows = REGION_NAMES
    au: list[float]  # 0-5 in AU_ORDER; NaN where the engine had no value (the frame is left out)


class RowChain:
    """The app's chain for one row as the two stages of :func:`frame_loop.process_frames`: ``track``
    (the face tracker, run ahead in its own thread) and ``finish`` (crop, region centres and the
    AU engine, in frame order). ``finish`` gives None for a frame without a face to measure."""

    def __init__(self, tracker: FaceTracker, engine: Any, stats: dict[str, int]) -> None:
        self.tracker, self.engine, self.stats = tracker, engine, stats

    def track(self, frame: Frame) -> _Tracked:
        fit, _ = self.tracker.process(frame.image)
        # No face, or one the product would not score (turned, covered, unsure fit): not measured.
        return _Tracked(frame, None if fit is None or unscored_reason(fit) else fit)

    def finish(self, t: _Tracked) -> FrameSample | None:
        if t.fit is None:
            return None
        al = align_face(t.frame.image, t.fit.image_landmarks)
        c = au_centers(al.landmarks)
        try:
            au = self.engine.estimate(t.fit, t.frame)
        except AUValuesMissing:
            au = {}  # stored as NaN: the frame is left out (never zeros)
            self.stats["frames_without_aus"] = self.stats.get("frames_without_aus", 0) + 1
        return FrameSample(al.image, np.array([c[n] for n in REGION_NAMES], dtype=np.float32),
                           [float(au[a]) if a in au else np.nan for a in AU_ORDER])


def make_au_engine(name: str, row: Row | None = None) -> object:
    """An AU engine for one row. ``embedded``: the app's engine without the running neutral
    baseline (a 30-frame clip is too short to learn a person's neutral face, and this keeps a
    frame's values independent of its neighbours). ``openface``: the OpenFace engine of
    :mod:`auepa_monitor.core.openface`, when that module and OpenFace are installed."""
    from auepa_monitor.core.engines import make_au_engine as make

    if name == "openface" and row is None:
        from auepa_monitor.core.openface import find_feature_extraction

        return find_feature_extraction()  # raises EngineUnavailable when OpenFace is not installed
    return make(name, None if row is None else row.media, neutral_baseline=False)


class Extractor:
    """Runs (or loads from cache) the frame -> crop -> AU chain for manifest rows.

    Args:
        cache_dir: cache folder (shared between runs).
        n_frames: consecutive frames per time point (paper: 30).
        au_engine: ``embedded`` or ``openface``.
    """

    def __init__(self, cache_dir: Path, n_frames: int = 30, au_engine: str = "embedded") -> None:
        self.cache = Path(cache_dir)
        (self.cache / "crops").mkdir(parents=True, exist_ok=True)
        (self.cache / "aus").mkdir(parents=True, exist_ok=True)
        self.n_frames = n_frames
        self.engine_name = au_engine
        #: The tracker's automatic rule for media without a face box (``FaceTracker(pick=...)``).
        self.pick = "youngest"
        self._index_path = self.cache / "digests.json"
        try:
            self._index: dict[str, str] = json.loads(self._index_path.read_text())
        except (OSError, ValueError):
            self._index = {}
        self._tracker = None
        self._face_model_digest: str | None = None
        self.stats = {"rows": 0, "cached_rows": 0, "frames_tried": 0, "frames_fitted": 0}
        if au_engine != "embedded":
            make_au_engine(au_engine)  # fail now, before any work, when the engine is missing

    def key(self, row: Row) -> str:
        """Cache key of a row's crops: media content, time point, frame count, crop version, face model."""
        if self._face_model_digest is None:
            from auepa_monitor.core.face import find_face_model

            self._face_model_digest = file_digest(find_face_model(), self._index)[:12]
        d = file_digest(row.media, self._index)
        n = 1 if row.kind == "image" else self.n_frames
        text = f"{d}|{row.time_s:.4f}|{n}|{CROP_VERSION}|{self._face_model_digest}"
        # Only present when used, so older cache entries (no box, no range) stay valid.
        if row.box is not None:
            text += "|box=" + ",".join(f"{v:.1f}" for v in row.box)
        elif self.pick != "largest":  # without a box the automatic rule chose the face
            text += f"|pick={self.pick}"
        if row.frame_range is not None:
            text += f"|range={row.frame_range[0]}-{row.frame_range[1]}"
        return hashlib.sha1(text.encode()).hexdigest()[:20]

    def _engine_tag(self) -> str:
        if self.engine_name == "embedded":
            from auepa_monitor.model_card import models_dir

            cal = models_dir() / "au_calibration.json"
            return "embedded-" + file_digest(cal)[:8]
        from auepa_monitor.core.openface import find_feature_extraction

        return "openface-" + hashlib.sha1(find_feature_extraction().identity().encode()).hexdigest()[:8]

    def tracker(self) -> FaceTracker:
        if self._tracker is None:
            self._tracker = FaceTracker(pick=self.pick)
        return self._tracker

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        self._save_index()

    def _save_index(self) -> None:
        tmp = self._index_path.with_suffix(".part")
        tmp.write_text(json.dumps(self._index))
        os.replace(tmp, self._index_path)

    def run(self, rows: list[Row], progress: bool = True) -> SampleSet:
        out = []
        for row in tqdm(rows, desc="frames/crops/AUs", unit="row", disable=not progress):
            out.append(self.row(row))
        self._save_index()
        return SampleSet(out)

    def row(self, row: Row) -> RowSamples:
        key = self.key(row)
        crops_p = self.cache / "crops" / f"{key}.npy"
        meta_p = self.cache / "crops" / f"{key}.npz"
        au_p = self.cache / "aus" / f"{key}-{self._engine_tag()}.npz"
        self.stats["rows"] += 1
        if crops_p.is_file() and meta_p.is_file() and au_p.is_file():
            self.stats["cached_rows"] += 1
            meta = np.load(meta_p)
            return RowSamples.usable(row, np.load(crops_p, mmap_mode="r"), meta["centers"], meta["frames"],
                                     np.load(au_p)["au"], int(meta["tried"]))
        tracker = self.tracker()
        tracker.set_target(row.box)  # the row's face box is the target region (None: the largest face); resets
        chain = RowChain(tracker, make_au_engine(self.engine_name, row), self.stats)
        crops, centers, nums, aus = [], [], [], []
        tried = 0
        with RowFrames(row, self.n_frames) as src:
            for fr, sample in process_frames(src, chain):  # the app's one read -> track -> measure loop
                tried += 1
                if sample is not None:
                    crops.append(sample.crop)
                    centers.append(sample.centers)
                    nums.append(fr.index)
                    aus.append(sample.au)
        self.stats["frames_tried"] += tried
        self.stats["frames_fitted"] += len(crops)
        crops_a = np.stack(crops) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        centers_a = np.stack(centers) if centers else np.zeros((0, len(REGION_NAMES), 2), np.float32)
        nums_a = np.array(nums, dtype=np.int64)
        au_a = np.array(aus, dtype=np.float32).reshape(-1, len(AU_ORDER))
        # Write under temporary names, then rename: an interrupted run leaves no half entry.
        _atomic_save(crops_p, lambda p: np.save(p, crops_a))
        _atomic_save(meta_p, lambda p: np.savez(p, centers=centers_a, frames=nums_a, tried=tried))
        _atomic_save(au_p, lambda p: np.savez(p, au=au_a))
        return RowSamples.usable(row, np.load(crops_p, mmap_mode="r"), centers_a, nums_a, au_a, tried)


def _atomic_save(path: Path, write: Callable[[object], None]) -> None:
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    with tmp.open("wb") as f:
        write(f)
    os.replace(tmp, path)
