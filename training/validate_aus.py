"""Validate the embedded AU engine against OpenFace 2.2: rerunnable, prints tables.

Reports, with whatever engine and calibration are installed (``--calibration`` for another):

(a) **children set, geometry** (``../shared/data/children``, OpenFace on each half): within-video
    Pearson r of each geometric AU against the *same measure* computed from OpenFace's 68 2D
    landmarks (:mod:`auepa_monitor.core.au_geometry`; both series centred per video, pooled),
    next to our raw measure's r (what the engine maps: the AU's loss is the difference), our measure
    in the 3D face frame, and OpenFace's own ``AUxx_r`` against that geometry.
(b) **children set, does it move**: for every AU, the pooled within-video std of ours, of
    OpenFace's ``AUxx_r`` and of the matching geometry, and the share of frames above 0.5.
(c) **clear references** (default.wmv, multi_face.avi, image_sequence, stills; each a different
    person): r and MAE against OpenFace's ``AUxx_r``. With ``--lopo`` (default when the engine's
    calibration can be refitted) each person is held out of a refit
    (:func:`training.fit_au_calibration.fit_calibration`) and scored by the real engine.
(d) **children set, visual labels**: our lip gap, jaw drop and eye opening (geometry and AU)
    and OpenFace's, against one annotator's blind labels of mouth and eye opening on 144 frames
    (:mod:`training.visual_labels`): the reference that says which landmark set is wrong where
    they disagree.
(e) **children set, brow pairs**: on pairs of frames of one clip half, judged by the same
    annotator (which frame shows the brows higher above the eyes), how often each brow series
    orders the pair alike; pairs where the two landmark sets order it oppositely say which is wrong.
(f) **the neutral**: (a)'s r, the offset and MAE from OpenFace's ``AUxx_r`` on the children, and
    (c)'s held-out r and MAE, with the running neutral (live) and the whole recording's
    (``analyze``'s default second pass, :mod:`auepa_monitor.core.whole_recording`).

Frames used: OpenFace ``success`` 1, ``confidence`` >= 0.8, |yaw| < 45 deg (``pose_Ry``; on the
children's halves it reads low, see their README), our fit present and on the same face (our
eye centres within 0.5 inter-ocular distances of OpenFace's, landmarks 36-41 / 42-47).
Our tracker runs on the same half OpenFace saw (``frame[:, 0:320]`` / ``frame[:, 320:640]``).
Tracker output is cached (:mod:`training.au_data`, ``--cache``); the AU engine is replayed
frame by frame from the cache exactly as it runs online (running neutral included).

Run: ``python -m training.validate_aus [--out benchmarks/results/au_validation_after.txt]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from auepa_monitor.core import au_crop
from auepa_monitor.core import au_engine as E
from auepa_monitor.core import au_geometry as G
from auepa_monitor.core.records import REPORTED_AUS
from training import au_data as D
from training import visual_labels as V
from training.au_data import good_frames, pearson

OPENFACE_AUS = (1, 2, 4, 6, 7, 9, 10, 12, 20, 25, 26, 45)
#: Geometric AU -> (measure, sign): the AU grows with sign * measure.
GEOMETRIC = {1: ("brow_inner", 1), 2: ("brow_outer", 1), 4: ("brow_lower", 1), 7: ("lower_lid", 1), 12: ("lip_pull", 1),
             20: ("mouth_width", 1), 25: ("lip_gap", 1), 26: ("jaw_drop", 1), 27: ("lip_gap", 1),
             43: ("eye_open", -1), 45: ("eye_open", -1)}
TARGETS_CHILDREN = {1: 0.7, 2: 0.7, 12: 0.7, 25: 0.7, 26: 0.7, 45: 0.7, 4: 0.5}
MIN_GOOD = 10  # a children clip counts with at least this many good frames


def replay(engine, clip: D.Clip, neutral: str = "running") -> tuple[np.ndarray, float]:
    """(n, len(REPORTED_AUS)) the engine's output per frame (NaN without a fit) and ms per call.

    ``neutral="recording"``: then, as ``analyze`` does by default, every fitted frame again against
    the whole clip's neutral (``EmbeddedAUEngine.whole_recording_neutral``, :mod:`whole_recording`).
    """
    t = clip.track
    out = np.full((len(t), len(REPORTED_AUS)), np.nan)
    mode = getattr(engine, "neutral_mode", "running")
    if neutral != "running":
        engine.neutral_mode = neutral
    engine.reset()
    by_crop = getattr(engine, "estimate_crop", None)
    dt = 0.0
    k = 0
    try:
        for i in np.where(t.fit)[0]:
            fit = t.face_fit(int(i))
            t0 = time.perf_counter()
            au = by_crop(fit, t.crop[i], int(i)) if by_crop is not None else engine.estimate(fit, None)
            dt += time.perf_counter() - t0
            k += 1
            out[i] = [au[a] for a in REPORTED_AUS]
        if neutral == "recording":
            kept = engine.kept_features()
            fixed = engine.whole_recording_neutral(kept)
            if fixed is not None:
                for i, au in zip(kept.frames, engine.reestimate(kept, fixed), strict=True):
                    out[i] = [au[a] for a in REPORTED_AUS]
    finally:
        engine.neutral_mode = mode
    return out, 1000 * dt / max(k, 1)


def geometry_series(clip: D.Clip, rows: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Measures on ``rows``: OpenFace 68 in 2D, ours (the engine's, 2D), ours in the 3D face frame."""
    of = {m: np.zeros(len(rows)) for m in G.MEASURES}
    us = {m: np.zeros(len(rows)) for m in G.MEASURES}
    u2 = {m: np.zeros(len(rows)) for m in G.MEASURES}
    for k, i in enumerate(rows):
        a = G.measures_68(clip.ref.landmarks[i])
        yaw, pitch = (float(v) for v in clip.track.pose[i, :2])
        b = G.measures_mp(clip.track.landmarks[i], yaw, pitch)
        c = G.measures_mp_3d(clip.track.landmarks[i])
        for m in G.MEASURES:
            of[m][k], us[m][k], u2[m][k] = a[m], b[m], c[m]
    return of, us, u2


