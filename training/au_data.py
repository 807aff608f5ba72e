"""Tracker output on the AU reference media, cached: what the AU fit and the AU validation replay.

Two sets, each paired with OpenFace 2.2's output on the same pixels:

* **clear references** (``../shared/data/faces``): ``default.wmv``, ``multi_face.avi`` (OpenFace
  tracked one of three people), ``image_sequence/`` and the single-face stills sample1/3/4/5.
  Each is a different person; the stills are grouped as one "person" for figures (one frame each).
* **children** (``../shared/data/children``): 28 toddler + parent webcam videos; OpenFace ran on
  each half (x 0-319 and 320-639) separately, so our tracker runs on the same half
  (``frame[:, 0:320]`` / ``frame[:, 320:640]``).

Per frame the cache keeps the :class:`FaceFit` fields (landmarks, blendshapes, pose, quality,
box) and the aligned grey crop (:func:`au_crop.aligned_gray`), so the engine can be replayed
frame by frame exactly as it runs online without the images. Cache files live in ``--cache``
(default ``/tmp/auepa_au_cache``), keyed by the media files, the tracker's source and the crop
code: a changed tracker is re-run automatically.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from auepa_monitor.core import au_crop
from auepa_monitor.core import face as face_module
from auepa_monitor.core import landmarks as L
from auepa_monitor.core.openface_csv import OpenFaceTable, read_openface_csv
from auepa_monitor.core.records import FaceFit, HeadPose

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_FACES = SHARED / "faces"
DEFAULT_CHILDREN = SHARED / "children"
DEFAULT_CACHE = Path("/tmp/auepa_au_cache")
CACHE_VERSION = 1
STILLS = ("sample1", "sample3", "sample4", "sample5")
#: Person (fold) of each clear reference: the stills are four people, one frame each, pooled.
CLEAR_PERSON = {"default": "default", "multi_face": "multi_face", "image_sequence": "image_sequence",
                **{s: "stills" for s in STILLS}}


@dataclass
class Track:
    """Our tracker's output over one clip, row i = the reference's row i.

    ``fit`` (n,) bool; ``landmarks`` (n, 478, 3) float32; ``blend`` (n, B) float32 with
    ``bs_names``; ``pose`` (n, 3) yaw/pitch/roll deg; ``quality`` (n,); ``box`` (n, 4);
    ``crop`` (n, CROP, CROP) uint8 (zeros where no fit).
    """

    name: str
    fit: np.ndarray
    landmarks: np.ndarray
    blend: np.ndarray
    bs_names: list[str]
    pose: np.ndarray
    quality: np.ndarray
    box: np.ndarray
    crop: np.ndarray
    seconds: float = 0.0
    ms_per_frame: float = 0.0

    def __len__(self) -> int:
        return int(self.fit.shape[0])

    def face_fit(self, i: int) -> FaceFit | None:
        if not self.fit[i]:
            return None
        return FaceFit(box=tuple(float(x) for x in self.box[i]), landmarks=self.landmarks[i],
                       blendshapes=dict(zip(self.bs_names, self.blend[i].tolist(), strict=True)),
                       pose=HeadPose(*(float(x) for x in self.pose[i])), quality=float(self.quality[i]))


@dataclass
class Clip:
    """One clip with its OpenFace reference: ``track`` (ours), ``ref`` (OpenFace's table)."""

    name: str
    person: str  # fold for leave-one-person-out / family
    track: Track
    ref: OpenFaceTable
    x_offset: float = 0.0  # add to our x to get the full frame (children right half: 0, already half-local)
    extra: dict = field(default_factory=dict)


def _stat_key(paths: list[Path]) -> bytes:
    return "|".join(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in paths).encode()


def cache_key(media: list[Path], ref: Path, tag: str = "") -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}:{tag}".encode())
    h.update(_stat_key([*media, ref]))
    for src in sorted(Path(face_module.__file__).parent.glob("face*.py")):  # the tracker's code
        h.update(src.read_bytes())
    h.update(Path(au_crop.__file__).read_bytes())
    return h.hexdigest()[:16]


