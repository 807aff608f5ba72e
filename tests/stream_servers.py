"""Real stream servers on loopback for the IP-camera tests: ffmpeg's HTTP MJPEG server and
GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0 run by the system python3).

Both serve the sample video with real faces. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"

#: The RTSP server, run by the system python3 (python3-gi is not in the venv): serves a folder of
#: JPEG frames (looped forever) as an RTP/JPEG stream at rtsp://127.0.0.1:PORT/cam, with basic
#: authentication when a user and password are given.
RTSP_SERVER = r'''
import sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, pattern, fps = sys.argv[1], sys.argv[2], sys.argv[3]
user = sys.argv[4] if len(sys.argv) > 4 else ""
password = sys.argv[5] if len(sys.argv) > 5 else ""
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f"( multifilesrc location={pattern} start-index=1 loop=true caps=image/jpeg,framerate={fps}/1 "
                   f"! jpegparse ! identity sync=true ! rtpjpegpay name=pay0 pt=26 )")
factory.set_shared(True)
if user:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    perm = GstRtspServer.RTSPPermissions()
    perm.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    perm.add_permission_for_role("user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(perm)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def ffmpeg_missing() -> str:
    return "" if shutil.which("ffmpeg") else "ffmpeg is not installed (apt-get install ffmpeg; .ci/run does)"


def rtsp_missing() -> str:
    """Why the RTSP server cannot run here ('' when it can)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is absent"
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                        "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
                        "assert all(Gst.ElementFactory.find(e) for e in ('multifilesrc', 'jpegparse', 'rtpjpegpay'))"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        return ("GStreamer's RTSP server is not installed (apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 "
                "gstreamer1.0-plugins-good; .ci/run does): " + (r.stderr.strip().splitlines() or ["?"])[-1])
    return ""


class _ServerProcess:
    """A server run as a child process; ``stop`` kills it (a server that dies mid-stream)."""

    proc: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


class MjpegServer(_ServerProcess):
    """``ffmpeg -re -stream_loop -1 -i VIDEO -c:v mjpeg -f mpjpeg -listen 1 http://127.0.0.1:PORT/``.

    ffmpeg's HTTP server serves one client and exits when it leaves; :meth:`start` again to
    serve the next (the "restarted server").
    """

    def __init__(self, video: Path, port: int | None = None) -> None:
        self.video = video
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> MjpegServer:
        self.proc = subprocess.Popen(["ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1",
                                      "-i", str(self.video), "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg",
                                      "-listen", "1", self.url], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # ffmpeg opens its input, then listens
        return self



class RtspServer(_ServerProcess):
    """GStreamer's RTSP server (system python3) looping JPEG frames of a video."""

    def __init__(self, frames_dir: Path, fps: int = 15, user: str = "", password: str = "",
                 port: int | None = None) -> None:
        self.frames_dir = frames_dir
        self.fps = fps
        self.user, self.password = user, password
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, with_credentials: bool = True) -> str:
        cred = f"{self.user}:{self.password}@" if self.user and with_credentials else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/cam"

    def start(self) -> RtspServer:
        args = [SYSTEM_PYTHON, "-c", RTSP_SERVER, str(self.port), str(self.frames_dir / "f_%05d.jpg"), str(self.fps)]
        if self.user:
            args += [self.user, self.password]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "ready" not in line or not wait_port(self.port):
            self.stop()
            raise RuntimeError(f"the RTSP server did not start: {line!r}")
        return self



def jpeg_frames(video: Path, out: Path, max_frames: int = 300) -> Path:
    """The video's frames as JPEG files f_00001.jpg ... (what the RTSP server loops)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(video), "-frames:v",
                    str(max_frames), "-q:v", "4", str(out / "f_%05d.jpg")], check=True, timeout=120)
    return out