def _c(x: np.ndarray) -> np.ndarray:
    return x - x.mean()


def children_tables(clips: list[D.Clip], engine, neutral: str = "running") -> tuple[str, dict]:
    """Tables (a) and (b) on the children set; returns text and the figures (``neutral``: see
    :func:`replay`; the figures also hold each AU's offset and MAE from OpenFace's ``AUxx_r``)."""
    col = {a: j for j, a in enumerate(REPORTED_AUS)}
    pooled: dict[str, list[np.ndarray]] = {}

    def add(key: str, x: np.ndarray) -> None:
        pooled.setdefault(key, []).append(x)

    used, n_frames, ms = 0, 0, []
    for clip in clips:
        ok = good_frames(clip)
        rows = np.where(ok)[0]
        if len(rows) < MIN_GOOD:
            continue
        used += 1
        n_frames += len(rows)
        out, t_ms = replay(engine, clip, neutral)
        ms.append(t_ms)
        of, us, u2 = geometry_series(clip, rows)
        for au in REPORTED_AUS:
            add(f"our{au}", _c(out[rows, col[au]]))
            add(f"raw{au}", out[rows, col[au]])
        for au in OPENFACE_AUS:
            add(f"of{au}", _c(clip.ref.aus[au][rows]))
            add(f"diff{au}", out[rows, col[au]] - clip.ref.aus[au][rows])
        for m in G.MEASURES:
            add(f"geo_of:{m}", _c(of[m]))
            add(f"geo_us:{m}", _c(us[m]))
            add(f"geo_3d:{m}", _c(u2[m]))
        add("iris", _c(np.array([G.iris_height_mp(clip.track.landmarks[i]) for i in rows])))
        pose = clip.ref.pose[rows] if clip.ref.pose is not None else np.zeros((len(rows), 3))
        add("pose", pose - pose.mean(axis=0))
    P = {k: np.concatenate(v) for k, v in pooled.items()}
    pose = P.pop("pose")

    def partial(a: np.ndarray, b: np.ndarray) -> float:
        """r of a and b after a quadratic fit on OpenFace's head rotation (centred per clip) is removed
        (quadratic: a turn either way shortens the eye distance alike)."""
        X = np.c_[pose, pose ** 2, np.ones(len(pose))]
        ra = a - X @ np.linalg.lstsq(X, a, rcond=None)[0]
        rb = b - X @ np.linalg.lstsq(X, b, rcond=None)[0]
        return pearson(ra, rb)

    lines = [f"(a) children set: within-video r against the same measure from OpenFace's 68 landmarks "
             f"({used} clip halves with >= {MIN_GOOD} good frames, {n_frames} frames; centred per clip, pooled)",
             "  raw: our measure (MediaPipe landmarks, 2D eye-line frame: what the engine maps); AU: our AU output "
             "(raw minus the running neutral, times the gain, clipped to 0-5); loss = raw - AU; pose-partial: "
             "with the quadratic dependence on OpenFace's head rotation removed from both series (OpenFace's "
             "measure is 2D, so a nod moves its brow and jaw measures and ours alike); 3D: our measure in the "
             "3D face frame (evaluated, not used)",
             "  AU    measure         raw r   AU r   loss  raw pose-partial  AU pose-partial   3D r  OpenFace AUxx_r  target",
             ]
    figs: dict = {"clips": used, "frames": n_frames, "a": {}, "b": {}}
    for au, (m, sgn) in GEOMETRIC.items():
        g = sgn * P[f"geo_of:{m}"]
        r_au = pearson(P[f"our{au}"], g)
        r_raw = pearson(sgn * P[f"geo_us:{m}"], g)
        r_part = partial(P[f"our{au}"], g)
        r_raw_part = partial(sgn * P[f"geo_us:{m}"], g)
        r_3d = pearson(sgn * P[f"geo_3d:{m}"], g)
        r_of = pearson(P[f"of{au}"], g) if f"of{au}" in P else float("nan")
        tgt = TARGETS_CHILDREN.get(au)
        lines.append(f"  AU{au:02d}  {m:<13} {r_raw:6.2f} {r_au:6.2f} {r_raw - r_au:6.2f}  {r_raw_part:16.2f}  "
                     f"{r_part:15.2f}  {r_3d:5.2f}  {r_of:15.2f}  {'>= ' + str(tgt) if tgt else '':>6}")
        figs["a"][f"AU{au:02d}"] = {"r": round(r_au, 3), "pose_partial_r": round(r_part, 3),
                                    "raw_measure_r": round(r_raw, 3), "raw_pose_partial_r": round(r_raw_part, 3),
                                    "raw_3d_measure_r": round(r_3d, 3), "openface_au_r": round(r_of, 3)}
    lines += ["", "(b) children set: does each AU move? (pooled within-video std on the good frames; "
              "share of frames with AU > 0.5)",
              "  AU    std ours  share>0.5  std OpenFace  std geometry  r(ours, OpenFace AU)  verdict"]
    for au in REPORTED_AUS:
        s_our = float(P[f"our{au}"].std())
        share = float((P[f"raw{au}"] > 0.5).mean())
        s_of = float(P[f"of{au}"].std()) if f"of{au}" in P else float("nan")
        s_geo = float(P[f"geo_of:{GEOMETRIC[au][0]}"].std()) if au in GEOMETRIC else float("nan")
        r_of = pearson(P[f"our{au}"], P[f"of{au}"]) if f"of{au}" in P else float("nan")
        varies_ref = (not math.isnan(s_of) and s_of >= 0.2) or au in GEOMETRIC
        verdict = "CONSTANT" if s_our < 0.05 and varies_ref else ("moves" if s_our >= 0.05 else "flat (ref flat)")
        lines.append(f"  AU{au:02d}  {s_our:8.2f}  {share:9.2f}  {s_of:12.2f}  {s_geo:12.3f}  {r_of:20.2f}  {verdict}")
        figs["b"][f"AU{au:02d}"] = {"std": round(s_our, 3), "share_above_0_5": round(share, 3),
                                    "std_openface": round(s_of, 3), "r_openface": round(r_of, 3)}
    iris = P["iris"]
    lines += ["", "(b2) children set: gaze. Within-video r with our iris height (iris centre above the eye's corner "
              "line, 468/473; negative r: the AU rises as the eyes look down). A lid action should not follow the gaze; "
              "the upper lid does (eye_open, AU45, AU43)",
              "  series              r(iris height)"]
    figs["b2"] = {}
    for key, label in (("our7", "our AU07"), ("of7", "OpenFace AU07_r"), ("geo_us:lower_lid", "our lower_lid"),
                       ("geo_us:eye_open", "our eye_open"), ("our45", "our AU45"), ("our43", "our AU43"),
                       ("of45", "OpenFace AU45_r")):
        r = pearson(P[key], iris)
        lines.append(f"  {label:<18}  {r:14.2f}")
        figs["b2"][label] = round(r, 3)
    figs["vs_openface_au"] = {f"AU{au:02d}": {"offset": round(float(P[f"diff{au}"].mean()), 3),
                                              "mae": round(float(np.abs(P[f"diff{au}"]).mean()), 3)}
                              for au in OPENFACE_AUS}
    figs["engine_ms_per_frame"] = round(float(np.mean(ms)), 3) if ms else float("nan")
    return "\n".join(lines), figs


