"""The embedded AU engine v4: calibration file handling, 0-5 range, AU27/AU43 geometry, and on real
media the leave-one-person-out figures of the model card, AU04/AU09 that move, head-turn invariance."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from auepa_monitor.core import au_engine as E
from auepa_monitor.core import landmarks as L
from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.core.records import REPORTED_AUS, FaceFit, HeadPose
from auepa_monitor.model_card import ModelCard, card_path, models_dir

# Leave-one-person-out floors on the clear references (training/fit_au_calibration.py, model card
# metrics.lopo_clear_refs), a little below what was reached: (person, AU) -> r floor. Only pairs
# whose reference varies (std >= 0.2) and where the engine reached r >= 0.5 get a floor. (v5, every
# map through 0, moved stills AU09 from 0.90 to 0.81; the tracker's smoothed shape, v6, back to 0.86.
# v7's AU07 from the lower lid: default 0.64 -> 0.76, stills 0.10 -> 0.61.)
LOPO_R_FLOOR = {("default", 6): 0.78, ("default", 7): 0.7, ("default", 10): 0.85, ("default", 12): 0.9,
                ("default", 25): 0.85, ("default", 26): 0.48, ("default", 45): 0.78, ("multi_face", 2): 0.75,
                ("multi_face", 6): 0.74, ("multi_face", 10): 0.5, ("multi_face", 12): 0.9, ("multi_face", 25): 0.72,
                ("image_sequence", 45): 0.75, ("stills", 4): 0.9, ("stills", 9): 0.78, ("stills", 10): 0.75,
                ("stills", 7): 0.55, ("stills", 12): 0.8, ("stills", 25): 0.75, ("stills", 45): 0.74}
LOPO_MEDIAN_FLOOR = 0.75  # median r over (AU, person) with a varying reference; 0.79 reached
# Children set (training/validate_aus.py table (a), model card metrics.children_geometry): within-video r
# of each geometric AU against the same measure from OpenFace's 68 landmarks, a little below what was
# reached (AU01 0.64, AU02 0.57, AU04 0.55, AU07 0.44, AU12 0.64, AU20 0.60, AU25 0.39, AU26 0.71, AU45 0.31), and
# the most the AU may lose against its raw measure (the map is monotone: only the running neutral's
# movement and the clips at 0 and 5 cost; AU26 clips at 5 on ~9% of the children's frames; AU45 reads
# closure only, so eyes opened wider than at rest clip at 0: loss 0.094 since the tracker keeps more
# turned frames, 0.062 before; AU07's neutral at the 20th percentile of lower_lid clips 0.12).
CHILDREN_R_FLOOR = {1: 0.61, 2: 0.54, 4: 0.53, 7: 0.40, 12: 0.61, 20: 0.57, 25: 0.36, 26: 0.68, 45: 0.28}
CHILDREN_MAX_LOSS = {1: 0.06, 2: 0.05, 4: 0.04, 7: 0.15, 12: 0.03, 20: 0.03, 25: 0.03, 26: 0.16, 45: 0.11}
# AU07 (lid tightening) must not follow the gaze, as v6's AU07 from the eye aspect ratio did (within-video
# r with the iris height -0.40 on the children); the upper lid does follow it (eye_open r 0.42).
GAZE_MAX_ABS_R_AU07 = 0.15
GAZE_MIN_R_EYE_OPEN = 0.3


# -- synthetic landmark sets ------------------------------------------------------------------
def synthetic_face(gap_px: float = 0.0, lid_px: float = 5.0, roll_deg: float = 0.0,
                   lower_lid_px: float | None = None) -> np.ndarray:
    """(478, 3) landmarks of a frontal face, eye distance 60 px, only the indices the engine reads.

    ``gap_px``: inner-lip gap; ``lid_px``: half the lid gap of each eye (5 = open, 0 = closed);
    ``roll_deg``: rotation of the whole face in the image plane; ``lower_lid_px``: the lower lid's
    depth below the eye corners when it differs from the upper lid's height (``lid_px``).
    """
    low_px = lid_px if lower_lid_px is None else lower_lid_px
    p = np.zeros((L.N_LANDMARKS, 3), dtype=np.float32)

    def put(i: int, x: float, y: float) -> None:
        p[i, :2] = (x, y)

    for spec_eye, lids, cx, sgn in ((L.RIGHT_EYE, ((160, 158), (144, 153)), 100, -1),
                                    (L.LEFT_EYE, ((387, 385), (373, 380)), 160, 1)):
        outer, inner, up, low = spec_eye
        put(outer, cx + sgn * 15, 100)
        put(inner, cx - sgn * 15, 100)
        put(up, cx, 100 - lid_px)
        put(low, cx, 100 + low_px)
        for (a, b), dy in ((lids[0], -lid_px), (lids[1], low_px)):
            put(a, cx - 5, 100 + dy)
            put(b, cx + 5, 100 + dy)
    for brow, lower, cx, sgn in ((L.RIGHT_BROW, (46, 53, 52, 65, 55), 100, -1),
                                 (L.LEFT_BROW, (276, 283, 282, 295, 285), 160, 1)):
        for k, (i, j) in enumerate(zip(brow, lower, strict=True)):  # outer to inner
            put(i, cx + sgn * (20 - 10 * k), 80)
            put(j, cx + sgn * (20 - 10 * k), 84)
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


def test_au07_is_the_lower_lid_rising_not_the_upper_lid_falling(engine):
    """A downward look (upper lid follows the eye down, lower lid stays) is not lid tightening; a
    raised lower lid is. v6 read both from the eye aspect ratio."""
    engine.reset()
    for _ in range(40):  # the person's open, resting eyes fill the neutral
        rest = engine.estimate(fit_of(synthetic_face(lid_px=5.0)))
    look_down = engine.estimate(fit_of(synthetic_face(lid_px=2.0, lower_lid_px=5.0)))
    tighten = engine.estimate(fit_of(synthetic_face(lid_px=5.0, lower_lid_px=2.0)))
    engine.reset()
    assert rest[7] == pytest.approx(0.0, abs=0.05)
    assert look_down[7] == pytest.approx(rest[7], abs=0.05)
    assert look_down[45] > rest[45] + 0.5  # the upper lid's fall is AU45's (and AU43's) business
    assert tighten[7] >= 3.0


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
@pytest.mark.parametrize("rows", [10, 11, 57, 299, 300])
def test_running_neutral_percentiles_equal_numpys(rows):
    # The neutral's percentiles come from one np.partition (cost); they must be numpy's linear
    # percentiles exactly, including the 0th/100th and ties.
    rng = np.random.default_rng(rows)
    b = rng.normal(size=(rows, 23))
    b[:, 0] = np.round(b[:, 0])  # ties
    pcts = [0.0, 5.0, 20.0, 50.0, 80.0, 97.5, 100.0]
    np.testing.assert_array_equal(E._column_percentiles(b, pcts), np.percentile(b, pcts, axis=0))


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
    assert "leave-one-person-out" in card.metrics["held_out"]
    for (person, au) in LOPO_R_FLOOR:
        assert f"AU{au:02d}" in card.metrics["lopo_clear_refs"][person]
    # Tiny maps: the geometric AUs have one measure each, the appearance AUs a handful of terms.
    assert all(len(maps[au].features) == 1 for au in (1, 2, 12, 20, 25, 26, 45))
    assert all(len(m.features) <= 6 for m in maps.values())
    for au in (4, 9):  # the AUs that were constant before v3 have a real term now
        assert maps[au].coef and max(maps[au].coef) > 0


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
    (_edited(lambda d: d["aus"]["6"]["coef"].__setitem__(0, -1.0)), "negative coefficient"),
    (_edited(lambda d: d["aus"]["6"]["sign"].__setitem__(0, 2)), "sign not +-1"),
    (_edited(lambda d: d.pop("neutral")), "no population neutral"),
    (_edited(lambda d: d["neutral"].pop(d["aus"]["6"]["features"][0])), "neutral lacks a used feature"),
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


# -- real data ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clear_preps(faces_dir):
    """The clear references' features (tracker output cached by training.au_data under /tmp)."""
    from training import au_data as D
    from training import fit_au_calibration as F

    return [F.Prepared(c) for c in D.clear_clips(faces_dir, log=lambda *a: None)]


