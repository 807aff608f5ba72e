"""The staged frame loop (decode -> track -> score in three threads) gives what the plain loop gives."""

from __future__ import annotations

import threading

import pytest

from auepa_monitor.core.frame_loop import in_thread, process_frames
from auepa_monitor.core.pipeline import Pipeline
from auepa_monitor.core.sources import open_source


def test_staged_loop_equals_frame_by_frame(faces_dir):
    video = faces_dir / "default.wmv"
    seq, src = Pipeline(), open_source(video)
    expected = []
    while len(expected) < 40 and (f := src.read()) is not None:
        expected.append(seq.process(f))
    src.close()
    src = open_source(video)
    got = list(process_frames(src, Pipeline(), max_frames=40))
    src.close()
    assert [f.index for f, _ in got] == [r.frame for r in expected] == list(range(1, 41))
    for (_, r), e in zip(got, expected, strict=True):
        assert r.reason == e.reason and r.au == pytest.approx(e.au) and r.pain_raw == pytest.approx(e.pain_raw)
        assert r.face.box == pytest.approx(e.face.box)


def test_stage_errors_arrive_in_order_and_threads_stop():
    def items():
        yield from range(5)
        raise OSError("disk gone")

    seen = []
    with pytest.raises(OSError, match="disk gone"):
        for x in in_thread(items(), lambda v: v * 10):
            seen.append(x)
    assert seen == [0, 10, 20, 30, 40]
    it = in_thread(iter(range(10**6)), name="auepa-test-stage")
    assert next(it) == 0
    it.close()  # an early stop ends the thread
    assert not any(t.name == "auepa-test-stage" and t.is_alive() for t in threading.enumerate())


def test_face_proportions_keep_their_median_in_constant_memory_and_follow_moved_rows():
    """``Pipeline.face_proportions`` counts values older than a probation in 0.005-wide bins (a
    monitor runs for days): the median stays within half a bin of the exact one, and values still
    recent go to the face_id a probation moved their rows to."""
    import numpy as np

    from auepa_monitor.core.pipeline import PROBATION_MAX, _Proportions

    values = np.random.default_rng(3).normal(0.55, 0.06, 5 * PROBATION_MAX)
    p = _Proportions()
    for i, v in enumerate(values, start=1):
        p.add(i, 0, float(v), {})
    assert len(p._recent) == PROBATION_MAX and int(p._counts[0].sum()) == 4 * PROBATION_MAX
    median, n = p.medians({})[0]
    assert n == len(values) and abs(median - float(np.median(values))) <= 0.0025 + 1e-9
    moved = {(i, 0): 1 for i in range(len(values) - 9, len(values) + 1)}  # the last 10 proved to be face 1
    got = p.medians(moved)
    assert got[1] == (float(np.median(values[-10:])), 10) and got[0][1] == len(values) - 10
