"""Frame -> crop -> AU extraction on real sample media, and its content-keyed cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from auepa_monitor.core.au_regions import CROP_SIZE
from auepa_monitor.core.records import REPORTED_AUS
from training.extract import REGION_NAMES, Extractor, RowSamples, read_frames
from training.manifest import Row


def row(media: Path, time_s: float = 0.0, line: int = 2) -> Row:
    return Row(line, "s1", "d", media.resolve(), time_s, 5.0, "flacc")


def test_consecutive_frames_from_the_time_point(faces_dir: Path) -> None:
    frames = read_frames(row(faces_dir / "default.wmv", 2.0), 5)  # 15 fps: frames 31-35
    assert [f.index for f in frames] == [31, 32, 33, 34, 35]
    seq = read_frames(row(faces_dir / "image_sequence", 0.5), 4)  # folder at 30 fps: frame 16 on
    assert [f.index for f in seq] == [16, 17, 18, 19]
    assert len(read_frames(row(faces_dir / "sample1.jpg"), 30)) == 1  # a still is one frame


def test_extract_and_content_keyed_cache(faces_dir: Path, tmp_path: Path) -> None:
    img = tmp_path / "a.jpg"
    shutil.copy(faces_dir / "sample1.jpg", img)
    ex = Extractor(tmp_path / "cache", n_frames=3)
    try:
        s = ex.run([row(img), row(faces_dir / "image_sequence", 0.0, 3)], progress=False)
    finally:
        ex.close()
    assert len(s) == 4 and ex.stats["cached_rows"] == 0
    assert s.crop(0).shape == (CROP_SIZE, CROP_SIZE, 3) and s.crop(0).dtype == np.uint8
    assert s.au.shape == (4, len(REPORTED_AUS)) and 0 <= s.au.min() and s.au.max() <= 5
    c = s.centers(0)
    assert set(c) == set(REGION_NAMES)
    assert all(0 <= v[0] < CROP_SIZE and 0 <= v[1] < CROP_SIZE for v in c.values())  # regions on the crop
    # The same content under another name comes from the cache; changed content does not.
    renamed = tmp_path / "b.jpg"
    shutil.copy(img, renamed)
    ex2 = Extractor(tmp_path / "cache", n_frames=3)
    s2 = ex2.run([row(renamed)], progress=False)
    assert ex2.stats["cached_rows"] == 1
    np.testing.assert_array_equal(s2.crop(0), s.crop(0))
    np.testing.assert_array_equal(s2.au, s.au[:1])
    import cv2

    cv2.imwrite(str(renamed), cv2.flip(cv2.imread(str(img)), 1))
    s3 = ex2.run([row(renamed)], progress=False)
    ex2.close()
    assert ex2.stats["cached_rows"] == 1 and ex2.stats["rows"] == 2  # the flipped file was extracted anew
    assert not np.array_equal(s3.crop(0), s.crop(0))


def test_frames_without_au_values_are_left_out() -> None:
    crops = np.zeros((3, 4, 4, 3), np.uint8)
    crops[1] += 1
    crops[2] += 2
    au = np.ones((3, 2), np.float32)
    au[1, 0] = np.nan  # the engine had no value for frame 2
    rs = RowSamples.usable(row(Path(".")), crops, np.zeros((3, 5, 2), np.float32), np.array([1, 2, 3]), au, 3)
    assert rs.frames.tolist() == [1, 3] and len(rs.au) == 2
    assert rs.crop(1)[0, 0, 0] == 2  # the crop of frame 3, not frame 2


@pytest.mark.parametrize("engine", ["openface", "nonsense"])
def test_unavailable_engine_is_reported_before_any_work(tmp_path: Path, engine: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from auepa_monitor.core.errors import EngineUnavailable

    monkeypatch.setenv("AUEPA_OPENFACE_BIN", str(tmp_path / "no_openface_here"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineUnavailable):
        Extractor(tmp_path / "cache", au_engine=engine)


def test_openface_engine_tag_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The extraction cache is keyed by the OpenFace install (issue 12 defect 9: this crashed)."""
    from conftest import make_openface_install

    exe = make_openface_install(tmp_path / "of")
    monkeypatch.setenv("AUEPA_OPENFACE_BIN", str(exe))
    tag = Extractor(tmp_path / "cache", au_engine="openface")._engine_tag()
    assert tag.startswith("openface-") and len(tag) == len("openface-") + 8


def test_video_row_measured_in_frame_order_through_the_frame_loop(faces_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A video row runs through the app's staged frame loop (tracking ahead in its own thread):
    the samples keep the row's frames, in order, with the tried count of the frames read."""
    import threading

    from training.extract import RowChain

    seen: list[str] = []
    track = RowChain.track

    def noting(self, frame):  # the real tracking stage; notes which thread ran it
        seen.append(threading.current_thread().name)
        return track(self, frame)

    monkeypatch.setattr(RowChain, "track", noting)
    ex = Extractor(tmp_path / "cache", n_frames=6)
    try:
        s = ex.run([row(faces_dir / "default.wmv", 2.0)], progress=False)  # 15 fps: frames 31-36
    finally:
        ex.close()
    r = s.rows[0]
    assert r.tried == 6 and r.frames.tolist() == [31, 32, 33, 34, 35, 36]  # a face in each
    assert len(r.au) == 6 and np.isfinite(r.au).all()
    assert seen == ["auepa-track"] * 6  # not the caller's thread: the loop's tracking stage
