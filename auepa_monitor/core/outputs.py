"""Checking output places before any work starts: one clear line instead of a traceback. No Qt."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import AuepaError
from .private_files import private_dir


class OutputError(AuepaError):
    """An output folder or file that cannot be created or written."""


def _dir_problem(path: Path) -> str:
    """'' when ``path`` is (now) a folder this process can write in, else why not (one line,
    said of the folder: "exists and is not a folder", "cannot be created: ...")."""
    if path.exists() and not path.is_dir():
        return "exists and is not a folder"
    try:
        private_dir(path)  # 0700 when made here
    except OSError as e:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        extra = f" ({blocker} is a file)" if blocker is not None else ""
        return f"cannot be created: {e.strerror or type(e).__name__}{extra}"
    try:  # really write: read-only mounts and ACLs are caught too, not only mode bits
        fd, probe = tempfile.mkstemp(prefix=".auepa-write-test-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        return f"cannot write in it: {e.strerror or type(e).__name__}"
    return ""


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """Make sure ``path`` is a folder this process can write in (created 0700 when missing).

    Raises :class:`OutputError` with one line: ``<what> <path>: <why>``.
    """
    path = Path(path)
    problem = _dir_problem(path)
    if problem:
        raise OutputError(f"{what} {path}: {problem}")
    return path


def check_output_file(path: str | Path, what: str = "output file") -> Path:
    """Make sure a file can be written at ``path`` (its folder created when missing)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{what} {path}: is a folder, not a file name")
    problem = _dir_problem(path.parent)
    if problem:
        problem = f"its folder {path.parent} {problem}"
    elif path.exists() and not os.access(path, os.W_OK):
        problem = "the file exists and cannot be overwritten"
    if problem:
        raise OutputError(f"{what} {path}: {problem}")
    return path
