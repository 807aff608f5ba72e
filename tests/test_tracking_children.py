"""Face tracking on the real children videos (../shared/data/children), against OpenFace 2.2.

Built on ``benchmarks/children_tracking.py`` (definitions of "good", "same face" and "scored"
are in its docstring). Skipped when the children data is absent.

Subset for the rate floors (a rule, not a choice of videos): for each family (3dC3SQ, 4JDccE),
the videos whose right-half OpenFace reference has at least ``SUBSET_MIN_GOOD`` good frames,
sorted by name; of those, the ones at positions 0, n//3 and 2n//3 (evenly spread over the
jokes). Today that is 3dC3SQ joke1.rep1, joke3.rep1, joke4.rep2 and 4JDccE joke1.rep1,
joke1.rep3, joke2.rep3 (1336 frames, 604 of them OpenFace-good; about 20 s).
"""

from __future__ import annotations

import sys

import pytest
from conftest import CHILDREN, REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import children_tracking as ct  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHILDREN / "openface_ref").is_dir(),
                       reason=f"children videos not available: {CHILDREN} is absent"),
]

# Floors on the pooled right halves of the subset (rates over OpenFace-good frames), set from the
# tracker with mirrored second looks, keypoint re-checks, one turn factor and no drift test while
# tracking: same face 87.9% = 531/604, scored 93.5% = 432/462, minus about 2 points. v2 without
# those: 83.6% and 90.3%; before v2 (commit 8c1694e): 79.6% and 63.0%.
SAME_FACE_FLOOR = 0.85
SCORED_FLOOR = 0.91
SUBSET_MIN_GOOD = 20
# Of the subset's good frames the pre-v2 tracker lost, the share now tracked on the same face
# (measured 53/110 = 48 %, minus a few points; 38/110 before the mirrored looks).
LOST_BEFORE_FOLLOWED_FLOOR = 0.44

# Of the held fits (presence under 0.5, quality 0) on OpenFace-good frames, the share on OpenFace's face.
HELD_SAME_FLOOR = 0.5

DRIFT_VIDEO = "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4"
DRIFT_ROI = (360, 200, 120, 120)  # the child, on the viewer's right
# A region drawn loosely, twice the child's face: its corner touches the parent's face, and the
# rule before (a face merely overlapping the region counts) put frames 1-4 on the parent.
LOOSE_DRIFT_ROI = (300, 140, 240, 240)