def _empty(n: int) -> dict[str, np.ndarray]:
    return {"fit": np.zeros(n, bool), "landmarks": np.zeros((n, 478, 3), np.float32),
            "pose": np.zeros((n, 3), np.float32), "quality": np.zeros(n, np.float32),
            "box": np.zeros((n, 4), np.float32), "crop": np.zeros((n, au_crop.CROP, au_crop.CROP), np.uint8)}


def openface_roi(ref: OpenFaceTable) -> tuple[float, float, float, float] | None:
    """Box of OpenFace's 68 landmarks in its first good row (the face it measured), or None."""
    if ref.landmarks is None:
        return None
    good = np.where(ref.success & (ref.confidence >= 0.8))[0]
    if len(good) == 0:
        return None
    p = ref.landmarks[good[0]]
    x0, y0 = p.min(axis=0)
    x1, y1 = p.max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def run_tracker(name: str, frames: Iterator[np.ndarray], n: int, tracker, roi) -> Track:
    """Our tracker over ``n`` frames (more are ignored, missing ones stay empty)."""
    a = _empty(n)
    blend: list[np.ndarray | None] = [None] * n
    names: list[str] | None = None
    tracker.reset()
    tracker.set_target(roi)
    t0 = time.perf_counter()
    t_proc = 0.0
    k = 0
    for i, img in enumerate(frames):
        if i >= n:
            break
        k += 1
        t1 = time.perf_counter()
        fit, _ = tracker.process(img)
        t_proc += time.perf_counter() - t1
        if fit is None:
            continue
        a["fit"][i] = True
        a["landmarks"][i] = fit.landmarks
        a["pose"][i] = (fit.pose.yaw, fit.pose.pitch, fit.pose.roll)
        a["quality"][i] = fit.quality
        a["box"][i] = fit.box
        a["crop"][i] = au_crop.aligned_gray(img, fit.image_landmarks)
        if names is None:
            names = sorted(fit.blendshapes)
        blend[i] = np.array([fit.blendshapes.get(b, 0.0) for b in names], np.float32)
    names = names or []
    B = np.zeros((n, len(names)), np.float32)
    for i, b in enumerate(blend):
        if b is not None:
            B[i] = b
    return Track(name, a["fit"], a["landmarks"], B, names, a["pose"], a["quality"], a["box"], a["crop"],
                 time.perf_counter() - t0, 1000 * t_proc / max(k, 1))


def save_track(t: Track, path: Path) -> None:
    tmp = path.with_suffix(".part.npz")
    np.savez_compressed(tmp, fit=t.fit, landmarks=t.landmarks, blend=t.blend, bs_names=np.array(t.bs_names),
                        pose=t.pose, quality=t.quality, box=t.box, crop=t.crop, seconds=t.seconds,
                        ms_per_frame=t.ms_per_frame)
    tmp.replace(path)


def load_track(name: str, path: Path) -> Track:
    with np.load(path, allow_pickle=False) as z:
        return Track(name, z["fit"], z["landmarks"], z["blend"], [str(s) for s in z["bs_names"]], z["pose"],
                     z["quality"], z["box"], z["crop"], float(z["seconds"]), float(z["ms_per_frame"]))


def video_frames(path: Path, x0: int | None = None, x1: int | None = None) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                return
            yield np.ascontiguousarray(img[:, x0:x1]) if x0 is not None else img
    finally:
        cap.release()


def image_frames(paths: list[Path]) -> Iterator[np.ndarray]:
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read {p}")
        yield img


class _Trackers:
    def __init__(self) -> None:
        self.t = None

    def get(self):
        if self.t is None:
            self.t = face_module.FaceTracker()
        return self.t

    def close(self) -> None:
        if self.t is not None:
            self.t.close()


#: Reuse whatever tracker output is cached, even from another tracker version (set by
#: ``--any-tracker``: for iterating on the AU engine while the tracker changes).
ANY_TRACKER = False


