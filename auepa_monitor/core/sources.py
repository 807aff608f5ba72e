"""Frame sources: video files, still images and image sequences, cameras and network streams. No Qt.

Every source yields :class:`Frame` records (BGR uint8, 1-based frame number, timestamp in
seconds). Opening checks the input and raises :class:`SourceError` with a one-line reason.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import SourceError
from .private_files import mask_credentials

# A damaged video makes FFmpeg print a line per broken macroblock (thousands per file); the
# program reports unreadable input itself in one line, so FFmpeg only speaks on fatal errors
# (AV_LOG_FATAL = 8). Read by OpenCV when its FFmpeg backend first opens a file.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")

VIDEO_EXTS = {".avi", ".mp4", ".mov", ".mkv", ".wmv", ".m4v", ".mpg", ".mpeg", ".webm", ".flv", ".3gp"}
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``image`` is (H, W, 3) uint8 BGR; ``index`` 1-based; ``timestamp`` seconds."""

    index: int
    timestamp: float
    image: np.ndarray


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Any image OpenCV reads (8/16-bit, gray, BGRA) -> (H, W, 3) uint8 BGR."""
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] == 1:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(img)


class Source:
    """Common interface. ``live`` sources have no length and cannot seek."""

    name: str = ""
    live: bool = False
    fps: float = 30.0
    frame_count: int = 0  # 0 when unknown (live)
    size: tuple[int, int] = (0, 0)
    #: Set when ``read`` returned None before the end the file announced: why, in one line
    #: (a truncated or corrupt video). '' while reading and after a complete file.
    incomplete: str = ""

    def read(self) -> Frame | None:
        """Next frame, or None at the end of a file (see ``incomplete`` for an early end)."""
        raise NotImplementedError

    def seek(self, index: int) -> None:
        """Make the next ``read`` return frame ``index`` (1-based)."""
        raise SourceError(f"{self.name} cannot seek")

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.is_file() and path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty (0 bytes)")


class VideoFileSource(Source):
    """A recorded video read with OpenCV (FFmpeg). Timestamps come from the container (VFR safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        _check_file(self.path)
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            raise SourceError(f"{self.path}: not a video OpenCV can open (unsupported format or corrupt file)")
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.path}: no frame could be decoded (corrupt or truncated video)")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self.frame_count = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.size = (first.shape[1], first.shape[0])
        self._pending: np.ndarray | None = first
        self._pending_t = self._pos_seconds(0)
        self._next = 1
        self._last_t = -1.0

    def _pos_seconds(self, index0: int) -> float:
        ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
        if ms > 0 or index0 == 0:
            return max(0.0, ms / 1000.0)
        return index0 / self.fps

    def read(self) -> Frame | None:
        if self._pending is not None:
            img, t = self._pending, self._pending_t
            self._pending = None
        else:
            ok, img = self._cap.read()
            if not ok or img is None:
                self._check_end(self._next - 1)
                return None
            t = self._pos_seconds(self._next - 1)
        if t <= self._last_t:  # broken container timestamps: keep time moving forwards
            t = self._last_t + 1.0 / self.fps
        self._last_t = t
        frame = Frame(self._next, t, to_bgr8(img))
        self._next += 1
        return frame

    def _check_end(self, last: int) -> None:
        """The decoder stopped after frame ``last``: an early end is a truncated or corrupt file.

        Containers without a frame index (ASF/WMV) only estimate their length from the duration
        (OpenFace's changeLighting.wmv announces 90 frames and holds 88), so up to 3 frames or
        3 % short counts as complete.
        """
        n = self.frame_count
        if n and n - last > max(3, n * 3 // 100):
            self.incomplete = (f"{self.path}: the video ends at frame {last} of the {n} its container announces "
                               f"(truncated or corrupt file)")

    def seek(self, index: int) -> None:
        index = max(1, int(index))
        self.incomplete = ""
        if self.frame_count:
            index = min(index, self.frame_count)
        self._pending = None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index - 1)
        self._next = index
        self._last_t = -1.0

    @property
    def position(self) -> int:
        """1-based number of the frame the next ``read`` returns."""
        return self._next

    def close(self) -> None:
        self._cap.release()


class ImageSource(Source):
    """A still image, or a folder of images played as a sequence (sorted by name)."""

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.name = self.path.name
        _check_file(self.path)
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
            if not self.files:
                raise SourceError(f"{self.path}: the folder holds no images")
        else:
            self.files = [self.path]
        self.fps = fps
        self.frame_count = len(self.files)
        first = self._load(self.files[0])
        self.size = (first.shape[1], first.shape[0])
        self._next = 1

    def _load(self, p: Path) -> np.ndarray:
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            if not p.is_file():  # e.g. removed from the folder while the sequence plays
                raise SourceError(f"{p}: no such file (it was removed after the folder was opened)")
            raise SourceError(f"{p}: not an image OpenCV can read (unsupported format or corrupt file)")
        return to_bgr8(img)

    def read(self) -> Frame | None:
        if self._next > self.frame_count:
            return None
        img = self._load(self.files[self._next - 1])
        f = Frame(self._next, (self._next - 1) / self.fps, img)
        self._next += 1
        return f

    def seek(self, index: int) -> None:
        self._next = min(max(1, int(index)), self.frame_count)

    @property
    def position(self) -> int:
        return self._next


