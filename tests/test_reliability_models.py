"""Bad model files: a pain model that is truncated, of the wrong architecture, of another kind
(a CNN checkpoint given as the regressor) or without its card gets a clear message and the
program falls back to the shipped prior, saying so. A bad face model stops the program with a
clear one-line error and a non-zero exit, no traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.core.scoring import DEFAULT_MODEL, PainScorer
from auepa_monitor.model_card import ModelCard, card_path, models_dir

REPO = Path(__file__).resolve().parent.parent
PRIOR = models_dir() / DEFAULT_MODEL


def with_card(path: Path) -> Path:
    shutil.copy(card_path(PRIOR), card_path(path))
    return path


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    data = PRIOR.read_bytes()
    m: dict[str, Path] = {}
    m["truncated"] = with_card(d / "truncated.pt")
    m["truncated"].write_bytes(data[: len(data) // 2])
    blob = torch.load(PRIOR, map_location="cpu", weights_only=True)
    m["wrong_hidden"] = with_card(d / "wrong_hidden.pt")
    torch.save({**blob, "hidden": blob["hidden"] + 5}, m["wrong_hidden"])
    m["wrong_inputs"] = with_card(d / "wrong_inputs.pt")
    torch.save({**blob, "core_aus": blob["core_aus"][:3], "engagement": blob["engagement"][:3]}, m["wrong_inputs"])
    m["no_card"] = d / "no_card.pt"
    shutil.copy(PRIOR, m["no_card"])
    m["bad_card"] = d / "bad_card.pt"
    shutil.copy(PRIOR, m["bad_card"])
    card_path(m["bad_card"]).write_text('{"name": "x", "kind": ')
    m["text"] = with_card(d / "text.pt")
    m["text"].write_text("not a model\n")
    # A real end-to-end CNN checkpoint (issue 4's format) given where the regressor belongs.
    from auepa_monitor.nets.pain_cnn import build_pain_cnn, save_checkpoint

    m["cnn"] = d / "cnn.pt"
    card = ModelCard(name="test CNN", kind="pain_cnn", trained_on_infant_pain=False, training_data="none",
                     output_scale="4 pain levels", created="2026-01-01", built_by="test")
    save_checkpoint(m["cnn"], build_pain_cnn("resnet18"), "resnet18", ["no", "weak", "mid", "strong"], card)
    m["absent"] = d / "absent.pt"
    return m


EXPECT = {
    "truncated": "cannot be read (corrupt or not a torch file)",
    "wrong_hidden": "does not fit the regressor architecture: Error(s) in loading state_dict for PainRegressor: size mismatch",
    "wrong_inputs": "does not fit the regressor architecture",
    "no_card": "model card no_card.card.json is missing",
    "bad_card": "model card bad_card.card.json is not valid",
    "text": "cannot be read",
    "cnn": "is not an AuE-IPA pain regressor",
    "absent": "does not exist",
}


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_bad_pain_model_named_by_the_user_is_an_error(bad_models: dict[str, Path], name: str) -> None:
    # Issue 12, defect 4: a model the user names that cannot load is an error, never a silent
    # switch to the prior (which is what the user did not ask for).
    with pytest.raises(ModelFileError) as e:
        PainScorer(bad_models[name])
    assert EXPECT[name] in str(e.value) and "\n" not in str(e.value)


def test_missing_default_prior_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    from auepa_monitor.nets.pain_regressor import PainRegressor

    with pytest.raises(ModelFileError, match="does not exist"):
        PainRegressor.load(tmp_path / DEFAULT_MODEL)


def analyze(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auepa_monitor", "analyze", *args, "--quiet"],
                          capture_output=True, text=True, timeout=180, cwd=REPO, env={**os.environ, **(env or {})})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["truncated", "cnn", "no_card", "absent"])
def test_analyze_with_bad_model_is_an_error(bad_models: dict[str, Path], name: str,
                                            faces_dir: Path, tmp_path: Path) -> None:
    # Issue 12, defect 4: exit 2 with one line, before any input runs; nothing written.
    p = analyze([str(faces_dir / "sample3.jpg"), "--out", str(tmp_path / "o"), "--model", str(bad_models[name])])
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and EXPECT[name] in errors[0] and bad_models[name].stem in errors[0], p.stderr
    assert not (tmp_path / "o" / "sample3.summary.json").exists()


@pytest.fixture(scope="module")
def bad_face_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from auepa_monitor.core.face import find_face_model

    good = find_face_model()
    d = tmp_path_factory.mktemp("face")
    m = {"text": d / "text.task", "truncated": d / "truncated.task", "no_detector": d / "no_detector.task",
         "corrupt_landmarker": d / "corrupt_landmarker.task", "absent": d / "absent.task"}
    m["text"].write_text("not a model\n")
    m["truncated"].write_bytes(good.read_bytes()[:100_000])
    with zipfile.ZipFile(good) as src:
        with zipfile.ZipFile(m["no_detector"], "w") as z:
            for n in src.namelist():
                if n != "face_detector.tflite":
                    z.writestr(n, src.read(n))
        with zipfile.ZipFile(m["corrupt_landmarker"], "w") as z:
            for n in src.namelist():
                data = src.read(n)
                z.writestr(n, data[: len(data) // 3] if n == "face_landmarks_detector.tflite" else data)
    return m


FACE_EXPECT = {
    "text": "is not a MediaPipe face_landmarker.task bundle",
    "truncated": "is not a MediaPipe face_landmarker.task bundle",
    "no_detector": "face_detector.tflite",
    "corrupt_landmarker": "cannot load face model",
    "absent": "which is not a file",
}


@pytest.mark.parametrize("name", sorted(FACE_EXPECT))
def test_bad_face_model_is_a_clear_error(bad_face_models: dict[str, Path], name: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from auepa_monitor.core.face import MODEL_ENV, FaceTracker

    monkeypatch.setenv(MODEL_ENV, str(bad_face_models[name]))
    with pytest.raises(ModelFileError) as e:
        FaceTracker()
    assert FACE_EXPECT[name] in str(e.value) and "\n" not in str(e.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["corrupt_landmarker", "absent"])
def test_analyze_with_bad_face_model_exits_with_one_clear_error(bad_face_models: dict[str, Path], name: str,
                                                                faces_dir: Path, tmp_path: Path) -> None:
    p = analyze([str(faces_dir / "sample3.jpg"), str(faces_dir / "sample1.jpg"), "--out", str(tmp_path)],
                env={"AUEPA_FACE_MODEL": str(bad_face_models[name])})
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and FACE_EXPECT[name] in errors[0], p.stderr  # said once, not per input
    assert not list(tmp_path.glob("*.csv"))