def _cached(name: str, key: str, cache: Path, make, log=print) -> Track:
    cache.mkdir(parents=True, exist_ok=True)
    p = cache / f"{name}-{key}.npz"
    if p.is_file():
        return load_track(name, p)
    old = sorted(cache.glob(f"{name}-*.npz"), key=lambda q: q.stat().st_mtime)
    old = [q for q in old if not q.name.endswith(".part.npz")]
    if ANY_TRACKER and old:
        return load_track(name, old[-1])
    for stale in cache.glob(f"{name}-*.npz"):
        stale.unlink()
    t = make()
    save_track(t, p)
    log(f"  tracked {name}: {int(t.fit.sum())}/{len(t)} fits, {t.seconds:.1f} s ({t.ms_per_frame:.1f} ms/frame)")
    return t


def clear_clips(faces: Path = DEFAULT_FACES, cache: Path = DEFAULT_CACHE, log=print) -> list[Clip]:
    """The clear references: default, multi_face, image_sequence, sample1/3/4/5."""
    refdir = faces / "openface_ref"
    specs = [("default", [faces / "default.wmv"], True), ("multi_face", [faces / "multi_face.avi"], True),
             ("image_sequence", sorted((faces / "image_sequence").glob("*.jpg")), False)]
    specs += [(s, [faces / f"{s}.jpg"], False) for s in STILLS]
    tr = _Trackers()
    out = []
    try:
        for name, media, is_video in specs:
            refp = refdir / f"{name}.csv"
            ref = read_openface_csv(refp)
            n = len(ref)

            def make(media=media, is_video=is_video, ref=ref, n=n, name=name):
                frames = video_frames(media[0]) if is_video else image_frames(media)
                return run_tracker(name, frames, n, tr.get(), openface_roi(ref))

            out.append(Clip(name, CLEAR_PERSON[name], _cached(name, cache_key(media, refp), cache, make, log), ref))
    finally:
        tr.close()
    return out


def children_clips(children: Path = DEFAULT_CHILDREN, cache: Path = DEFAULT_CACHE, log=print,
                   limit: int | None = None) -> list[Clip]:
    """Every (video, half) of the children set with an OpenFace reference; person = family id."""
    refdir = children / "openface_ref"
    vids = sorted(children.glob("*.mp4"))[:limit]
    tr = _Trackers()
    out = []
    try:
        for v in vids:
            for half, (x0, x1) in (("left", (0, 320)), ("right", (320, 640))):
                refp = refdir / f"{v.stem}.{half}.csv"
                if not refp.is_file():
                    continue
                ref = read_openface_csv(refp)
                name = f"{v.stem}.{half}"

                def make(v=v, x0=x0, x1=x1, ref=ref, name=name):
                    return run_tracker(name, video_frames(v, x0, x1), len(ref), tr.get(), openface_roi(ref))

                t = _cached(name, cache_key([v], refp, half), cache, make, log)
                out.append(Clip(name, v.stem.split(".")[0], t, ref, extra={"half": half}))
    finally:
        tr.close()
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def good_frames(clip: Clip, min_conf: float = 0.8, max_yaw: float = 45.0) -> np.ndarray:
    """(n,) bool: OpenFace's fit good and ours on the same face (see module doc)."""
    ref, t = clip.ref, clip.track
    n = min(len(ref), len(t))
    ok = np.zeros(len(t), bool)
    good = ref.success[:n] & (ref.confidence[:n] >= min_conf) & t.fit[:n]
    if ref.pose is not None:
        good &= np.abs(np.degrees(ref.pose[:n, 1])) < max_yaw
    if ref.landmarks is not None:
        lm = ref.landmarks[:n]
        of_r, of_l = lm[:, 36:42].mean(axis=1), lm[:, 42:48].mean(axis=1)
        iod = np.linalg.norm(of_l - of_r, axis=1)
        our = t.landmarks[:n, :, :2].astype(np.float64)
        our_r = our[:, list(L.RIGHT_EYE)].mean(axis=1)
        our_l = our[:, list(L.LEFT_EYE)].mean(axis=1)
        dist = np.maximum(np.linalg.norm(our_r - of_r, axis=1), np.linalg.norm(our_l - of_l, axis=1))
        good &= dist <= 0.5 * np.maximum(iod, 1e-6)
    ok[:n] = good
    return ok


if __name__ == "__main__":  # warm the cache: python -m training.au_data [clear|children]
    import sys

    which = sys.argv[1:] or ["clear", "children"]
    if "clear" in which:
        clear_clips()
    if "children" in which:
        children_clips()