@pytest.mark.slow
def test_leave_one_person_out_figures_reproduce_the_card(clear_preps):
    from training import fit_au_calibration as F

    figs, _ = F.lopo(clear_preps)
    card = ModelCard.load(card_path(models_dir() / E.CALIBRATION_FILE))
    for (person, au), floor in LOPO_R_FLOOR.items():
        r = figs["per_person"][person][f"AU{au:02d}"]["r"]
        assert r >= floor, f"{person} AU{au:02d}: held-out r {r:.3f} < floor {floor}"
        # The card's figure, within rounding (a changed tracker moves these: refit, see the card).
        assert r == pytest.approx(card.metrics["lopo_clear_refs"][person][f"AU{au:02d}"]["r"], abs=0.03)
    assert figs["median_r_all"] >= LOPO_MEDIAN_FLOOR
    assert figs["median_r_all"] == pytest.approx(card.metrics["lopo_median_r_all"], abs=0.03)


@pytest.mark.slow
def test_au04_and_au09_move_where_they_vary(clear_preps):
    from training.validate_aus import replay

    engine = E.EmbeddedAUEngine()
    col = {a: j for j, a in enumerate(REPORTED_AUS)}
    for p in clear_preps:
        if p.name not in ("default", "multi_face"):
            continue
        out, _ = replay(engine, p.clip)
        rows = p.good
        for au, floor in ((4, 0.05), (9, 0.02)):
            assert np.nanstd(out[rows, col[au]]) >= floor, f"{p.name}: AU{au:02d} is constant"
        # AU04 follows OpenFace's AU04 where OpenFace's varies most (multi_face: std 0.24).
        if p.name == "multi_face":
            r = np.corrcoef(out[rows, col[4]], p.ref[4][rows])[0, 1]
            assert r > 0.05


