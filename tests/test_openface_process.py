"""Finding, running, watching, killing and caching OpenFace's FeatureExtraction.

These tests are about PROCESS HANDLING ONLY. No real OpenFace exists on the test machines,
so FeatureExtraction is played by a stand-in executable (tests/fixtures/fake_feature_extraction.py)
that replays OpenFace 2.2's real output for the sample media; the AU values themselves are
checked against those real outputs in test_openface_csv.py and test_openface_pipeline.py.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from conftest import make_openface_install

from auepa_monitor.core.errors import EngineUnavailable
from auepa_monitor.core.openface import (
    BIN_ENV,
    LIVE_REFUSAL,
    OpenFaceAUEngine,
    OpenFaceCache,
    content_key,
    find_feature_extraction,
    openface_engine_for,
    run_feature_extraction,
)
from auepa_monitor.core.openface_csv import read_openface_csv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in is started through a POSIX shell wrapper")

STANDIN = Path(__file__).resolve().parent / "fixtures" / "fake_feature_extraction.py"


@pytest.fixture
def install(tmp_path, monkeypatch, openface_ref_dir):
    exe = make_openface_install(tmp_path / "openface")
    monkeypatch.delenv(BIN_ENV, raising=False)
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "default.csv"))
    monkeypatch.setenv("FAKE_OF_MODE", "ok")
    return exe


@pytest.fixture
def video(faces_dir):
    return faces_dir / "default.wmv"


# ----------------------------------------------------------------------------- finding


def test_not_found_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(BIN_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineUnavailable) as e:
        find_feature_extraction(None)
    msg = str(e.value)
    assert "--openface-bin" in msg and BIN_ENV in msg and "PATH" in msg
    with pytest.raises(EngineUnavailable, match="setting '/no/such/FeatureExtraction'"):
        find_feature_extraction("/no/such/FeatureExtraction")
    monkeypatch.setenv(BIN_ENV, str(tmp_path / "nothing"))
    with pytest.raises(EngineUnavailable, match=BIN_ENV):
        find_feature_extraction(None)


def test_order_setting_then_env_then_path(tmp_path, monkeypatch):
    a = make_openface_install(tmp_path / "a")
    b = make_openface_install(tmp_path / "b")
    c = make_openface_install(tmp_path / "c")
    monkeypatch.setenv("PATH", str(c.parent))
    monkeypatch.setenv(BIN_ENV, str(b))
    assert find_feature_extraction(a).exe == a and find_feature_extraction(a).found_by == "setting"
    assert find_feature_extraction(a.parent).exe == a  # the folder holding it also works
    assert find_feature_extraction(None).exe == b
    monkeypatch.delenv(BIN_ENV)
    found = find_feature_extraction(None)
    assert found.exe.resolve() == c.resolve() and found.found_by == "PATH"


def test_clnf_chosen_when_cen_experts_missing(tmp_path, caplog):
    exe = make_openface_install(tmp_path / "plain")
    with caplog.at_level("WARNING"):
        inst = find_feature_extraction(exe)
    assert inst.mloc == exe.parent / "model" / "main_clnf_general.txt"
    assert "CEN patch experts not found" in inst.notes[0] and "main_clnf_general" in caplog.text
    full = make_openface_install(tmp_path / "full", cen=True)
    inst = find_feature_extraction(full)
    assert inst.mloc is None and inst.notes == ()


def test_moved_model_folder(tmp_path):
    exe = make_openface_install(tmp_path / "of")
    shutil.move(exe.parent / "model", tmp_path / "elsewhere")
    with pytest.raises(EngineUnavailable, match="model folder is missing: looked for .*of/bin/model"):
        find_feature_extraction(exe)
    shutil.move(tmp_path / "elsewhere", exe.parent / "model")
    shutil.rmtree(exe.parent / "AU_predictors")
    with pytest.raises(EngineUnavailable, match="AU models are missing"):
        find_feature_extraction(exe)


def test_not_executable(tmp_path):
    exe = make_openface_install(tmp_path / "of")
    exe.chmod(0o644)
    with pytest.raises(EngineUnavailable, match="not executable"):
        find_feature_extraction(exe)


def test_broken_binary_is_reported(tmp_path, video):
    exe = make_openface_install(tmp_path / "of")
    exe.write_bytes(b"\x7fELF\x02\x01\x01garbage")  # executable bit set, not a program
    inst = find_feature_extraction(exe)
    with pytest.raises(EngineUnavailable, match="cannot be started"):
        run_feature_extraction(inst, video, tmp_path / "out")


# ----------------------------------------------------------------------------- running


def test_run_replays_with_progress_and_mloc(install, video, tmp_path, monkeypatch, openface_ref_dir):
    argv_file = tmp_path / "argv.txt"
    monkeypatch.setenv("FAKE_OF_ARGV", str(argv_file))
    seen: list[tuple[int, int]] = []
    csv = run_feature_extraction(find_feature_extraction(install), video, tmp_path / "out",
                                 progress=lambda d, t: seen.append((d, t)))
    argv = argv_file.read_text().splitlines()
    assert argv[:2] == ["-f", str(video)]
    assert {"-aus", "-pose", "-2Dfp"} <= set(argv)
    assert argv[argv.index("-mloc") + 1] == str(install.parent / "model" / "main_clnf_general.txt")
    assert argv[argv.index("-out_dir") + 1] == str(tmp_path / "out")
    assert seen[-1] == (288, 288) and all(t == 288 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) >= 3
    t = read_openface_csv(csv)  # the stand-in writes ", " separators like OpenFace
    ref = read_openface_csv(openface_ref_dir / "default.csv")
    assert (t.aus[12] == ref.aus[12]).all() and len(t) == 288


def test_nonzero_exit_gives_stderr_tail(install, video, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_OF_MODE", "fail")
    with pytest.raises(EngineUnavailable, match=r"failed on default.wmv \(exit code 3\): .*stand-in asked to fail"):
        run_feature_extraction(find_feature_extraction(install), video, tmp_path / "out")


def test_landmark_model_missing_at_run_time(install, video, tmp_path):
    inst = find_feature_extraction(install)
    (install.parent / "model" / "main_clnf_general.txt").unlink()  # removed after the check
    with pytest.raises(EngineUnavailable, match="exit code 1.*Could not load the landmark detector"):
        run_feature_extraction(inst, video, tmp_path / "out")


def test_exit_zero_without_csv(install, video, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_OF_MODE", "nocsv")
    with pytest.raises(EngineUnavailable, match="wrote no CSV"):
        run_feature_extraction(find_feature_extraction(install), video, tmp_path / "out")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_hang_is_killed_after_stall_timeout(install, video, tmp_path, monkeypatch):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_OF_MODE", "hang")
    monkeypatch.setenv("FAKE_OF_PIDFILE", str(pidfile))
    t0 = time.monotonic()
    with pytest.raises(EngineUnavailable, match="no progress for 1.5 s"):
        run_feature_extraction(find_feature_extraction(install), video, tmp_path / "out", stall_timeout_s=1.5)
    assert time.monotonic() - t0 < 60  # generous: only proves it returned rather than hanging
    assert _gone(int(pidfile.read_text()))


def test_overall_timeout_and_cancel(install, video, tmp_path, monkeypatch):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("FAKE_OF_MODE", "hang")
    monkeypatch.setenv("FAKE_OF_PIDFILE", str(pidfile))
    with pytest.raises(EngineUnavailable, match="did not finish within 1 s"):
        run_feature_extraction(find_feature_extraction(install), video, tmp_path / "o1", timeout_s=1.0)
    assert _gone(int(pidfile.read_text()))
    calls = []
    with pytest.raises(EngineUnavailable, match="cancelled"):
        run_feature_extraction(find_feature_extraction(install), video, tmp_path / "o2",
                               should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert _gone(int(pidfile.read_text()))


# ----------------------------------------------------------------------------- engine + cache


def test_engine_truncated_csv_drops_last_frame(install, video, tmp_path, monkeypatch):
    from auepa_monitor.core.pipeline import AUValuesMissing
    from auepa_monitor.core.sources import Frame

    monkeypatch.setenv("FAKE_OF_MODE", "truncate")
    eng = OpenFaceAUEngine(video, binary=install, cache_dir=tmp_path / "cache", check_face=False)
    assert eng.table.truncated and len(eng.table) == 287
    assert any("ended mid-line" in n for n in eng.info.notes)
    img = None
    assert eng.estimate(None, Frame(287, 0.0, img))[12] == pytest.approx(float(eng.table.aus[12][286]))
    with pytest.raises(AUValuesMissing, match="no row for frame 288"):
        eng.estimate(None, Frame(288, 0.0, img))


def test_cache_by_content_second_open_does_not_run(install, video, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = OpenFaceAUEngine(video, binary=install, cache_dir=cache)
    assert not first.info.from_cache
    assert len(list(cache.glob("*.csv"))) == 1 and len(list(cache.glob("*.json"))) == 1
    (npz,) = cache.glob("*.npz")  # the parsed table, so a long video's second open needs no parsing
    monkeypatch.setenv("FAKE_OF_MODE", "fail")  # a second run would now fail: the cache must answer
    copy = tmp_path / "renamed_copy.wmv"
    shutil.copyfile(video, copy)
    again = OpenFaceAUEngine(copy, binary=install, cache_dir=cache)
    assert again.info.from_cache
    assert (again.table.aus[6] == first.table.aus[6]).all()
    assert (again.table.landmarks == first.table.landmarks).all() and again.table.path == first.table.path
    good = npz.read_bytes()
    for damaged in (b"damaged", good[: len(good) // 2]):  # a damaged parsed entry falls back to the stored CSV
        npz.write_bytes(damaged)
        third = OpenFaceAUEngine(video, binary=install, cache_dir=cache)
        assert third.info.from_cache and (third.table.aus[6] == first.table.aus[6]).all()
    with open(copy, "r+b") as fh:  # other content: a cache miss, so OpenFace runs (and here fails)
        fh.seek(1000)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(EngineUnavailable, match="exit code 3"):
        OpenFaceAUEngine(copy, binary=install, cache_dir=cache)


def test_cache_key_depends_on_install(install, video, tmp_path):
    other = make_openface_install(tmp_path / "other", cen=True)
    c = OpenFaceCache(tmp_path / "cache")
    assert c.key(video, find_feature_extraction(install)) != c.key(video, find_feature_extraction(other))


def test_content_key_sampled_for_large_files(tmp_path):
    p = tmp_path / "big.bin"
    p.write_bytes(os.urandom(3 << 20))
    k = content_key(p, whole_limit=1 << 20, chunk=1 << 16, samples=8)
    assert k == content_key(p, whole_limit=1 << 20, chunk=1 << 16, samples=8)
    with open(p, "r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))  # a different byte (random data may start with any)
    assert content_key(p, whole_limit=1 << 20, chunk=1 << 16, samples=8) != k
    assert content_key(p) != k  # whole-file hash below the default limit


def test_live_sources_are_refused(install, video, tmp_path):
    for src in (0, "1", "/dev/video0"):
        with pytest.raises(EngineUnavailable) as e:
            OpenFaceAUEngine(src, binary=install)
        assert str(e.value) == LIVE_REFUSAL and "embedded engine" in LIVE_REFUSAL
        assert openface_engine_for(src, install) == (None, LIVE_REFUSAL)
    with pytest.raises(EngineUnavailable, match="none was given"):
        OpenFaceAUEngine(None, binary=install)
    assert openface_engine_for(None, install)[0] is None
    eng, note = openface_engine_for(video, install, cache_dir=tmp_path / "c")
    assert note == "" and eng.name == "openface" and len(eng.table) == 288 and eng.source == video


def test_missing_input(install, tmp_path):
    with pytest.raises(EngineUnavailable, match="does not exist"):
        OpenFaceAUEngine(tmp_path / "nope.mp4", binary=install, cache_dir=tmp_path / "c")


def test_with_cen_experts_no_mloc_is_passed(tmp_path, video, monkeypatch, openface_ref_dir):
    exe = make_openface_install(tmp_path / "full", cen=True)
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "default.csv"))
    monkeypatch.setenv("FAKE_OF_MODE", "ok")
    argv_file = tmp_path / "argv.txt"
    monkeypatch.setenv("FAKE_OF_ARGV", str(argv_file))
    run_feature_extraction(find_feature_extraction(exe), video, tmp_path / "out")
    assert "-mloc" not in argv_file.read_text().splitlines()


def test_image_folder_and_still_use_fdir(install, faces_dir, tmp_path, monkeypatch, openface_ref_dir):
    monkeypatch.setenv("FAKE_OF_CSV", str(openface_ref_dir / "image_sequence.csv"))
    argv_file = tmp_path / "argv.txt"
    monkeypatch.setenv("FAKE_OF_ARGV", str(argv_file))
    seen = []
    run_feature_extraction(find_feature_extraction(install), faces_dir / "image_sequence", tmp_path / "o1",
                           progress=lambda d, t: seen.append((d, t)))
    argv = argv_file.read_text().splitlines()
    assert argv[:2] == ["-fdir", str(faces_dir / "image_sequence")] and "-au_static" not in argv
    assert seen[-1] == (30, 30)
    run_feature_extraction(find_feature_extraction(install), faces_dir / "sample1.jpg", tmp_path / "o2")
    argv = argv_file.read_text().splitlines()
    assert argv[0] == "-fdir" and "-au_static" in argv  # a still: one-image sequence, static AU models
    assert [p.name for p in Path(argv[1]).iterdir()] == ["sample1.jpg"]


def test_compare_engines_without_openface_says_so_and_exits_0(tmp_path):
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != BIN_ENV}
    env["PATH"] = str(tmp_path)  # no FeatureExtraction anywhere
    # Any existing file serves as the input: the script stops before reading it.
    p = subprocess.run([sys.executable, str(repo / "benchmarks" / "compare_engines.py"), str(STANDIN)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "No real OpenFace FeatureExtraction available" in p.stdout and BIN_ENV in p.stdout


def test_compare_engines_against_a_reference_csv(faces_dir, openface_ref_dir):
    """The embedded engine through the app's frame loop against OpenFace's reference values of the same frames."""
    import re
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, str(repo / "benchmarks" / "compare_engines.py"), str(faces_dir / "default.wmv"),
                        "--reference", str(openface_ref_dir / "default.csv"), "--frames", "40"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "default.wmv: 40 frames, target face in 40, compared 40 (0 without" in p.stdout
    r = float(re.search(r"mean r over OpenFace's AUs: (-?[\d.]+)", p.stdout).group(1))
    assert 0.2 < r <= 1.0  # the engines agree on this face (0.42 over the whole file)
    fps = float(re.search(r"whole pipeline ([\d.]+) fps", p.stdout).group(1))
    assert fps > 5
