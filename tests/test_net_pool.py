"""The shared face-network pool of the ward (core/net_pool.py) on real frames.

Trackers whose networks run in the pool must track exactly as trackers with networks of their
own; on the batched path (torch, which CUDA uses; run here on the CPU) requests of several beds
that wait together go through one forward and each bed gets its own rows back.
"""

from __future__ import annotations

import itertools
import threading

import cv2
import numpy as np
import pytest

from auepa_monitor.core.face import FaceTracker
from auepa_monitor.core.face_nets import FaceNets, roi_from_detection
from auepa_monitor.core.net_pool import FaceNetPool, PoolClosed
from auepa_monitor.core.sources import VideoFileSource

VIDEOS = ("default.wmv", "multi_face.avi", "2015-10-15-15-14.avi")


def _frames(path, n: int) -> list[np.ndarray]:
    src = VideoFileSource(path)
    try:
        out = [f.image for f in itertools.islice(iter(src.read, None), n)]
    finally:
        src.close()
    assert len(out) == n, f"{path} gave {len(out)} frames"
    return out


def _track(tracker: FaceTracker, frames: list[np.ndarray]) -> np.ndarray:
    pts = []
    for img in frames:
        fit, _ = tracker.process(img)
        pts.append(fit.landmarks[:, :2] if fit is not None else np.full((478, 2), np.nan, np.float32))
    return np.stack(pts)


def test_pooled_trackers_track_as_their_own_networks(faces_dir):
    clips = {v: _frames(faces_dir / v, 25) for v in VIDEOS}
    alone = {v: _track(FaceTracker(), f) for v, f in clips.items()}
    pool = FaceNetPool(workers=2)
    try:
        got: dict[str, np.ndarray] = {}
        errors: list[BaseException] = []

        def bed(v: str) -> None:
            try:
                got[v] = _track(FaceTracker(nets=pool.client()), clips[v])
            except BaseException as e:  # noqa: BLE001 - reported by the assert below
                errors.append(e)

        threads = [threading.Thread(target=bed, args=(v,)) for v in VIDEOS]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        for v in VIDEOS:
            assert np.isfinite(alone[v]).all(axis=(1, 2)).sum() >= 20, f"{v}: the face was not tracked"
            np.testing.assert_allclose(got[v], alone[v], atol=1e-3, equal_nan=True, err_msg=v)
        assert pool.stats.items["landmarks"] >= 60
    finally:
        pool.close()


def test_batched_path_runs_several_beds_in_one_forward(faces_dir):
    """torch backend (the CUDA path) on the CPU: concurrent requests share forwards, rows stay each bed's."""
    direct = FaceNets(FaceTracker().model_path, backend="torch")
    items = []
    for v in VIDEOS:
        img = cv2.cvtColor(_frames(faces_dir / v, 1)[0], cv2.COLOR_BGR2RGB)
        det = max(direct.detect(img), key=lambda d: d.score)
        items.append((img, roi_from_detection(det)))
    want = [direct.landmarks(img, roi)[0] for img, roi in items]
    pool = FaceNetPool(workers=1, backend="torch", max_batch=8)
    try:
        clients = [pool.client() for _ in range(4)]
        got: dict[int, list[np.ndarray]] = {i: [] for i in range(4)}
        start = threading.Barrier(4)

        def bed(i: int) -> None:
            start.wait()
            for k in range(3):
                img, roi = items[(i + k) % len(items)]
                got[i].append(clients[i].landmarks(img, roi)[0])

        threads = [threading.Thread(target=bed, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for i in range(4):
            assert len(got[i]) == 3
            for k in range(3):
                np.testing.assert_allclose(got[i][k], want[(i + k) % len(items)], atol=0.01)
        s = pool.stats
        assert s.items["landmarks"] == 12
        assert s.largest["landmarks"] >= 2, "no two beds' requests went through one forward"
        assert s.batches["landmarks"] < 12
    finally:
        pool.close()


def test_a_failing_forward_reaches_its_caller_and_the_pool_goes_on(faces_dir):
    pool = FaceNetPool(workers=1)
    try:
        nets = pool.client()
        with pytest.raises(ValueError):
            nets.run_landmarks(np.zeros((1, 10, 10, 3), np.uint8))  # not the network's input shape
        img = cv2.cvtColor(_frames(faces_dir / "default.wmv", 1)[0], cv2.COLOR_BGR2RGB)
        assert nets.detect(img), "the pool stopped working after a failed request"
    finally:
        pool.close()
    with pytest.raises(PoolClosed):
        nets.detect(img)