def _turned(fit: FaceFit, yaw_deg: float, pitch_deg: float) -> FaceFit:
    """The same face turned/nodded: its 3D landmarks rotated about the face centre, projected
    orthographically; the pose the tracker would report moves by the same angles."""
    from scipy.spatial.transform import Rotation

    p = fit.landmarks.astype(np.float64)
    c = p.mean(axis=0)
    rot = Rotation.from_euler("yx", [yaw_deg, pitch_deg], degrees=True).as_matrix()
    q = (p - c) @ rot.T + c
    pose = HeadPose(fit.pose.yaw + yaw_deg, fit.pose.pitch + pitch_deg, fit.pose.roll)
    return FaceFit(fit.box, q.astype(np.float32), fit.blendshapes, pose, fit.quality)


@pytest.mark.slow
def test_a_head_turn_or_nod_without_expression_barely_moves_the_geometric_aus(clear_preps):
    """Real neutral-ish frames of default.wmv, turned by up to 20 deg and nodded by up to 10 deg."""
    p = next(p for p in clear_preps if p.name == "default")
    t = p.clip.track
    engine = E.EmbeddedAUEngine()
    for i in np.where(t.fit)[0][:60]:  # warm the person's neutral on the real frames
        engine.estimate_crop(t.face_fit(int(i)), t.crop[i])
    calm = [int(i) for i in np.where(p.good)[0] if p.ref[12][i] < 0.5 and p.ref[25][i] < 0.5][:20]
    assert len(calm) >= 10
    worst: dict[int, float] = {}
    for i in calm:
        fit = t.face_fit(i)
        base = engine.estimate_crop(fit, None)
        for yaw, pitch in ((20, 0), (-20, 0), (0, 10), (0, -10)):
            moved = engine.estimate_crop(_turned(fit, yaw, pitch), None)
            for au in (1, 2, 4, 12, 20, 25, 26, 45):
                worst[au] = max(worst.get(au, 0.0), abs(moved[au] - base[au]))
    # Bounds from what the engine reaches (AU intensity units, 0-5): a turn of 20 deg shortens the
    # 2D eye distance by 6 %, which the 2D measures see; a nod moves brows and chin in 2D (no pitch
    # correction: on the children it added more noise than it removed, see au_geometry).
    for au, bound in {1: 1.5, 2: 1.5, 4: 1.0, 12: 1.0, 20: 1.0, 25: 0.5, 26: 1.5, 45: 1.0}.items():
        assert worst[au] <= bound, f"AU{au:02d} moved {worst[au]:.2f} on a head turn without expression"


