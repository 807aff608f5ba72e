"""OpenFace 2.2 as an AU engine: the user's own FeatureExtraction, run as a subprocess. No Qt.

OpenFace's licence forbids bundling it or its models, so this module finds the user's copy
(:func:`find_feature_extraction`), runs it once over a whole recorded video or image folder
(:func:`run_feature_extraction`), caches the parsed result per file content
(:class:`OpenFaceCache`) and serves it frame by frame (:class:`OpenFaceAUEngine`).

Why whole files only: in video mode OpenFace post-processes the whole clip (per-person
offset, clipping, 3-frame smoothing) before its values are final, and it cannot read frames
from another program's camera stream; live sources keep the embedded engine (see
:data:`LIVE_REFUSAL`).

AU27 and AU43 do not exist in OpenFace. They come from OpenFace's own 68 landmarks with the
embedded engine's geometry (:func:`geometry_aus_68`): AU27 from the inner-lip gap
(points 62/66) in eye distances (eye centers = mean of points 36-41 and 42-47); AU43 from the
eye aspect ratio (lid gap over eye width: outer corner 36/45, inner corner 39/42, upper lid
mean of 37,38 / 43,44, lower lid mean of 41,40 / 47,46), with the open-eye ratio of this
person taken as the 80th percentile over the clip's successful frames (the whole-file
counterpart of the embedded engine's running baseline). OpenFace's AU45 (blink) is
reported as its own column and is not mixed into AU43.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .au_engine import au27_from_geometry, au43_from_geometry, eye_aspect_ratio, mouth_gap
from .engine_api import AUValuesMissing
from .errors import EngineUnavailable
from .openface_csv import OpenFaceCsvError, OpenFaceTable, load_table, read_openface_csv, save_table
from .private_files import copy_private, private_dir, write_private_text
from .records import REPORTED_AUS, FaceFit
from .sources import IMAGE_EXTS, Frame

log = logging.getLogger(__name__)

BIN_ENV = "AUEPA_OPENFACE_BIN"
EXE_NAME = "FeatureExtraction"
CLNF_MODEL = "main_clnf_general.txt"  # works with the models in OpenFace's repository
CECLM_MODEL = "main_ceclm_general.txt"  # OpenFace's default; needs the separately downloaded CEN experts
AU_MODEL = Path("AU_predictors") / "main_dynamic_svms.txt"

#: Why live feeds keep the embedded engine (shown to the user when they ask for OpenFace live).
LIVE_REFUSAL = (
    "OpenFace works on recorded videos and image folders only: it cannot read frames from this "
    "program's camera stream, its final AU values need the whole clip (per-person offset and "
    "smoothing), and its CSV output arrives in ~8 kB bursts (about 8 frames), so no route stays "
    "under 200 ms; live sources use the embedded engine"
)

NO_INPUT = ("OpenFace needs the recorded video, image folder or image to analyse and none was given; "
            "live sources use the embedded engine")

ProgressFn = Callable[[int, int], None]  # (frames done, frames in total or 0 when unknown)


# --------------------------------------------------------------------------- finding it


@dataclass(frozen=True)
class OpenFaceInstall:
    """A usable FeatureExtraction and the model files next to it.

    Attributes:
        exe: the FeatureExtraction executable.
        model_dir: OpenFace's ``model`` folder.
        mloc: the landmark model to pass as ``-mloc`` (absolute path), or None for OpenFace's
            own default (CE-CLM, when its CEN patch experts are present).
        notes: what the user should know (e.g. that CLNF is used because CEN experts are missing).
        found_by: "setting", "env" or "PATH".
    """

    exe: Path
    model_dir: Path
    mloc: Path | None
    notes: tuple[str, ...] = ()
    found_by: str = ""

    def identity(self) -> str:
        """What makes two runs comparable: executable (path, size, mtime) and landmark model."""
        st = self.exe.stat()
        return f"{self.exe.resolve()}|{st.st_size}|{int(st.st_mtime)}|{self.mloc.name if self.mloc else 'ceclm'}"


def _as_exe(p: Path) -> Path | None:
    """``p`` itself when it is an executable file, or FeatureExtraction(.exe) inside a folder ``p``."""
    if p.is_dir():
        for name in (EXE_NAME, EXE_NAME + ".exe"):
            if (p / name).is_file():
                return p / name
        return None
    return p if p.is_file() else None


def _model_dirs(exe: Path) -> list[Path]:
    """Where OpenFace itself looks for ``model/``: beside the executable, then its install config dir."""
    d = exe.resolve().parent
    return [d / "model", d.parent / "etc" / "OpenFace" / "model"]  # `make install` puts models there


def find_feature_extraction(setting: str | Path | None = None) -> OpenFaceInstall:
    """Locate FeatureExtraction: the ``setting`` (file or its folder), else ``$AUEPA_OPENFACE_BIN``, else PATH.

    An explicit setting or environment value that does not work is an error (it is not
    silently skipped). Checks the ``model`` folder beside the executable; when the CEN patch
    experts (``model/patch_experts/cen_patches_*.dat``) are missing, selects
    ``-mloc model/main_clnf_general.txt`` and says so in ``notes`` and the log.

    Raises:
        EngineUnavailable: naming everything that was looked for.
    """
    exe: Path | None
    if setting:
        exe, how = _as_exe(Path(setting).expanduser()), "setting"
        if exe is None:
            raise EngineUnavailable(f"OpenFace: the FeatureExtraction setting {str(setting)!r} is not an "
                                    f"existing file or a folder holding {EXE_NAME}")
    elif os.environ.get(BIN_ENV):
        val = os.environ[BIN_ENV]
        exe, how = _as_exe(Path(val).expanduser()), "env"
        if exe is None:
            raise EngineUnavailable(f"OpenFace: {BIN_ENV}={val!r} is not an existing file or a folder "
                                    f"holding {EXE_NAME}")
    else:
        w = shutil.which(EXE_NAME)
        if w is None:
            raise EngineUnavailable(
                f"OpenFace's {EXE_NAME} was not found: no setting given (--openface-bin), {BIN_ENV} is not "
                f"set, and no {EXE_NAME} on PATH; install OpenFace 2.2 and point one of these to it")
        exe, how = Path(w), "PATH"
    if not os.access(exe, os.X_OK):
        raise EngineUnavailable(f"OpenFace: {exe} (from the {how}) is not executable")
    dirs = _model_dirs(exe)
    model_dir = next((d for d in dirs if d.is_dir()), None)
    if model_dir is None:
        raise EngineUnavailable(f"OpenFace's model folder is missing: looked for {' and '.join(map(str, dirs))}; "
                                f"keep the 'model' folder that came with {exe.name} beside it")
    au_model = model_dir.parent / AU_MODEL
    if not au_model.is_file():
        raise EngineUnavailable(f"OpenFace's AU models are missing: {au_model} not found (keep the "
                                "'AU_predictors' folder that came with OpenFace beside 'model')")
    notes: list[str] = []
    mloc: Path | None = None
    has_cen = (model_dir / CECLM_MODEL).is_file() and any((model_dir / "patch_experts").glob("cen_patches_*.dat"))
    if not has_cen:
        mloc = model_dir / CLNF_MODEL
        if not mloc.is_file():
            raise EngineUnavailable(f"OpenFace's landmark models are missing in {model_dir}: neither the CEN patch "
                                    f"experts (patch_experts/cen_patches_*.dat) nor {CLNF_MODEL}")
        notes.append(f"OpenFace: CEN patch experts not found in {model_dir / 'patch_experts'}; "
                     f"using -mloc model/{CLNF_MODEL} (CLNF landmarks)")
        log.warning(notes[-1])
    return OpenFaceInstall(exe=exe, model_dir=model_dir, mloc=mloc, notes=tuple(notes), found_by=how)


# --------------------------------------------------------------------------- running it


def is_live_source(source: object) -> bool:
    """True for camera indices ("0", 2) and device files: sources OpenFace cannot share."""
    if source is None or isinstance(source, int):
        return True
    s = str(source).strip()
    return s.isdigit() or s.startswith("/dev/")


def count_frames(source: Path) -> int:
    """Frames in a video (container count via OpenCV) or images in a folder; 0 when unknown."""
    if source.is_dir():
        return sum(1 for p in source.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if source.suffix.lower() in IMAGE_EXTS:
        return 1
    import cv2

    cap = cv2.VideoCapture(str(source), cv2.CAP_FFMPEG)
    try:
        return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))) if cap.isOpened() else 0
    finally:
        cap.release()


def _tail(lines: deque[str], n: int = 6) -> str:
    keep = [ln.strip() for ln in lines if ln.strip()][-n:]
    return " | ".join(keep) if keep else "(no output)"


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop the FeatureExtraction process we started (its own process group on POSIX)."""
    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def run_feature_extraction(install: OpenFaceInstall, source: Path, out_dir: Path, *,
                           progress: ProgressFn | None = None, stall_timeout_s: float = 120.0,
                           timeout_s: float | None = None, should_stop: Callable[[], bool] | None = None,
                           ) -> Path:
    """Run ``FeatureExtraction -f VIDEO|-fdir FOLDER -aus -pose -2Dfp [-mloc ...] -out_dir OUT``.

    Progress is the larger of the rows already in the growing CSV and the "N%" marks
    OpenFace prints, reported as (frames done, frames total) through ``progress``.
    A run that shows no sign of life (no new output, no CSV growth) for ``stall_timeout_s``
    seconds, or runs past ``timeout_s`` in total, or is cancelled by ``should_stop``, is killed.

    Returns the CSV written. Raises :class:`EngineUnavailable` with the tail of OpenFace's
    output on any failure.
    """
    source = Path(source)
    private_dir(out_dir, warn=False)
    total = count_frames(source)
    # Started by its real path: OpenFace looks for AU_predictors/ beside argv[0], not beside a symlink to it.
    cmd = [str(install.exe.resolve())]
    if source.is_dir():
        cmd += ["-fdir", str(source)]
    elif source.suffix.lower() in IMAGE_EXTS:
        # A single still: a one-image sequence, with OpenFace's static AU models (no video offset).
        one = private_dir(out_dir / "_still", warn=False)
        copy_private(source, one / source.name)
        cmd += ["-fdir", str(one), "-au_static"]
    else:
        cmd += ["-f", str(source)]
    cmd += ["-aus", "-pose", "-2Dfp"]
    if install.mloc is not None:
        cmd += ["-mloc", str(install.mloc)]
    cmd += ["-out_dir", str(out_dir)]
    log.info("running %s", " ".join(cmd))
    out_tail: deque[str] = deque(maxlen=40)
    err_tail: deque[str] = deque(maxlen=40)
    state = {"pct": 0.0, "last": time.monotonic()}
    pct_re = re.compile(r"(\d+(?:\.\d+)?)%")

    def pump(stream, tail: deque[str], parse_pct: bool) -> None:
        buf = ""
        while True:
            chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            state["last"] = time.monotonic()
            buf += chunk.decode("utf-8", errors="replace")
            *done, buf = re.split(r"[\r\n]", buf)
            for ln in done:
                tail.append(ln)
            if parse_pct:
                for m in pct_re.finditer("".join(done) + buf):
                    state["pct"] = max(state["pct"], float(m.group(1)))
        if buf:
            tail.append(buf)

    kw: dict = {"start_new_session": True} if sys.platform != "win32" else {}
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                cwd=str(out_dir), **kw)
    except OSError as e:
        raise EngineUnavailable(f"OpenFace: {install.exe} cannot be started ({e.strerror or e}); "
                                "is it a working FeatureExtraction for this system?") from e
    readers = [threading.Thread(target=pump, args=(proc.stdout, out_tail, True), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err_tail, False), daemon=True)]
    for t in readers:
        t.start()
    t0 = time.monotonic()
    csv_size, newlines, csv_rows, reported = 0, 0, 0, -1
    try:
        while proc.poll() is None:
            time.sleep(0.1)
            csvs = list(out_dir.glob("*.csv"))
            if csvs:
                sz = csvs[0].stat().st_size
                if sz < csv_size:  # OpenFace rewrites the file when post-processing: count again
                    csv_size, newlines = 0, 0
                if sz > csv_size:  # read only what was added since the last look
                    with open(csvs[0], "rb") as fh:
                        fh.seek(csv_size)
                        newlines += fh.read(sz - csv_size).count(b"\n")
                    csv_size, state["last"] = sz, time.monotonic()
                    csv_rows = max(csv_rows, newlines - 1)
            done = max(csv_rows, int(state["pct"] / 100.0 * total)) if total else csv_rows
            if progress is not None and done != reported:
                reported = done
                progress(done, total)
            now = time.monotonic()
            why = ""
            if should_stop is not None and should_stop():
                why = "cancelled"
            elif now - state["last"] > stall_timeout_s + (total / 500.0 if total and csv_rows >= total else 0.0):
                # (after the last frame OpenFace post-processes the whole CSV silently: allow for it)
                why = f"no progress for {stall_timeout_s:g} s (hung?); stopped it"
            elif timeout_s is not None and now - t0 > timeout_s:
                why = f"did not finish within {timeout_s:g} s; stopped it"
            if why:
                _kill_tree(proc)
                raise EngineUnavailable(f"OpenFace {install.exe.name} on {source.name}: {why}; "
                                        f"last output: {_tail(err_tail) if err_tail else _tail(out_tail)}")
    finally:
        if proc.poll() is None:
            _kill_tree(proc)
        for t in readers:
            t.join(timeout=5)
    rc = proc.returncode
    if rc != 0:
        # OpenFace prints its own errors on stdout; libraries (OpenCV, the loader) use stderr.
        parts = []
        if any(ln.strip() for ln in err_tail):
            parts.append(f"stderr: {_tail(err_tail, 4)}")
        if any(ln.strip() for ln in out_tail):
            parts.append(f"output: {_tail(out_tail, 4)}")
        how = f"killed by signal {-rc}" if rc < 0 else f"exit code {rc}"
        raise EngineUnavailable(f"OpenFace {install.exe.name} failed on {source.name} ({how}): "
                                f"{'; '.join(parts) or '(no output)'}")
    csvs = sorted(out_dir.glob("*.csv"))
    if not csvs:
        # FeatureExtraction exits 0 without output when it cannot open the input.
        raise EngineUnavailable(f"OpenFace {install.exe.name} wrote no CSV for {source.name}: {_tail(out_tail)}")
    if progress is not None:
        progress(total or csv_rows, total)
    return csvs[0]


