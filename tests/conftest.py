"""Shared test fixtures: the real sample media in ../shared (relative to the repo root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FACES = SHARED / "data" / "faces"
CHILDREN = SHARED / "data" / "children"
OPENFACE_REF = FACES / "openface_ref"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"sample media not available: {path} is absent (../shared is not laid out here)")
    return path


@pytest.fixture
def faces_dir() -> Path:
    """``../shared/data/faces``: OpenFace's sample videos and images."""
    return _need(FACES)


@pytest.fixture
def children_dir() -> Path:
    """``../shared/data/children``: toddlers with a parent in view."""
    return _need(CHILDREN)


@pytest.fixture
def openface_ref_dir() -> Path:
    """OpenFace 2.2 reference CSVs for the sample media."""
    return _need(OPENFACE_REF)


@pytest.fixture(scope="session")
def face_tracker_factory():
    """Builds FaceTrackers (the real MediaPipe models from the installed package)."""
    from auepa_monitor.core.face import FaceTracker

    made = []

    def make(**kw):
        t = FaceTracker(**kw)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
