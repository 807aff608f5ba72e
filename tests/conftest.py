"""Shared test fixtures: the real sample media in ../shared (relative to the repo root)."""

from __future__ import annotations

import os
import stat
import sys
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


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """``../shared/data/faces``: OpenFace's sample videos and images."""
    return _need(FACES)


@pytest.fixture(scope="session")
def children_dir() -> Path:
    """``../shared/data/children``: toddlers with a parent in view."""
    return _need(CHILDREN)


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="module")
def tracker(face_tracker_factory):
    """One real FaceTracker per test module (tests set or clear its target themselves)."""
    return face_tracker_factory()


OPENFACE_STANDIN = Path(__file__).resolve().parent / "fixtures" / "fake_feature_extraction.py"


def make_openface_install(root: Path, cen: bool = False) -> Path:
    """An OpenFace-like install under ``root``: bin/FeatureExtraction is the stand-in executable
    (tests/fixtures/fake_feature_extraction.py, process handling only), with bin/model and
    bin/AU_predictors; CEN patch experts only when ``cen``."""
    b = root / "bin"
    (b / "model" / "patch_experts").mkdir(parents=True)
    (b / "AU_predictors").mkdir()
    (b / "model" / "main_clnf_general.txt").write_text("stand-in model file\n")
    (b / "model" / "main_ceclm_general.txt").write_text("stand-in model file\n")
    (b / "AU_predictors" / "main_dynamic_svms.txt").write_text("stand-in model file\n")
    if cen:
        (b / "model" / "patch_experts" / "cen_patches_0.25_of.dat").write_bytes(b"\0")
    exe = b / "FeatureExtraction"
    exe.write_text(f'#!/bin/sh\nFAKE_OF_EXE_DIR="$(dirname "$0")" exec "{sys.executable}" "{OPENFACE_STANDIN}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


@pytest.fixture(scope="module")
def pipeline():
    """One real Pipeline per test module (models load once)."""
    from auepa_monitor.core.pipeline import Pipeline

    p = Pipeline()
    yield p
    p.close()


@pytest.fixture
def make_window(qtbot, pipeline, tmp_path):
    """Builds MainWindows with temporary settings and session folders; joins their threads after."""
    from PySide6.QtCore import QSettings

    from auepa_monitor.ui.main_window import MainWindow

    made = []

    def make(settings_file: Path | None = None, **kw):
        s = QSettings(str(settings_file or tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        w = MainWindow(pipeline, s, sound=False, sessions_root=tmp_path / "sessions", **kw)
        qtbot.addWidget(w)
        w.resize(1200, 800)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()  # joins the OpenFace job, capture and processing threads even when the test failed


@pytest.fixture(scope="module")
def cnn_checkpoint(tmp_path_factory) -> Path:
    """A ResNet18 really trained here for a few steps (bright square = strong pain), saved with its card."""
    return _square_cnn(tmp_path_factory, "resnet18")


@pytest.fixture(scope="module")
def slow_cnn_checkpoint(tmp_path_factory) -> Path:
    """As ``cnn_checkpoint`` but a ResNet50, whose Grad-CAM on one CPU thread takes several video frames."""
    return _square_cnn(tmp_path_factory, "resnet50")


def _square_cnn(tmp_path_factory, arch: str) -> Path:
    import torch
    from torch import nn

    from auepa_monitor.model_card import ModelCard
    from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, build_pain_cnn, save_checkpoint

    torch.manual_seed(0)
    model = build_pain_cnn(arch)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(3):
        x = torch.randn(8, 3, 64, 64) * 0.5
        y = torch.tensor([0, 3] * 4)
        x[1::2, :, 20:44, 20:44] += 2.0
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    card = ModelCard(name=f"square {arch.replace('resnet', 'ResNet')} (test)", kind="pain_cnn", trained_on_infant_pain=False,
                     training_data="24 synthetic noise images (test)", output_scale="4 pain levels",
                     created="2026-11-26", built_by="tests/conftest.py")
    path = tmp_path_factory.mktemp("cnn") / "square.pt"
    save_checkpoint(path, model, arch, PAIN_CLASSES, card, extra={"training": {"epochs": 1, "train_samples": 24,
                                                                                     "steps": 3}})
    return path


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray instance: 2 CPUs, on 127.0.0.1 only, no dashboard, no usage statistics."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray is imported: Ray listens on 127.0.0.1 only
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    yield ray
    ray.shutdown()
