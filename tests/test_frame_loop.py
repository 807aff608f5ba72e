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