def labels_table(clips: list[D.Clip], engine, labels_path: Path = V.LABELS) -> tuple[str, dict]:
    """(d): the children set against visual labels of mouth and eye opening (:mod:`training.visual_labels`)."""
    labels = V.load_labels(labels_path)
    wanted = {lab.clip for lab in labels}
    replays = {c.name: replay(engine, c)[0] for c in clips if c.name in wanted}
    return V.visual_table([c for c in clips if c.name in wanted], replays, labels, REPORTED_AUS)


def brow_pairs_table(clips: list[D.Clip], engine, labels_path: Path = V.BROW_LABELS) -> tuple[str, dict]:
    """(e): the children set against pairwise visual judgements of brow height (:mod:`training.visual_labels`)."""
    pairs = V.load_brow_pairs(labels_path)
    wanted = {p.clip for p in pairs if p.higher is not None}
    replays = {c.name: replay(engine, c)[0] for c in clips if c.name in wanted}
    return V.brow_table([c for c in clips if c.name in wanted], replays, pairs, REPORTED_AUS)


def clear_table(clips: list[D.Clip], engine_for_fold, neutral: str = "running") -> tuple[str, dict]:
    """(c): r and MAE vs OpenFace on each clear reference; ``engine_for_fold(person)`` gives the
    engine to score that person with (a refit without them for LOPO, or the installed one);
    ``neutral``: see :func:`replay`."""
    col = {a: j for j, a in enumerate(REPORTED_AUS)}
    persons = sorted({c.person for c in clips}, key=lambda p: [c.person for c in clips].index(p))
    res: dict[str, dict[int, dict[str, float]]] = {}
    pooled_p: dict[int, list[np.ndarray]] = {a: [] for a in OPENFACE_AUS}
    pooled_y: dict[int, list[np.ndarray]] = {a: [] for a in OPENFACE_AUS}
    for person in persons:
        engine = engine_for_fold(person)
        preds, ys = {a: [] for a in OPENFACE_AUS}, {a: [] for a in OPENFACE_AUS}
        for clip in [c for c in clips if c.person == person]:
            ok = good_frames(clip)
            rows = np.where(ok)[0]
            out, _ = replay(engine, clip, neutral)
            for a in OPENFACE_AUS:
                preds[a].append(out[rows, col[a]])
                ys[a].append(clip.ref.aus[a][rows])
        res[person] = {}
        for a in OPENFACE_AUS:
            p, y = np.concatenate(preds[a]), np.concatenate(ys[a])
            pooled_p[a].append(p)
            pooled_y[a].append(y)
            res[person][a] = {"r": round(pearson(p, y), 3), "mae": round(float(np.abs(p - y).mean()), 3),
                              "ref_std": round(float(y.std()), 3), "n": len(y)}
    lines = ["  AU   " + "".join(f"{p[:14]:>22}" for p in persons) + "   median r (ref std>=0.2)",
             "       " + "".join(f"{'r   MAE  ref-std':>22}" for _ in persons)]
    figs: dict = {"per_person": {p: {f"AU{a:02d}": v for a, v in r.items()} for p, r in res.items()}, "median_r": {}}
    for a in OPENFACE_AUS:
        cells = []
        rs = []
        for p in persons:
            v = res[p][a]
            cells.append(f"{v['r']:7.2f} {v['mae']:5.2f} {v['ref_std']:6.2f}  ")
            if v["ref_std"] >= 0.2 and not math.isnan(v["r"]):
                rs.append(v["r"])
        med = float(np.median(rs)) if rs else float("nan")
        figs["median_r"][f"AU{a:02d}"] = round(med, 3)
        lines.append(f"  AU{a:02d} " + "".join(f"{c:>22}" for c in cells) + f"   {med:6.2f} (n={len(rs)})")
    allr = [v["r"] for p in persons for a, v in res[p].items() if v["ref_std"] >= 0.2 and not math.isnan(v["r"])]
    figs["median_r_all"] = round(float(np.median(allr)), 3) if allr else float("nan")
    lines.append(f"  median r over every (AU, person) whose reference varies (std >= 0.2): {figs['median_r_all']:.2f}")
    return "\n".join(lines), figs