class _LiveCapture(Source):
    """An OpenCV capture read live: frames numbered from 1, times in seconds since the open."""

    live = True

    def _start(self) -> None:
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 1.0 <= fps <= 240.0 else 30.0
        self._t0 = time.monotonic()
        self._n = 0

    def _grab(self) -> np.ndarray | None:
        ok, img = self._cap.read()
        return img if ok else None

    def read(self) -> Frame | None:
        img = self._grab()
        if img is None:
            return None
        self._n += 1
        return Frame(self._n, time.monotonic() - self._t0, to_bgr8(img))

    def close(self) -> None:
        self._cap.release()


class CameraSource(_LiveCapture):
    """A live camera by OpenCV index. ``read`` returns None when the camera stops delivering."""

    live = True

    def __init__(self, index: int) -> None:
        self.index = int(index)
        self.name = f"camera {self.index}"
        self._cap = cv2.VideoCapture(self.index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"camera {self.index}: not found or in use by another program")
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.size = (w, h)
        self._start()


#: URL schemes read as network streams through OpenCV's FFmpeg backend.
STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "udp", "tcp", "srt")

#: Per-scheme FFmpeg options for a low-latency live view (OPENCV_FFMPEG_CAPTURE_OPTIONS syntax:
#: ``key;value`` pairs joined by ``|``): RTSP over TCP (no lost UDP packets, works through
#: firewalls), no demuxer buffering, and a short probe so the first frame comes quickly.
STREAM_OPTIONS = {
    "rtsp": "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay|max_delay;500000|analyzeduration;1000000|"
            "probesize;1000000",
    "rtsps": "rtsp_transport;tcp|fflags;nobuffer|flags;low_delay|max_delay;500000|analyzeduration;1000000|"
             "probesize;1000000",
    "": "fflags;nobuffer|flags;low_delay|analyzeduration;1000000|probesize;1000000",
}

_ENV_LOCK = threading.Lock()  # OPENCV_FFMPEG_CAPTURE_OPTIONS is process-wide: one open at a time sets it


def is_stream_url(spec: object) -> bool:
    """True for ``rtsp://``, ``http(s)://`` ... URLs (see :data:`STREAM_SCHEMES`)."""
    if not isinstance(spec, str):
        return False
    scheme, sep, _ = spec.strip().partition("://")
    return bool(sep) and scheme.lower() in STREAM_SCHEMES


def is_device_path(spec: object) -> bool:
    """True for a V4L2 device path such as ``/dev/video0``."""
    return isinstance(spec, (str, Path)) and str(spec).startswith("/dev/video")


class StreamSource(_LiveCapture):
    """A live network stream (RTSP, HTTP MJPEG/HLS ...) or a V4L2 device path, read through FFmpeg.

    Low latency: per-scheme FFmpeg options (:data:`STREAM_OPTIONS`, RTSP over TCP), a capture
    buffer of one frame, and open/read timeouts so a dead server fails instead of hanging. The
    newest frame wins when wrapped in :class:`~auepa_monitor.core.reconnect.ReconnectingSource`
    (its reader drains the stream continuously and keeps only the latest frames): that is how
    :func:`open_source` returns it. ``name`` is the URL with any ``user:password@`` masked.
    """

    def __init__(self, url: str, open_timeout: float = 10.0, read_timeout: float = 5.0) -> None:
        self.url = str(url).strip()
        self.name = mask_credentials(self.url)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout * 1000)]
        if is_device_path(self.url):
            self._cap = cv2.VideoCapture(self.url, cv2.CAP_V4L2, params)
            if not self._cap.isOpened():
                self._cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        else:
            scheme = self.url.partition("://")[0].lower()
            opts = STREAM_OPTIONS.get(scheme, STREAM_OPTIONS[""])
            with _ENV_LOCK:  # read by the FFmpeg backend during this open only
                old = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS")
                os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = opts
                try:
                    self._cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
                finally:
                    if old is None:
                        os.environ.pop("OPENCV_FFMPEG_CAPTURE_OPTIONS", None)
                    else:
                        os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = old
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{self.name}: the stream cannot be opened (server down, wrong address or "
                              f"credentials, or an unsupported format)")
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.name}: the stream opened but delivered no frame")
        self.size = (first.shape[1], first.shape[0])
        self._pending: np.ndarray | None = first  # the frame the open check read, delivered first
        self._start()

    def _grab(self) -> np.ndarray | None:
        if self._pending is not None:
            img, self._pending = self._pending, None
            return img
        return super()._grab()


def list_cameras(max_index: int = 8) -> list[int]:
    """Indices of cameras that open (probes /dev/video* on Linux; tries 0..max_index elsewhere)."""
    import glob
    import sys

    if sys.platform.startswith("linux"):
        found = sorted(int(p.removeprefix("/dev/video")) for p in glob.glob("/dev/video*")
                       if p.removeprefix("/dev/video").isdigit())
    else:
        found = list(range(max_index))
    ok = []
    for i in found:
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            ok.append(i)
        cap.release()
    return ok


def open_source(spec: str | int | Path) -> Source:
    """Open a camera (an integer index), a stream URL or V4L2 device path (a :class:`StreamSource`;
    :func:`auepa_monitor.core.streams.open_live` gives live sources that reconnect by themselves)
    or a file/folder by path, picking the right reader."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    if is_stream_url(spec) or is_device_path(spec):
        return StreamSource(str(spec).strip())
    p = Path(spec)
    _check_file(p)
    if p.is_dir() or p.suffix.lower() in IMAGE_EXTS:
        return ImageSource(p)
    if p.suffix.lower() in VIDEO_EXTS:
        return VideoFileSource(p)
    # Unknown extension: let the content decide (video first, then image).
    try:
        return VideoFileSource(p)
    except SourceError:
        if cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None:
            return ImageSource(p)
        raise SourceError(f"{p}: neither a video nor an image this program can read") from None
