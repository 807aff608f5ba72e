"""The embedded AU engine: calibration file handling, 0-5 range, AU27/AU43 geometry, and
agreement with OpenFace 2.2 on the video the calibration never saw (default.wmv)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from auepa_monitor.core import au_engine as E
from auepa_monitor.core import landmarks as L
from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.core.records import REPORTED_AUS, FaceFit, HeadPose
from auepa_monitor.model_card import ModelCard, card_path, models_dir

# Held-out floors: a little below what training/fit_au_calibration.py measured on default.wmv
# (Pearson r 0.81 AU06, 0.50 AU07, 0.92 AU10, 0.91 AU12, 0.91 AU25, 0.89 AU26, 0.83 AU45;
# MAE 0.29, 0.35, 0.70, 0.36, 0.44, 0.31, 0.14). AU01, AU02, AU04, AU09 and AU20 barely vary in
# that reference (std <= 0.2 on 0-5) and reach r < 0.3: no floor; the model card lists them.
R_FLOOR = {6: 0.75, 7: 0.4, 10: 0.85, 12: 0.85, 25: 0.85, 26: 0.8, 45: 0.75}
MAE_CEIL = {6: 0.4, 7: 0.45, 10: 0.8, 12: 0.5, 25: 0.6, 26: 0.45, 45: 0.3}


# -- synthetic landmark sets ------------------------------------------------------------------
def synthetic_face(gap_px: float = 0.0, lid_px: float = 5.0, roll_deg: float = 0.0) -> np.ndarray:
    """(478, 3) landmarks of a frontal face, eye distance 60 px, only the indices the engine reads.

    ``gap_px``: inner-lip gap; ``lid_px``: half the lid gap of each eye (5 = open, 0 = closed);
    ``roll_deg``: rotation of the whole face in the image plane.
    """
    p = np.zeros((L.N_LANDMARKS, 3), dtype=np.float32)

    def put(i: int, x: float, y: float) -> None:
        p[i, :2] = (x, y)

    for (outer, inner, up, low), cx, sgn in ((L.RIGHT_EYE, 100, -1), (L.LEFT_EYE, 160, 1)):
        put(outer, cx + sgn * 15, 100)
        put(inner, cx - sgn * 15, 100)
        put(up, cx, 100 - lid_px)
        put(low, cx, 100 + lid_px)
    for brow, cx, sgn in ((L.RIGHT_BROW, 100, -1), (L.LEFT_BROW, 160, 1)):
        for k, i in enumerate(brow):  # outer to inner
            put(i, cx + sgn * (20 - 10 * k), 80)
    put(L.NOSE_TIP, 130, 140)
    put(L.NOSE_ALA_RIGHT, 118, 145)
    put(L.NOSE_ALA_LEFT, 142, 145)
    put(L.SUBNASALE, 130, 150)
    put(L.UPPER_LIP_OUTER, 130, 160)
    put(L.UPPER_LIP_INNER, 130, 166)
    put(L.LOWER_LIP_INNER, 130, 166 + gap_px)
    put(L.LOWER_LIP_OUTER, 130, 172 + gap_px)
    put(L.LIP_CORNER_RIGHT, 108, 167)
    put(L.LIP_CORNER_LEFT, 152, 167)
    put(L.CHIN, 130, 215 + gap_px)
    if roll_deg:
        a = math.radians(roll_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=np.float32)
        c = np.array([130, 140], dtype=np.float32)
        p[:, :2] = (p[:, :2] - c) @ rot.T + c
    return p


def fit_of(pts: np.ndarray, blendshapes: dict[str, float] | None = None, quality: float = 1.0) -> FaceFit:
    return FaceFit(box=(70.0, 60.0, 120.0, 170.0), landmarks=pts, blendshapes=blendshapes or {},
                   pose=HeadPose(0.0, 0.0, 0.0), quality=quality)


@pytest.fixture(scope="module")
def engine() -> E.EmbeddedAUEngine:
    return E.EmbeddedAUEngine()


# -- AU27 / AU43 geometry ---------------------------------------------------------------------
def test_au27_rises_as_the_mouth_opens_beyond_a_jaw_drop(engine):
    engine.reset()
    gaps = np.linspace(0, 66, 23)  # 0 to 1.1 eye distances
    au27 = [engine.estimate(fit_of(synthetic_face(gap_px=g)))[27] for g in gaps]
    au25 = [engine.estimate(fit_of(synthetic_face(gap_px=g)))[25] for g in gaps]
    assert au27[0] == 0.0
    assert np.all(np.diff(au27) >= 0) and np.all(np.diff(au25) >= 0)
    # A plain jaw drop (gap up to ~0.35 eye distances on the sample media) is not a mouth stretch.
    assert all(a == 0.0 for a, g in zip(au27, gaps, strict=True) if g / 60 <= 0.45)
    assert au27[-1] == 5.0
    assert au25[-1] > au25[0]


def test_au43_rises_as_the_eyes_close_with_and_without_baseline(engine):
    lids = np.linspace(5.0, 0.0, 11)  # eye aspect ratio 0.33 -> 0
    engine.reset()
    cold = [engine.estimate(fit_of(synthetic_face(lid_px=v)))[43] for v in lids]
    assert cold[0] == 0.0 and cold[-1] == 5.0 and np.all(np.diff(cold) >= 0)
    # After the person's open eyes have filled the baseline, thresholds follow their open-eye ratio.
    engine.reset()
    for _ in range(40):
        engine.estimate(fit_of(synthetic_face(lid_px=5.0)))
    warm = [engine.estimate(fit_of(synthetic_face(lid_px=v)))[43] for v in lids]
    assert warm[0] == 0.0 and warm[-1] == 5.0 and np.all(np.diff(warm) >= 0)
    engine.reset()


def test_narrow_open_eyes_are_not_closure_once_the_baseline_knows_them(engine):
    engine.reset()
    narrow = fit_of(synthetic_face(lid_px=3.3))  # ear 0.22, the narrow-eyed person of multi_face.avi
    first = engine.estimate(narrow)[43]
    for _ in range(40):
        engine.estimate(narrow)
    assert engine.estimate(narrow)[43] == 0.0
    assert first >= 0.0
    engine.reset()


@pytest.mark.parametrize("roll", [-30.0, 25.0])
def test_geometry_aus_do_not_move_with_head_roll(engine, roll):
    engine.reset()
    for gap, lid in ((45.0, 5.0), (10.0, 1.0)):
        upright = engine.estimate(fit_of(synthetic_face(gap, lid)))
        engine.reset()
        rolled = engine.estimate(fit_of(synthetic_face(gap, lid, roll)))
        engine.reset()
        assert rolled[27] == pytest.approx(upright[27], abs=1e-3)
        assert rolled[43] == pytest.approx(upright[43], abs=1e-3)


def test_geometry_functions_work_on_any_landmark_set():
    # The OpenFace backend feeds its own 68 points: the functions take plain coordinates.
    assert E.mouth_gap(np.array([0.0, 0.0]), np.array([0.0, 30.0]), 60.0) == pytest.approx(0.5)
    assert E.eye_aspect_ratio([0, 0], [30, 0], [15, -5], [15, 5]) == pytest.approx(1 / 3)
    assert E.au27_from_geometry(0.2) == 0.0 < E.au27_from_geometry(0.7) < E.au27_from_geometry(0.9)
    assert E.au43_from_geometry(0.33) == 0.0 < E.au43_from_geometry(0.12) < E.au43_from_geometry(0.03)
    assert E.au43_from_geometry(0.2, open_ear=0.22) == 0.0  # narrow but open for this person


# -- range -------------------------------------------------------------------------------------
def test_intensities_always_within_0_5_for_every_reported_au(engine):
    rng = np.random.default_rng(0)
    names = [f"bs_{n}" for n in ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft",
                                 "browDownRight", "cheekSquintLeft", "cheekSquintRight", "eyeSquintLeft",
                                 "eyeSquintRight", "noseSneerLeft", "noseSneerRight", "mouthUpperUpLeft",
                                 "mouthUpperUpRight", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
                                 "mouthStretchRight", "jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight")]
    engine.reset()
    for k in range(200):
        pts = synthetic_face(gap_px=rng.uniform(0, 120), lid_px=rng.uniform(0, 12), roll_deg=rng.uniform(-60, 60))
        pts[:, :2] += rng.normal(0, 15 if k % 2 else 1, size=(pts.shape[0], 2)).astype(np.float32)
        bs = {n: float(rng.choice([0.0, 1.0, rng.uniform()])) for n in names}
        out = engine.estimate(fit_of(pts, bs, quality=float(rng.uniform())))
        assert set(out) == set(REPORTED_AUS)
        assert all(0.0 <= v <= 5.0 and math.isfinite(v) for v in out.values()), out
    engine.reset()


# -- calibration file ---------------------------------------------------------------------------
def _shipped() -> dict:
    return json.loads((models_dir() / E.CALIBRATION_FILE).read_text(encoding="utf-8"))


def test_shipped_calibration_loads_and_has_a_card():
    maps = E.load_calibration(models_dir() / E.CALIBRATION_FILE)
    assert set(maps) == set(REPORTED_AUS) - E.GEOMETRY_AUS
    card = ModelCard.load(card_path(models_dir() / E.CALIBRATION_FILE))
    assert card.kind == "au_calibration" and card.trained_on_infant_pain is False
    assert card.extra["test"] == ["default.wmv"] and "default.wmv" not in " ".join(card.extra["train"])
    for au in R_FLOOR:
        assert f"AU{au:02d}" in card.metrics["held_out_engine"]


def test_missing_calibration_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="missing"):
        E.EmbeddedAUEngine(tmp_path / "nope.json")
    with pytest.raises(ModelFileError, match="missing"):
        E.EmbeddedAUEngine(tmp_path)  # a folder is not a calibration file


def _broken(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "au_calibration.json"
    p.write_text(text, encoding="utf-8")
    return p


def _edited(edit) -> str:
    d = _shipped()
    edit(d)
    return json.dumps(d)


@pytest.mark.parametrize("text, why", [
    ("", "empty"),
    ('{"aus": {"6": {"features": ["bs_cheekSquintLeft"]', "truncated"),
    ("[1, 2, 3]", "not an object"),
    ('{"aus": []}', "aus not a mapping"),
    (_edited(lambda d: d["aus"]["6"].pop("coef")), "no coef"),
    (_edited(lambda d: d["aus"]["6"]["coef"].append(1.0)), "length mismatch"),
    (_edited(lambda d: d["aus"].pop("12")), "AU12 missing"),
    (_edited(lambda d: d["aus"]["6"].update(intercept="high")), "intercept not a number"),
    (_edited(lambda d: d["aus"]["6"]["coef"].__setitem__(0, float("nan"))), "NaN coefficient"),
    (_edited(lambda d: d["aus"]["6"].update(baseline=["not_a_feature"])), "baseline on an unused feature"),
    (_edited(lambda d: d["aus"].update(x=d["aus"]["6"])), "AU key not a number"),
])
def test_malformed_calibration_is_a_model_file_error(tmp_path, text, why):
    p = _broken(tmp_path, text)
    with pytest.raises(ModelFileError, match="not valid"):
        E.EmbeddedAUEngine(p)


def test_binary_garbage_calibration_is_a_model_file_error(tmp_path):
    p = tmp_path / "au_calibration.json"
    p.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ModelFileError, match="not valid"):
        E.load_calibration(p)


# -- agreement with OpenFace on the held-out video ------------------------------------------------
def _read_openface(path: Path) -> dict[str, np.ndarray]:
    lines = path.read_text(encoding="utf-8").splitlines()
    head = [c.strip() for c in lines[0].split(",")]  # OpenFace headers may carry leading spaces
    data = np.array([[float(x) for x in ln.split(",")] for ln in lines[1:] if ln.strip()])
    return {k: data[:, i] for i, k in enumerate(head)}


_RUNS: dict[Path, tuple] = {}


@pytest.fixture
def default_run(faces_dir, openface_ref_dir, face_tracker_factory):
    """Real tracker + engine over default.wmv, frame by frame, run once per session.

    Returns (per-frame AU dicts or None, per-frame features or None, OpenFace reference columns).
    """
    if faces_dir not in _RUNS:
        _RUNS[faces_dir] = _run_default(faces_dir, openface_ref_dir, face_tracker_factory)
    return _RUNS[faces_dir]


def _run_default(faces: Path, ref_dir: Path, face_tracker_factory) -> tuple:
    ref = _read_openface(ref_dir / "default.csv")
    tracker = face_tracker_factory()
    engine = E.EmbeddedAUEngine()
    cap = cv2.VideoCapture(str(faces / "default.wmv"))
    out: list[dict[int, float] | None] = []
    feats: list[dict[str, float] | None] = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        fit, _ = tracker.process(img)
        out.append(engine.estimate(fit, img) if fit is not None else None)
        feats.append(E.face_features(fit) if fit is not None else None)
    cap.release()
    return out, feats, ref


@pytest.mark.slow
def test_agreement_with_openface_on_held_out_video(default_run):
    out, _, ref = default_run
    n = len(ref["frame"])
    assert len(out) == n
    ok = [i for i in range(n) if out[i] is not None and ref["success"][i] > 0]
    assert len(ok) >= 0.95 * n
    for au, floor in R_FLOOR.items():
        pred = np.array([out[i][au] for i in ok])
        y = ref[f"AU{au:02d}_r"][ok]
        r = float(np.corrcoef(pred, y)[0, 1])
        mae = float(np.abs(pred - y).mean())
        assert r >= floor, f"AU{au:02d}: r {r:.3f} < floor {floor}"
        assert mae <= MAE_CEIL[au], f"AU{au:02d}: MAE {mae:.3f} > {MAE_CEIL[au]}"
    for frame in out:
        if frame is not None:
            assert all(0.0 <= v <= 5.0 for v in frame.values())


@pytest.mark.slow
def test_geometry_aus_on_real_frames_chosen_by_openface(default_run, faces_dir, face_tracker_factory):
    out, feats, ref = default_run
    ok = np.array([o is not None for o in out])
    # Mouth: the most open frame by OpenFace (AU25 + AU26) against a clearly closed one.
    opening = np.where(ok, ref["AU25_r"] + ref["AU26_r"], -1)
    closed = np.where(ok & (ref["AU25_r"] == 0) & (ref["AU26_r"] == 0), 1, 0)
    i_open, i_closed = int(np.argmax(opening)), int(np.argmax(closed))
    assert opening[i_open] >= 4 and closed[i_closed] == 1
    assert feats[i_open]["mouth_gap"] > 2 * feats[i_closed]["mouth_gap"] + 0.1
    assert out[i_closed][27] == 0.0 and out[i_open][27] >= out[i_closed][27]
    assert out[i_open][25] > out[i_closed][25] + 1
    # Eyes: the strongest blink by OpenFace AU45 against frames it calls open.
    blink = np.where(ok, ref["AU45_r"], -1)
    i_blink = int(np.argmax(blink))
    assert blink[i_blink] >= 1.5
    open_frames = [i for i in range(len(out)) if ok[i] and ref["AU45_r"][i] == 0]
    assert out[i_blink][43] >= 2.5  # PSPI's "eyes closed"
    assert np.mean([out[i][43] for i in open_frames]) < 0.3
    assert np.mean([out[i][43] >= 2.5 for i in open_frames]) < 0.02
    # A mouth stretched beyond a jaw drop: the child pulling a face in sample5.jpg.
    tracker = face_tracker_factory()
    img = cv2.imread(str(faces_dir / "sample5.jpg"))
    fit, _ = tracker.process(img)
    assert fit is not None
    stretched = E.EmbeddedAUEngine().estimate(fit, img)
    assert stretched[27] > 0.0 and stretched[25] > 1.0