def neutral_table(children_figs: dict[str, dict], clear_figs: dict[str, dict]) -> str:
    """(f): the running neutral (live) against the whole recording's (``analyze``'s default), from
    :func:`children_tables` and :func:`clear_table` figures per mode (keys "running", "recording")."""
    lines = ["(f) the neutral each frame is measured against: running (live, as above) and whole recording (analyze's "
             "default: a second pass against each clip's neutral, as OpenFace does for a video). Children: r against "
             "OpenFace's geometry as (a), mean offset and MAE from OpenFace's AUxx_r on the good frames. Clear "
             "references, held out by person as (c): median r (reference std >= 0.2) and MAE averaged over the people",
             "  AU    children r geometry   offset from OpenFace    MAE from OpenFace   |  clear median r      clear MAE",
             "         running recording     running recording    running recording   |  running recording  running recording"]
    for a in OPENFACE_AUS:
        k = f"AU{a:02d}"
        c = {m: children_figs[m] for m in ("running", "recording")}
        geo = [c[m]["a"][k]["r"] if k in c[m]["a"] else float("nan") for m in c]
        off = [c[m]["vs_openface_au"][k]["offset"] for m in c]
        mae = [c[m]["vs_openface_au"][k]["mae"] for m in c]
        cm = [clear_figs[m]["median_r"][k] for m in c]
        cmae = [float(np.mean([v[k]["mae"] for v in clear_figs[m]["per_person"].values()])) for m in c]
        lines.append(f"  {k}  {geo[0]:9.2f} {geo[1]:9.2f}   {off[0]:+9.2f} {off[1]:+9.2f}    {mae[0]:7.2f} {mae[1]:9.2f}"
                     f"   |  {cm[0]:7.2f} {cm[1]:9.2f}  {cmae[0]:7.2f} {cmae[1]:9.2f}")
    lines.append(f"  median r over every (AU, person) of the clear references: running "
                 f"{clear_figs['running']['median_r_all']:.2f}, recording {clear_figs['recording']['median_r_all']:.2f}")
    return "\n".join(lines)