# --------------------------------------------------------------------------- caching it


def content_key(path: Path, whole_limit: int = 64 << 20, chunk: int = 1 << 20, samples: int = 16) -> str:
    """BLAKE2b key of a file's content (not its name or mtime, so a copied file still hits).

    Files up to ``whole_limit`` bytes (64 MiB) are hashed whole; larger ones by their size
    plus ``samples`` evenly spaced 1 MiB chunks (first and last included), which keeps a
    second open of a multi-GB video instant. For an image folder: the names and keys of its
    images, in order.
    """
    h = hashlib.blake2b(digest_size=20)
    if path.is_dir():
        for p in sorted(q for q in path.iterdir() if q.suffix.lower() in IMAGE_EXTS):
            h.update(p.name.encode() + b"\0" + content_key(p, whole_limit, chunk, samples).encode())
        return "d" + h.hexdigest()
    size = path.stat().st_size
    h.update(str(size).encode())
    with open(path, "rb") as fh:
        if size <= whole_limit:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        else:
            for k in range(samples):
                fh.seek((size - chunk) * k // (samples - 1))
                h.update(fh.read(chunk))
    return h.hexdigest()


class OpenFaceCache:
    """Parsed OpenFace CSVs kept per (file content, OpenFace install) in a per-user cache dir.

    Layout: ``<dir>/<key>.csv`` (OpenFace's own CSV, unchanged), ``<key>.npz`` (the parsed
    table, which loads in milliseconds) and ``<key>.json`` (what ran).
    Default dir: ``platformdirs.user_cache_dir("auepa-monitor")/openface``.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        if directory is None:
            import platformdirs

            directory = Path(platformdirs.user_cache_dir("auepa-monitor")) / "openface"
        self.dir = Path(directory)

    def key(self, source: Path, install: OpenFaceInstall) -> str:
        h = hashlib.blake2b(digest_size=20)
        h.update(content_key(source).encode() + b"|" + install.identity().encode())
        return h.hexdigest()

    def get(self, key: str) -> OpenFaceTable | None:
        p, npz = self.dir / f"{key}.csv", self.dir / f"{key}.npz"
        if npz.is_file():
            try:
                return load_table(npz)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
                log.warning("ignoring damaged OpenFace cache entry %s: %s", npz, e)
        if not p.is_file():
            return None
        try:
            return read_openface_csv(p)
        except OpenFaceCsvError as e:  # a damaged cache entry is just recomputed
            log.warning("ignoring damaged OpenFace cache entry %s: %s", p, e)
            return None

    def put(self, key: str, csv_path: Path, table: OpenFaceTable, meta: dict) -> OpenFaceTable:
        """Store OpenFace's CSV and its parsed ``table``; returns the table pointing at the stored CSV."""
        private_dir(self.dir)  # owner-only (0700): the values describe an identifiable infant
        dst = self.dir / f"{key}.csv"
        # Written under a temporary name and renamed: a crash never leaves a half entry under the real name.
        tmp = dst.with_suffix(".csv.part")
        copy_private(csv_path, tmp)
        os.replace(tmp, dst)
        stored = replace(table, path=dst)
        tmp = self.dir / f"{key}.npz.part"
        save_table(stored, tmp)
        os.replace(tmp, self.dir / f"{key}.npz")
        write_private_text(self.dir / f"{key}.json", json.dumps(meta, indent=2) + "\n")
        return stored


# --------------------------------------------------------------------------- geometry AUs


# 68-point (iBUG/Multi-PIE) indices, subject's right eye first (image left).
RIGHT_EYE_68 = (36, 39, (37, 38), (41, 40))  # outer, inner, upper lid, lower lid
LEFT_EYE_68 = (45, 42, (43, 44), (47, 46))
INNER_LIP_UPPER_68, INNER_LIP_LOWER_68 = 62, 66


def eye_distance_68(pts: np.ndarray) -> float:
    """Distance between the eye centers (means of 36-41 and 42-47), pixels."""
    return float(np.linalg.norm(pts[42:48].mean(axis=0) - pts[36:42].mean(axis=0)))


def ear_68(pts: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes from (68, 2) landmarks (the embedded engine's definition)."""
    vals = []
    for outer, inner, up, lo in (RIGHT_EYE_68, LEFT_EYE_68):
        vals.append(eye_aspect_ratio(pts[outer], pts[inner], pts[list(up)].mean(axis=0), pts[list(lo)].mean(axis=0)))
    return float(np.mean(vals))


def ear_68_all(lm: np.ndarray) -> np.ndarray:
    """:func:`ear_68` of every row of (N, 68, 2) landmarks at once, (N,)."""
    lm = np.asarray(lm, dtype=np.float64)
    out = np.zeros(lm.shape[0])
    for outer, inner, up, lo in (RIGHT_EYE_68, LEFT_EYE_68):
        width = np.linalg.norm(lm[:, inner] - lm[:, outer], axis=1)
        gap = np.linalg.norm(lm[:, list(lo)].mean(axis=1) - lm[:, list(up)].mean(axis=1), axis=1)
        out += gap / np.maximum(width, 1e-6)
    return out / 2


def geometry_aus_68(pts: np.ndarray, open_ear: float | None) -> dict[int, float]:
    """AU27 and AU43 (0-5) from OpenFace's (68, 2) landmarks in pixels, as the embedded engine does."""
    pts = np.asarray(pts, dtype=np.float64)
    gap = mouth_gap(pts[INNER_LIP_UPPER_68], pts[INNER_LIP_LOWER_68], eye_distance_68(pts))
    return {27: au27_from_geometry(gap), 43: au43_from_geometry(ear_68(pts), open_ear)}


# --------------------------------------------------------------------------- the engine


def _box_of(pts: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def same_face(of_pts: np.ndarray, box: tuple[float, float, float, float], min_inside: float = 0.5) -> bool:
    """Whether OpenFace's 68 landmarks (pixels) belong to the face in ``box`` (x, y, w, h pixels).

    True when the landmarks' center lies in ``box`` and at least ``min_inside`` of their
    bounding box's area lies inside ``box`` (the 68-point box is smaller than the tracker's,
    which includes the forehead, so IoU would be too strict).
    """
    bx, by, bw, bh = box
    c = of_pts.mean(axis=0)
    if not (bx <= c[0] <= bx + bw and by <= c[1] <= by + bh):
        return False
    ox, oy, ow, oh = _box_of(of_pts)
    iw = max(0.0, min(ox + ow, bx + bw) - max(ox, bx))
    ih = max(0.0, min(oy + oh, by + bh) - max(oy, by))
    return iw * ih >= min_inside * max(ow * oh, 1e-6)


@dataclass
class OpenFaceRunInfo:
    """How the OpenFace values were obtained (for logs, the UI and summaries)."""

    csv: Path
    from_cache: bool
    seconds: float
    notes: list[str] = field(default_factory=list)


class OpenFaceAUEngine:
    """AU intensities (FACS 0-5) from the user's OpenFace 2.2, looked up by frame number.

    Args:
        source: the recorded video, image folder or still the frames come from. Live sources
            (camera index, device) are refused with :data:`LIVE_REFUSAL`.
        binary: FeatureExtraction (file or folder); else ``$AUEPA_OPENFACE_BIN``, else PATH.
        reference_csv: use this existing OpenFace CSV instead of running OpenFace (e.g. one
            made earlier with the same options); frames are matched by number all the same.
        cache_dir: where parsed results are kept (default: the per-user cache dir).
        progress: ``(done, total)`` frames while OpenFace runs.
        stall_timeout_s / timeout_s / should_stop: see :func:`run_feature_extraction`.
        check_face: when True, a frame whose OpenFace landmarks lie outside the pipeline's
            target face box has no values (OpenFace tracked another face).

    ``estimate`` raises :class:`AUValuesMissing` for frames OpenFace failed on (``success`` 0),
    frames missing from its CSV and frames where it tracked another face; the reason of the
    last such frame is also in ``last_missing``.
    """

    name = "openface"

    def __init__(self, source: str | Path | int | None, binary: str | Path | None = None, *,
                 reference_csv: str | Path | None = None, cache_dir: str | Path | None = None,
                 progress: ProgressFn | None = None, stall_timeout_s: float = 120.0,
                 timeout_s: float | None = None, should_stop: Callable[[], bool] | None = None,
                 check_face: bool = True) -> None:
        if reference_csv is None and source is None:
            raise EngineUnavailable(NO_INPUT)
        if reference_csv is None and is_live_source(source):
            raise EngineUnavailable(LIVE_REFUSAL)
        #: The input these values belong to: frames of any other input must not be looked up here.
        self.source = None if source is None or is_live_source(source) else Path(source)
        self.check_face = check_face
        self.last_missing = ""
        t0 = time.perf_counter()
        if reference_csv is not None:
            self.table = read_openface_csv(reference_csv)
            self.info = OpenFaceRunInfo(Path(reference_csv), from_cache=False, seconds=0.0,
                                        notes=[f"OpenFace values read from {Path(reference_csv).name}"])
        else:
            self.table, self.info = self._compute(Path(source), binary, cache_dir, progress, stall_timeout_s,
                                                  timeout_s, should_stop)
        self.info.seconds = time.perf_counter() - t0
        if self.table.truncated:
            self.info.notes.append(f"OpenFace CSV {self.info.csv.name} ended mid-line; its last row was dropped")
            log.warning(self.info.notes[-1])
        if not self.table.aus:
            raise EngineUnavailable(f"OpenFace output {self.info.csv.name} has no AU intensity columns "
                                    "(was it run without -aus, or are its AU models missing?)")
        if self.table.landmarks is None:
            self.info.notes.append(f"OpenFace CSV {self.info.csv.name} has no 2D landmarks (-2Dfp): AU27 and AU43 "
                                   "read 0 and the target-face check is off")
            log.warning(self.info.notes[-1])
        if not is_live_source(source):
            expected = count_frames(Path(source)) if Path(source).exists() else 0
            if expected and abs(expected - len(self.table)) > max(2, expected // 100):
                # Frames still match by number; a large gap means the file or the decoder differs.
                self.info.notes.append(f"OpenFace has {len(self.table)} rows, the input's header says {expected} frames")
                log.warning(self.info.notes[-1])
        self._open_ear = self._clip_open_ear()

    @staticmethod
    def _compute(source: Path, binary, cache_dir, progress, stall_timeout_s, timeout_s, should_stop):
        if not source.exists():
            raise EngineUnavailable(f"OpenFace: input {source} does not exist")
        install = find_feature_extraction(binary)
        cache = OpenFaceCache(cache_dir)
        key = cache.key(source, install)
        hit = cache.get(key)
        if hit is not None:
            log.info("OpenFace result for %s from cache %s", source.name, hit.path)
            return hit, OpenFaceRunInfo(hit.path, from_cache=True, seconds=0.0, notes=list(install.notes))
        with tempfile.TemporaryDirectory(prefix="auepa-openface-") as tmp:
            csv = run_feature_extraction(install, source, Path(tmp), progress=progress,
                                         stall_timeout_s=stall_timeout_s, timeout_s=timeout_s,
                                         should_stop=should_stop)
            table = read_openface_csv(csv)  # parse before caching: a bad file is not kept
            cmd_note = f"-mloc model/{install.mloc.name}" if install.mloc else "default landmark model"
            stored = cache.put(key, csv, table, {"source": str(source), "exe": str(install.exe),
                                                 "landmarks": cmd_note, "rows": len(table),
                                                 "truncated": table.truncated, "notes": list(install.notes)})
        return stored, OpenFaceRunInfo(stored.path, from_cache=False, seconds=0.0, notes=list(install.notes))

    def _clip_open_ear(self) -> float | None:
        """This person's open-eye ratio: 80th percentile of the EAR over successful frames."""
        lm = self.table.landmarks
        if lm is None:
            return None
        ok = np.flatnonzero(self.table.success)
        if ok.size < 10:
            return None
        return float(np.percentile(ear_68_all(lm[ok]), 80))

    def reset(self) -> None:
        """Nothing to forget: OpenFace's values are fixed per frame number (seeking is free)."""
        self.last_missing = ""

    def _missing(self, why: str) -> AUValuesMissing:
        self.last_missing = why
        return AUValuesMissing(why)

    def estimate(self, fit: FaceFit, frame: Frame, learn: bool = True) -> dict[int, float]:
        """AU number -> intensity 0-5 for every AU in ``REPORTED_AUS``, from OpenFace's row ``frame.index``
        (OpenFace's own values: ``learn`` changes nothing)."""
        i = self.table.row_of(frame.index)
        if i is None:
            raise self._missing(f"OpenFace has no row for frame {frame.index}")
        if not self.table.success[i]:
            raise self._missing(f"OpenFace's fit failed on frame {frame.index} (success 0)")
        lm = self.table.landmarks
        if lm is not None and self.check_face and fit is not None and not same_face(lm[i], fit.box):
            raise self._missing(f"OpenFace tracked another face than the target on frame {frame.index}")
        vals = self.table.au_row(i)
        if lm is not None:
            vals.update(geometry_aus_68(lm[i], self._open_ear))
        self.last_missing = ""
        return {au: float(np.clip(vals.get(au, 0.0), 0.0, 5.0)) for au in REPORTED_AUS}


def openface_engine_for(source: str | Path | int | None, binary: str | Path | None = None,
                        **kw) -> tuple[OpenFaceAUEngine | None, str]:
    """The OpenFace engine for a recorded ``source``, or (None, reason) for a live one.

    For callers that offer ``--au-engine openface`` on any source (the GUI): None means
    "keep the embedded engine" and the reason (:data:`LIVE_REFUSAL`, :data:`NO_INPUT`) is for
    the user. An engine belongs to one input (``engine.source``): make a new one per file.
    Other problems (OpenFace missing or failing) still raise :class:`EngineUnavailable`.
    """
    if source is None:
        return None, NO_INPUT
    if is_live_source(source):
        return None, LIVE_REFUSAL
    return OpenFaceAUEngine(source, binary, **kw), ""
