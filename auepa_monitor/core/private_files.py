"""Owner-only files and folders for patient data: folders 0700, files 0600, whatever the umask. No Qt.

Every folder the program creates for sessions, screenshots, caches and analysis outputs goes
through :func:`private_dir`, every file through :func:`open_private` / :func:`write_private_bytes`
/ :func:`write_private_text` (or :func:`make_private` for a file a library created). Modes are
given at creation (``os.open``/``os.mkdir``) and set again with ``chmod``, because the umask can
only remove rights: a file is never readable by another account, not even for a moment.

A folder that already exists is the user's (or an older version's): its rights are left alone,
and when group or others can enter it a one-line warning says so (once per folder and process).

Also :func:`mask_credentials`: a source description (e.g. a camera URL) with ``user:pass@``
masked as ``***@``, for anything written to a file or shown in a title.
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600

log = logging.getLogger(__name__)
_warned: set[str] = set()


def _warn_wide(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if os.name != "posix" or not mode & 0o077:
        return
    key = str(path.resolve())
    if key in _warned:
        return
    _warned.add(key)
    log.warning("warning: %s can be read by other accounts (mode %04o); files written there are owner-only, "
                "but their names are visible (chmod 700 the folder to hide them)", path, mode)


def private_dir(path: str | Path, warn: bool = True) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; return it.

    A folder that already exists keeps its rights; with ``warn`` a one-line warning is logged
    when group or others have any right to it.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if not missing:
        if not path.is_dir():
            raise NotADirectoryError(f"{path}: not a folder")
        if warn:
            _warn_wide(path)
        return path
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:  # made meanwhile by another thread or process: not ours to change
            if not d.is_dir():
                raise
            continue
        os.chmod(d, DIR_MODE)  # the umask may have removed rights the owner needs
    return path


def make_private(path: str | Path) -> Path:
    """Set a file this program wrote (through a library) to 0600, a folder to 0700."""
    path = Path(path)
    os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
    return path


def _open_fd(path: Path, append: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)
        else:  # Windows: only the read-only bit exists
            os.chmod(path, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_fd(path: str | Path, append: bool = False) -> int:
    """A raw write descriptor on ``path`` (created 0600; truncated unless ``append``)."""
    return _open_fd(Path(path), append)


def open_private(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
                 ) -> IO[Any]:
    """Like ``open(path, mode)`` for writing ("w", "wb", "a", "ab"), the file created 0600."""
    if mode not in ("w", "wb", "a", "ab"):
        raise ValueError(f"open_private: mode {mode!r} not supported")
    fd = _open_fd(Path(path), append=mode.startswith("a"))
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=encoding, newline=newline)


def write_private_bytes(path: str | Path, data: bytes) -> Path:
    with open_private(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_private_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with open_private(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(path)


def copy_private(src: str | Path, dst: str | Path) -> Path:
    """Copy a file's bytes to ``dst`` (created 0600; the source's rights are not copied)."""
    import shutil

    with open(src, "rb") as i, open_private(dst, "wb") as o:
        shutil.copyfileobj(i, o, 1 << 20)
    return Path(dst)


class PrivateBuffer(io.BytesIO):
    """Collects bytes in memory (for encoders that want a file object); ``save`` writes them 0600."""

    def save(self, path: str | Path) -> Path:
        return write_private_bytes(path, self.getvalue())


# ------------------------------------------------------------------------------- credentials

_CRED_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<cred>[^/@\s]*)@")


def mask_credentials(text: Any) -> str:
    """``rtsp://user:pass@host/x`` -> ``rtsp://***@host/x``; anything else unchanged (as a string)."""
    return _CRED_RE.sub(lambda m: f"{m['scheme']}***@", str(text))