def crop_ms(faces: Path, n: int = 60) -> float:
    """ms per :func:`au_crop.aligned_gray` on real 640x480 frames (the part the replay skips)."""
    frames = list(D.video_frames(faces / "default.wmv"))[:n]
    clips = D.clear_clips(faces, log=lambda *a: None)
    t = next(c for c in clips if c.name == "default").track
    t0 = time.perf_counter()
    for i, img in enumerate(frames):
        au_crop.aligned_gray(img, t.landmarks[i])
    return 1000 * (time.perf_counter() - t0) / max(len(frames), 1)


def run(args) -> str:
    D.ANY_TRACKER = args.any_tracker
    engine = E.EmbeddedAUEngine(args.calibration) if args.calibration else E.EmbeddedAUEngine()
    t0 = time.perf_counter()
    children = D.children_clips(args.children, args.cache, limit=args.limit)
    clear = D.clear_clips(args.faces, args.cache)
    t_load = time.perf_counter() - t0
    out = [f"AU validation: engine {engine.name}, calibration {getattr(engine, 'calibration_path', '?')}",
           f"tracker output: {args.cache} ({t_load:.1f} s to load or track)", ""]
    txt, figs_c = children_tables(children, engine)
    out += [txt, ""]
    lopo = args.lopo and hasattr(E, "fit_ready")
    if lopo:
        from training import fit_au_calibration as F

        def fold(person: str):
            cal = F.fit_calibration([c for c in clear if c.person != person])
            return E.EmbeddedAUEngine(cal)

        title = "(c) clear references, held out by person (refit without the person, real engine replay)"
    else:
        def fold(person: str):
            return engine

        title = ("(c) clear references with the installed calibration (NOT held out: it was fitted on all of "
                 "them but default.wmv)")
    txt, figs_r = clear_table(clear, fold)
    out += [title, txt, ""]
    txt, _ = labels_table(children, engine)
    out += [txt, ""]
    txt, _ = brow_pairs_table(children, engine)
    out += [txt, ""]
    _, figs_c2 = children_tables(children, engine, "recording")
    _, figs_r2 = clear_table(clear, fold, "recording")
    out += [neutral_table({"running": figs_c, "recording": figs_c2}, {"running": figs_r, "recording": figs_r2}), ""]
    t_crop = crop_ms(args.faces)
    out.append(f"timing: engine {figs_c['engine_ms_per_frame']:.3f} ms/frame (replay from the fit and crop) "
               f"+ aligned crop {t_crop:.3f} ms/frame = AU stage {figs_c['engine_ms_per_frame'] + t_crop:.2f} ms/frame")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=D.DEFAULT_FACES)
    ap.add_argument("--children", type=Path, default=D.DEFAULT_CHILDREN)
    ap.add_argument("--cache", type=Path, default=D.DEFAULT_CACHE, help="tracker output cache folder")
    ap.add_argument("--calibration", type=Path, default=None, help="another au_calibration.json")
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    ap.add_argument("--no-lopo", dest="lopo", action="store_false", help="score the installed calibration only")
    ap.add_argument("--any-tracker", action="store_true", help="reuse cached tracker output of another tracker version")
    ap.add_argument("--limit", type=int, default=None, help="only the first N children videos")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for p in (args.faces, args.children):
        if not p.is_dir():
            print(f"{p} is absent: nothing to validate", file=sys.stderr)
            return 2
    report = run(args)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