def subset_videos(root=CHILDREN) -> list:
    """The subset rule of the module docstring."""
    chosen = []
    videos = ct.list_videos(root)
    for fam in sorted({v.name.split(".", 1)[0] for v in videos}):
        ok = [v for v in videos if v.name.startswith(fam + ".") and ct.reference_csv(v, "right").exists()
              and int(ct.load_reference(ct.reference_csv(v, "right")).good.sum()) >= SUBSET_MIN_GOOD]
        n = len(ok)
        chosen += [ok[i] for i in sorted({0, n // 3, 2 * n // 3}) if i < n]
    return chosen


@pytest.fixture(scope="module")
def right_subset():
    return ct.evaluate(subset_videos(), ("right",))


def test_subset_rule_spans_both_families():
    fams = [v.name.split(".", 1)[0] for v in subset_videos()]
    assert fams.count("3dC3SQ") == 3 and fams.count("4JDccE") == 3, fams


def test_right_half_same_face_rate_floor(right_subset):
    s = ct.summarize(right_subset)
    assert s.good > 300
    assert s.same_rate >= SAME_FACE_FLOOR, "\n" + ct.format_table(right_subset)


def test_right_half_scored_rate_floor(right_subset):
    s = ct.summarize(right_subset, ct.DEFAULT_MIN_QUALITY)
    assert s.frontal > 200
    assert s.scored_rate >= SCORED_FLOOR, "\n" + ct.format_table(right_subset)


def test_lost_frames_are_good_and_untracked(right_subset):
    lost = ct.lost_turned_frames(right_subset)
    by_key = {(r.video, r.half): {f.frame: f for f in r.frames} for r in right_subset}
    for video, half, frame in lost:
        f = by_key[(video, half)][frame]
        assert f.of_good and not f.tracked
    s = ct.summarize(right_subset)
    assert len(lost) == s.good - s.tracked


def test_frames_the_old_tracker_lost_are_now_followed_on_the_same_face(right_subset):
    """The good frames the pre-v2 tracker had no face on (mostly turned, laughing toddlers; listed in
    benchmarks/results/children_tracking_before_lost.csv) are now tracked on OpenFace's face."""
    import csv

    with open(REPO / "benchmarks" / "results" / "children_tracking_before_lost.csv", newline="") as fh:
        old_lost = {(r["video"], r["half"], int(r["frame"])) for r in csv.DictReader(fh)}
    by_key = {(r.video, r.half): {f.frame: f for f in r.frames} for r in right_subset}
    mine = [by_key[(v, h)][f] for v, h, f in old_lost if (v, h) in by_key and f in by_key[(v, h)]]
    assert len(mine) >= 40
    followed = sum(f.tracked and f.same for f in mine)
    assert followed / len(mine) >= LOST_BEFORE_FOLLOWED_FLOOR, f"{followed}/{len(mine)}"


def test_a_child_tracked_frame_to_frame_is_not_dropped_for_a_change_of_proportions(right_subset):
    """3dC3SQ.joke4.rep2 frames 29 and 49: the child, tracked smoothly, was dropped as 'another
    person' by the nose-depth drift test that ran while tracking (it never caught a real change of
    person on these videos); now they are tracked on OpenFace's face."""
    frames = {f.frame: f for r in right_subset if r.video == "3dC3SQ.joke4.rep2.take1.ThatsNotAHat"
              for f in r.frames}
    assert frames, "3dC3SQ.joke4.rep2 is no longer in the subset"
    for n in (29, 49):
        assert frames[n].of_good and frames[n].tracked and frames[n].same, (n, frames[n])


def test_a_new_target_is_not_taken_from_flat_image():
    """3dC3SQ.joke2.rep3, left half: after losing the parent, the automatic rule took a 'face' on the
    dark clothing at the bottom left (eyes, mouth and nose regions without contrast: visible 0),
    and the parent's clear frontal face at frames 168-178 waited beside it, untracked. A new target
    is no longer taken from such a fit."""
    r = ct.evaluate_video(CHILDREN / "3dC3SQ.joke2.rep3.take1.Peekaboo.mp4", ("left",), limit=180)[0]
    frames = [f for f in r.frames if 168 <= f.frame <= 178]
    assert all(f.of_good for f in frames)
    assert sum(f.tracked and f.same for f in frames) >= 10, [(f.frame, f.tracked, f.same) for f in frames]


def test_a_target_never_fitted_well_is_not_waited_for():
    """3dC3SQ.joke5.rep2, left half: the automatic rule took a face reflected in the dark TV screen
    behind the parent (3 good fits); when it was lost, the tracker waited beside it for
    ``lost_after`` frames while the parent's clear frontal face (frames 142-155) stayed untracked.
    A target never established (fewer than ``established_fits`` scoring fits) is no longer waited
    for, and the re-pick is counted."""
    from auepa_monitor.core.face import FaceTracker

    trackers = []

    def make():
        trackers.append(FaceTracker())
        return trackers[-1]

    r = ct.evaluate_video(CHILDREN / "3dC3SQ.joke5.rep2.take1.NomNomNom.mp4", ("left",), limit=156,
                          tracker_factory=make)[0]
    frames = [f for f in r.frames if 142 <= f.frame <= 155]
    assert all(f.of_good for f in frames)
    assert sum(f.tracked and f.same for f in frames) >= 12, [(f.frame, f.tracked, f.same) for f in frames]
    assert trackers[0].reacquired >= 1


def test_held_fits_keep_the_turned_child_and_are_never_scored(right_subset):
    """On turned frames the landmark network's presence drops under 0.5 with its points still on the
    face: those frames keep the target's box (held fits), mostly on OpenFace's face, with quality 0."""
    held = [f for r in right_subset for f in r.frames if f.held]
    assert len(held) >= 8, len(held)  # measured 19 (5 of them OpenFace-good, 4 same face)
    assert all(f.quality == 0.0 for f in held)
    ref_good = [f for f in held if f.of_good]
    assert ref_good, "no held frame where OpenFace's fit is good"
    same = sum(f.same for f in ref_good)
    assert same / len(ref_good) >= HELD_SAME_FLOOR, f"{same}/{len(ref_good)} held good frames on OpenFace's face"


@pytest.mark.parametrize("roi", [DRIFT_ROI, LOOSE_DRIFT_ROI], ids=["tight", "loose"])
def test_roi_target_never_drifts_to_parent(roi):
    """Full frame, target = the child (ROI): no fit on the parent's face, box center stays right."""
    recs = ct.evaluate_full_frame(CHILDREN / DRIFT_VIDEO, roi=roi)
    assert len(recs) == 119
    fitted = [r for r in recs if r.box is not None]
    assert len(fitted) > 60  # the test means something only if the child is tracked
    on_parent = [(r.frame, [round(v) for v in r.box]) for r in fitted if r.on_left]
    left_of_middle = [(r.frame, [round(v) for v in r.box]) for r in fitted if r.center_x <= 320]
    assert not on_parent, f"fit on the parent's face (left-half OpenFace landmarks): {on_parent}"
    assert not left_of_middle, f"box center left of x=320 (the parent's side): {left_of_middle}"
    # Where the right-half OpenFace fit is the child, we are on it at least sometimes.
    assert sum(r.on_right for r in fitted) > 30


def _roi_from_openface(lm68):
    """The landmark ROI around OpenFace's 68 points (their box raised by a third for the forehead,
    which the 68 points leave out), levelled on OpenFace's eye centres."""
    from auepa_monitor.core.face_nets import roi_from_points

    lo, hi = lm68.min(axis=0), lm68.max(axis=0)
    h = hi[1] - lo[1]
    return roi_from_points((lo[0], lo[1] - h / 3, hi[0] - lo[0], h * 4 / 3), lm68[36:42].mean(axis=0),
                           lm68[42:48].mean(axis=0))


def test_mirrored_view_finds_a_turned_child_the_direct_view_misses(tracker):
    """3dC3SQ.joke4.rep3, right half, frame 32: the toddler turned (OpenFace yaw -29 deg, a good fit).
    On the ROI around OpenFace's face the landmark network's presence is 0.27, under the tracker's
    0.5; on the same crop mirrored it is 0.94, and the fit mapped back lies on OpenFace's face."""
    import cv2
    import numpy as np

    video = CHILDREN / "3dC3SQ.joke4.rep3.take1.ThatsNotAHat.mp4"
    ref = ct.load_reference(ct.reference_csv(video, "right"))
    frame = next(f for i, f in ct.decoded_frames(video, 32) if i == 32)
    rgb = cv2.cvtColor(np.ascontiguousarray(frame[:, 320:]), cv2.COLOR_BGR2RGB)
    assert ref.good[32] and ref.yaw_deg[32] < -25
    roi = _roi_from_openface(ref.landmarks[32])
    direct = tracker.nets.landmarks(rgb, roi)
    mirrored = tracker.nets.landmarks(rgb, roi, mirror=True)
    assert direct[1] < tracker.presence_min <= mirrored[1], (direct[1], mirrored[1])
    assert ct.same_face(mirrored[0], ref.landmarks[32]), ct.face_error(mirrored[0], ref.landmarks[32])


def test_automatic_target_moves_from_the_parent_to_the_child_and_says_so():
    """4JDccE.joke1.rep1, no ROI: at the first frames the toddler (right) is turned and the rule takes
    the parent (left). Once the toddler's face is fitted and clearly more child-like at two checks
    in a row, the target moves to it: that frame's row says ``target_switched`` (unscored), and from
    there the rows carry face_id 1 and are measured against the toddler's own neutral."""
    from auepa_monitor.core.engines import make_au_engine
    from auepa_monitor.core.face import FaceTracker
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    def run(pick):
        pipe = Pipeline(tracker=FaceTracker(pick=pick), au_engine=make_au_engine(neutral="recording"))
        src = VideoFileSource(CHILDREN / "4JDccE.joke1.rep1.take1.NomNomNom.mp4")
        rows = [pipe.process(src.read()) for _ in range(140)]
        src.close()
        return pipe, rows

    pipe, rows = run("youngest")
    switched = [r for r in rows if r.reason == "target_switched"]
    assert len(switched) == 1 and pipe.tracker.switched == 1, [r.frame for r in switched]
    at = switched[0]
    assert at.face is not None and not at.success and at.face_id == 1
    cx = lambda r: r.face.box[0] + r.face.box[2] / 2  # noqa: E731
    assert cx(at) > 400  # the toddler
    before = [r for r in rows if r.frame < at.frame and r.face is not None]
    after = [r for r in rows if r.frame > at.frame and r.face is not None]
    assert before and all(r.face_id == 0 and cx(r) < 320 for r in before)  # the parent, face_id 0
    assert len(after) >= 15 and all(r.face_id == 1 and cx(r) > 320 for r in after)
    assert sum(r.success for r in after) >= 10
    faces = pipe.second_pass_faces()
    assert set(faces) == {0, 1} and faces[0][0] is not faces[1][0]
    kept = faces[1][0].kept_features()  # the toddler's engine saw only the toddler's frames
    assert len(kept.frames) and kept.frames.min() > at.frame
    # The old rule keeps the largest face, the parent, and never moves.
    pipe, rows = run("largest")
    assert pipe.tracker.switched == 0 and {r.face_id for r in rows} == {0}
    assert pipe.second_pass_faces().keys() == {None}


def test_automatic_target_moves_back_to_the_child_at_the_person_check_margin():
    """4JDccE.joke1.rep1, no ROI, later on: the toddler is lost at frame ~252 and the rule takes the
    parent again, whose proportions now read 0.54 (she leans in); the toddler, fitted at reviews
    from frame 409 on, reads 0.43-0.45. That gap (0.10-0.11) is another person by the person check's
    margin, and the target moves back to the toddler (at the first margin, 0.12, it stayed on the
    parent until a loss at frame 461)."""
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import Frame

    pipe = Pipeline()
    rows = [pipe.process(Frame(i, (i - 1) / 30.0, img))
            for i, img in ct.decoded_frames(CHILDREN / "4JDccE.joke1.rep1.take1.NomNomNom.mp4", 445)]
    switched = [r for r in rows if r.reason == "target_switched"]
    assert len(switched) == 2 and switched[0].frame < 140 and 400 <= switched[1].frame <= 445, \
        [r.frame for r in switched]
    cx = lambda r: r.face.box[0] + r.face.box[2] / 2  # noqa: E731
    assert all(cx(r) > 320 for r in switched)  # both times to the toddler (right)
    parent = rows[switched[1].frame - 2]
    assert parent.face is not None and cx(parent) < 320 and parent.face_id == switched[1].face_id - 1


def test_a_face_found_again_that_is_another_person_gets_a_new_face_id():
    """3dC3SQ.joke3.rep2, no ROI: the toddler (right) is followed, lost as they turn away, and the
    face found again near their last place after the loss is the parent's (left; the issue's drift
    case without a ROI). Over its next fits the face's proportions are the parent's: the row of the
    decision says ``person_changed`` (unscored, box kept) and from there the rows carry face_id 1,
    measured against the parent's own neutral. A face found again that is the same person keeps its
    id: the toddler tracked through the first 90 frames is one person, and so is a parent alone in
    their half, found again six times (4JDccE.joke2.rep2, left)."""
    from auepa_monitor.core.face import FaceTracker
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    pipe = Pipeline()
    src = VideoFileSource(CHILDREN / "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4")
    rows, learnt = [], {0: 0}  # frame -> good fits the toddler's running neutral has learnt from
    while (f := src.read()) is not None:
        rows.append(pipe.process(f))
        faces = pipe.second_pass_faces()  # {None: ...} while the target was one person
        learnt[f.index] = faces.get(0, faces.get(None))[0].neutral._n
    src.close()
    changed = [r for r in rows if r.reason == "person_changed"]
    assert len(changed) == 1 and pipe.tracker.person_changes == 1, [r.frame for r in changed]
    # The parent's frames on probation (before the decision) were measured but did not move the
    # toddler's running neutral: live there is no taking them back out.
    probation = [f for f, old in pipe.moved_rows if old == 0]
    assert any(rows[f - 1].success for f in probation), probation
    assert all(learnt[f] == learnt[f - 1] for f in probation), [(f, learnt[f]) for f in probation]
    at = changed[0]
    assert at.face is not None and not at.success and at.face_id == 1
    cx = lambda r: r.face.box[0] + r.face.box[2] / 2  # noqa: E731
    tracked = [r for r in rows if r.face is not None]
    child = [r for r in tracked if r.frame < 95]
    assert len(child) >= 60 and all(r.face_id == 0 and cx(r) > 320 for r in child)  # the toddler
    after = [r for r in tracked if r.frame >= at.frame]
    assert after and all(r.face_id == 1 and cx(r) < 320 for r in after)  # the parent
    faces = pipe.second_pass_faces()
    assert set(faces) == {0, 1} and faces[0][0] is not faces[1][0]

    tracker = FaceTracker()
    for _, frame in ct.decoded_frames(CHILDREN / "4JDccE.joke2.rep2.take1.ThatsNotAHat.mp4"):
        tracker.process(frame[:, :320].copy())
    assert tracker.person_changes == 0


def test_after_a_seek_the_face_picked_is_checked_against_the_person_before():
    """3dC3SQ.joke3.rep2, no ROI, as the window plays it: the toddler (right) is followed to frame
    90, then the user seeks (the player calls ``Pipeline.reset()``). Seeking to frame 105, where the
    toddler has turned away, the face picked is the parent's (left): its proportions over the next
    fits are not the toddler's, so it gets a new face_id (``person_changed``), as a face found again
    after a loss does; before, the parent went on under the toddler's face_id. Seeking to frame 60
    instead, within the toddler's stretch, keeps face_id 0."""
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import VideoFileSource

    def play(seek_to: int, last: int, keep_person: bool = True) -> list:
        pipe = Pipeline()
        src = VideoFileSource(CHILDREN / "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4")
        rows = []
        try:
            while (f := src.read()) is not None and f.index <= last:
                if f.index == seek_to:
                    pipe.reset(keep_person=keep_person)
                if f.index <= 90 or f.index >= seek_to:
                    rows.append(pipe.process(f))
        finally:
            src.close()
            pipe.close()
        assert all(r.face_id == 0 for r in rows if r.frame <= 90)
        return [r for r in rows if r.frame >= seek_to and r.face is not None]

    cx = lambda r: r.face.box[0] + r.face.box[2] / 2  # noqa: E731
    after = play(105, 119)
    assert after and all(cx(r) < 320 for r in after)  # the parent
    assert [r.reason for r in after].count("person_changed") == 1 and after[-1].face_id == 1
    assert {r.face_id for r in play(105, 119, keep_person=False)} == {0}  # the rule before
    within = play(60, 80)
    assert len(within) >= 15 and all(cx(r) > 320 and r.face_id == 0 for r in within)


def test_a_target_lost_before_its_proportions_settled_is_checked_too():
    """4JDccE.joke3.rep3, full frame, no ROI: the toddler (right) is followed for about 40 fits,
    fewer than the signature needs to settle, lost, and the face found again is the parent's. The
    median of all the toddler's fits so far tells them apart: the parent gets a new face_id (frames
    on a face_id that is mostly the other person 20 -> 0: the probation frames before the decision
    are moved to the parent's face_id, as analyze's second pass does)."""
    from auepa_monitor.core.face import FaceTracker

    video = CHILDREN / "4JDccE.joke3.rep3.take1.Peekaboo.mp4"
    runs = {}
    for check in (False, True):
        tracker = FaceTracker(check_person=check)
        recs = ct.evaluate_full_frame(video, tracker_factory=lambda t=tracker: t)
        runs[check] = (ct.mixed_id_frames(recs), tracker.person_changes)
    assert runs[False][0] >= 15 and runs[False][1] == 0
    assert runs[True][0] <= 1 and runs[True][1] == 1, runs


def test_a_lost_target_the_network_cannot_fit_does_not_keep_the_child_waiting():
    """3dC3SQ.joke3.rep3, full frame, no ROI: the rule picks the parent (the two faces' proportions
    0.55 and 0.50 do not tell), who turns to a profile at frame 12 that the detector still sees and
    the landmark network cannot fit. The toddler laughs in plain view; the tracker used to wait at
    the parent's place until frame 69. Past ``lost_after`` misses it now takes the toddler, as a new
    person, and never the parent meanwhile."""
    recs = ct.evaluate_full_frame(CHILDREN / "3dC3SQ.joke3.rep3.take1.ThatsNotACat.mp4", limit=45)
    waited = recs[12:26]  # frames 13-26: within lost_after of the loss
    assert all(r.box is None for r in waited)
    later = [r for r in recs[26:] if r.box is not None]
    assert sum(r.on_right for r in later) >= 12 and not any(r.on_left for r in later), \
        [(r.frame, r.on_left, r.on_right) for r in recs[26:]]
    assert {r.face_id for r in later} == {recs[0].face_id + 1}


def test_analyze_moves_the_probation_rows_of_another_person_to_their_face_id(tmp_path):
    """4JDccE.joke3.rep3 through ``analyze`` (no ROI): the face found again after the toddler
    (right) is lost is the parent (left). The probation frames before the decision were written under
    the toddler's face_id; the second pass moves them, and their features, to the parent's: every
    row of face_id 0 is on the toddler's side, every row of face_id 1 on the parent's, and each
    person's rows are measured against their own whole recording (a probation frame left in the
    wrong engine would leave a scored row without an estimate, and the pass would not run)."""
    import csv
    import json

    from auepa_monitor.cli import main

    video = CHILDREN / "4JDccE.joke3.rep3.take1.Peekaboo.mp4"
    assert main(["analyze", str(video), "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / f"{video.stem}.summary.json").read_text())
    assert summary["person_changes"] == 1 and summary["rows_moved_to_new_face_id"] >= 3, summary
    assert summary["au_neutral"] == "whole recording, each face its own (face_id 0, 1)"
    rows = [r for r in csv.DictReader((tmp_path / f"{video.stem}.csv").open()) if r["face_x"]]
    side = {fid: {float(r["face_x"]) + float(r["face_w"]) / 2 > 320 for r in rows if r["face_id"] == fid}
            for fid in ("0", "1")}
    assert side == {"0": {True}, "1": {False}}, side
    at = next(i for i, r in enumerate(rows) if r["reason"] == "person_changed")
    before = rows[at - summary["rows_moved_to_new_face_id"]:at]
    assert all(r["face_id"] == "1" and r["success"] == "1" for r in before)


def test_all_faces_benchmark_counts_ids_that_cover_two_people(capsys):
    """``children_tracking.py --all-faces`` (the README's --faces all figures): on 4JDccE.joke2.rep3,
    where the parent's track is handed the toddler's face at frame ~135, the run without the person
    check has rows of one face_id on both people, the default run splits them at a person_changed row
    (and moves the probation rows before it, as analyze's second pass does)."""
    assert ct.main(["--all-faces", "--videos", "4JDccE.joke2.rep3*", "--limit", "170"]) == 0
    lines = capsys.readouterr().out.splitlines()
    fig = {ln[:32].strip(): [int(v) for v in ln[32:].split()] for ln in lines[1:3]}
    rows0, ids0, mixed0, changed0 = fig["no person check"]
    rows1, ids1, mixed1, changed1 = fig["person check (default)"]
    assert changed0 == 0 and changed1 >= 1 and ids1 == ids0 + changed1
    assert mixed0 >= 10 and mixed1 <= 1, fig  # the probation frames before the decision moved too
    # The per-face label: the toddler's id reads as a child's, the parent's long id as an adult's.
    looks = {ln.split()[1]: [int(v) for v in ln.split()[2:]] for ln in lines if ln.startswith("  4JDccE ")}
    assert looks["child"][0] >= 1 and looks["child"][1] == 0, looks
    assert looks["adult"][1] >= 1 and looks["adult"][0] == 0, looks


def test_choosing_another_face_starts_a_new_person_and_choosing_the_same_keeps_it():
    """3dC3SQ.joke1.rep1: the automatic target is the toddler (right). A click on the parent (left)
    is a new person: face_id 1 from there, measured against the parent's own neutral, not the
    toddler's. Choosing the followed face again (a region on it) keeps the person."""
    import cv2

    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import Frame

    pipe = Pipeline()
    rows = []
    for i, img in ct.decoded_frames(CHILDREN / "3dC3SQ.joke1.rep1.take1.TearingPaper.mp4", 80):
        if i == 31:
            dets = pipe.tracker.detect(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            parent = [d.box for d in dets if d.box[0] + d.box[2] / 2 < 320]
            assert parent, [d.box for d in dets]
            pipe.set_target(parent[0])
        if i == 61:
            pipe.set_target(rows[-1].face.box)  # the parent's face again
        rows.append(pipe.process(Frame(i, (i - 1) / 30.0, img)))
    cx = lambda r: r.face.box[0] + r.face.box[2] / 2  # noqa: E731
    before = [r for r in rows[:30] if r.face is not None]
    after = [r for r in rows[30:] if r.face is not None]
    assert len(before) >= 20 and all(r.face_id == 0 and cx(r) > 320 for r in before)
    assert len(after) >= 40 and all(r.face_id == 1 and cx(r) < 320 for r in after)
    faces = pipe.second_pass_faces()
    assert set(faces) == {0, 1} and faces[0][0] is not faces[1][0]
    # Another source in the same window: its people are numbered from 0 again, with one engine.
    pipe.new_source()
    assert pipe.tracker.target_id == 0 and pipe.tracker.person_changes == 0
    again = [pipe.process(Frame(i, (i - 1) / 30.0, img))
             for i, img in ct.decoded_frames(CHILDREN / "3dC3SQ.joke2.rep1.take1.Peekaboo.mp4", 10)]
    assert [r.face_id for r in again] == [0] * 10 and any(r.face is not None for r in again)
    assert set(pipe.second_pass_faces()) == {None}