@pytest.fixture(scope="module")
def children_running(children_dir):
    """The children set's clips and their figures with the running neutral (validate_aus's
    ``children_tables``): computed once for the two tests below (about a minute of AU engine)."""
    from training import au_data as D
    from training.validate_aus import children_tables

    kids = D.children_clips(children_dir, log=lambda *a: None)
    return kids, children_tables(kids, E.EmbeddedAUEngine(), "running")[1]


@pytest.mark.slow
def test_children_geometry_figures_reproduce_the_card(children_running):
    """Within-video r of each geometric AU against OpenFace's landmark geometry on the children set
    (the card's children_geometry.a), and how little the AU map loses against its raw measure."""
    _, figs = children_running
    card = ModelCard.load(card_path(models_dir() / E.CALIBRATION_FILE))
    for au, floor in CHILDREN_R_FLOOR.items():
        a = figs["a"][f"AU{au:02d}"]
        assert a["r"] >= floor, f"AU{au:02d}: children r {a['r']:.3f} < floor {floor}"
        assert a["raw_measure_r"] - a["r"] <= CHILDREN_MAX_LOSS[au], f"AU{au:02d} loses too much of its measure"
        assert a["r"] == pytest.approx(card.metrics["children_geometry"]["a"][f"AU{au:02d}"]["r"], abs=0.03)
    for au in (4, 9):  # AU04 and AU09 move on the children too
        assert figs["b"][f"AU{au:02d}"]["std"] >= 0.1
    gaze = figs["b2"]
    assert gaze["our eye_open"] >= GAZE_MIN_R_EYE_OPEN, "the iris height no longer tells a downward look"
    assert abs(gaze["our AU07"]) <= GAZE_MAX_ABS_R_AU07, f"AU07 follows the gaze (r {gaze['our AU07']:.2f})"
    assert gaze["our AU07"] == pytest.approx(card.metrics["children_geometry"]["b2"]["our AU07"], abs=0.03)


@pytest.mark.slow
def test_whole_recording_neutral_reproduces_the_card_on_the_children(children_running):
    """analyze's default second pass (each clip half against its whole-recording neutral) on the
    children set: the same within-video r against OpenFace's geometry as the running neutral, and a
    smaller offset from OpenFace's AU levels where the running neutral reads a new face high."""
    from training.validate_aus import children_tables

    kids, running = children_running
    figs = {"running": running, "recording": children_tables(kids, E.EmbeddedAUEngine(), "recording")[1]}
    card = ModelCard.load(card_path(models_dir() / E.CALIBRATION_FILE)).metrics["whole_recording_neutral"]
    for au in CHILDREN_R_FLOOR:
        k = f"AU{au:02d}"
        r_run, r_rec = figs["running"]["a"][k]["r"], figs["recording"]["a"][k]["r"]
        assert r_rec >= r_run - 0.05, f"{k}: the whole-recording neutral costs r {r_run:.2f} -> {r_rec:.2f}"
        assert r_rec == pytest.approx(card["children_geometry_r"]["recording"][k], abs=0.03)
    for k in ("AU01", "AU02", "AU07", "AU26"):  # measured +0.45/+0.76/+0.53/+0.75 -> +0.05/+0.23/+0.01/+0.41
        off = {m: figs[m]["vs_openface_au"][k]["offset"] for m in figs}
        assert abs(off["recording"]) <= abs(off["running"]) - 0.3, f"{k}: offset {off}"
        assert off["recording"] == pytest.approx(card["children_vs_openface_au"]["recording"][k]["offset"], abs=0.05)
    mae = {m: np.mean([v["mae"] for v in figs[m]["vs_openface_au"].values()]) for m in figs}
    assert mae["recording"] < mae["running"] - 0.05
