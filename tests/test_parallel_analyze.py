"""``analyze --workers N`` and ``analyze --ray``: real local processes and a real local Ray instance
(loopback, no dashboard, no usage statistics) against the serial run, on short real clips.

Checked: per-input CSVs byte-identical to the serial run; a bad input (a text file named .mp4, a
truncated video) fails alone with its reason; a worker process killed (SIGKILL) in the middle of
an input gives a complete result with each input written once; a re-run skips the inputs whose
complete result for the same content and settings is there; the default path never imports Ray.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from auepa_monitor.cli import main

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
GOOD = ("a", "b", "seq", "long")


def _clip(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src`` as an MJPG AVI (decodes the same everywhere)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    w = None
    for _ in range(frames):
        ok, img = cap.read()
        assert ok, src
        if w is None:
            w = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (img.shape[1], img.shape[0]))
        w.write(img)
    w.release()
    cap.release()
    return dst


@pytest.fixture(scope="module")
def inputs(faces_dir: Path, children_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import shutil

    d = tmp_path_factory.mktemp("clips")
    seq = d / "seq"
    seq.mkdir()
    for f in sorted((faces_dir / "image_sequence").iterdir())[:12]:
        shutil.copy(f, seq / f.name)
    notes = d / "notes.mp4"
    notes.write_text("this is not a video\n" * 50)
    trunc = d / "trunc.mp4"  # decodes 12 of the 119 frames its container announces
    trunc.write_bytes((children_dir / "3dC3SQ.joke3.rep2.take1.ThatsNotACat.mp4").read_bytes()[:200_000])
    return {"a": _clip(faces_dir / "2015-10-15-15-14.avi", d / "a.avi", 40),
            "b": _clip(faces_dir / "multi_face.avi", d / "b.avi", 40),
            "seq": seq,
            "long": _clip(faces_dir / "2015-10-15-15-14.avi", d / "long.avi", 150),
            "notes": notes, "trunc": trunc}


def _args(inputs: dict[str, Path], names=GOOD) -> list[str]:
    return [str(inputs[n]) for n in names]


@pytest.fixture(scope="module")
def serial(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The serial run's files (name -> bytes): the reference."""
    out = tmp_path_factory.mktemp("serial")
    assert main(["analyze", *_args(inputs, (*GOOD, "trunc")), "--out", str(out), "--quiet"]) == 1
    return {f.name: f.read_bytes() for f in out.iterdir()}


def _opts() -> dict:
    return {"roi": None, "au_engine": "embedded", "model": None, "no_smoothing": False, "openface_bin": None,
            "faces": "target", "au_neutral": "recording"}


def _settings() -> str:
    import argparse

    from auepa_monitor.core.analyze import analysis_settings, settings_key

    return settings_key(analysis_settings(argparse.Namespace(**_opts())))


def _same_as_serial(out: Path, serial: dict[str, bytes], stems=GOOD) -> None:
    for stem in stems:
        assert (out / f"{stem}.csv").read_bytes() == serial[f"{stem}.csv"], stem
    assert not [f.name for f in out.iterdir() if f.name.startswith(".")]  # no temporary file left
    assert {stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()} == {0o600}


def test_workers_give_the_serial_csvs_and_a_bad_input_fails_alone(inputs, serial, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    rc = main(["analyze", *_args(inputs, ("a", "notes", "b", "seq", "long", "trunc")), "--out", str(out), "--quiet",
               "--workers", "2"])
    cap = capsys.readouterr()
    assert rc == 1, cap.err
    _same_as_serial(out, serial)
    failed = [ln for ln in cap.err.splitlines() if ln.startswith("FAILED ")]
    assert len(failed) == 2, cap.err
    assert any(f"FAILED {inputs['notes']}: not a video" in ln for ln in failed), failed
    trunc = next(ln for ln in failed if "trunc.mp4" in ln)
    assert "ends at frame 12 of the 119 its container announces" in trunc
    assert f"partial result in {out / 'trunc.partial.csv'}" in trunc  # named in --out, not a worker's scratch
    assert (out / "trunc.partial.csv").read_bytes() == serial["trunc.partial.csv"]
    assert not (out / "trunc.csv").exists()
    assert "4 analysed, 2 failed on 2 worker processes" in cap.out
    assert "Traceback" not in cap.err


def test_ray_gives_the_serial_csvs_and_a_bad_input_fails_alone(local_ray, inputs, serial, tmp_path) -> None:
    from auepa_monitor.core.parallel import analyze_parallel

    out = tmp_path / "out"
    paths = [inputs[n] for n in ("a", "notes", "b", "seq", "long", "trunc")]
    res = analyze_parallel(paths, out, _opts(), _settings(), use_ray=True)
    _same_as_serial(out, serial)
    assert [p.name for p in [s for s, _ in res.failed]] == ["notes.mp4", "trunc.mp4"]
    assert "not a video" in res.failed[0][1] and "ends at frame 12 of the 119" in res.failed[1][1]
    assert len(res.done) == 4 and sum(w["inputs"] for w in res.workers.values()) == 6
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"


def test_threads_sharing_one_network_pool_give_the_serial_csvs(inputs, serial, tmp_path) -> None:
    """The GPU's way (threads, one batching face-network pool), here on the CPU's LiteRT networks."""
    from auepa_monitor.core.parallel import analyze_parallel

    out = tmp_path / "out"
    paths = [inputs[n] for n in ("a", "notes", "b", "seq", "long", "trunc")]
    res = analyze_parallel(paths, out, _opts(), _settings(), workers=2, threads=True)
    _same_as_serial(out, serial)
    assert [p.name for p in [s for s, _ in res.failed]] == ["notes.mp4", "trunc.mp4"]
    assert len(res.done) == 4
    assert res.backend == "threads" and len({w.split(":")[1] for w in res.workers}) == 1  # one process
    # A pain model that cannot load stops the run with its reason, as with processes (no hang).
    from auepa_monitor.core.errors import ModelFileError

    with pytest.raises(ModelFileError, match="absent.pt"):
        analyze_parallel(paths[:2], tmp_path / "out2", {**_opts(), "model": str(tmp_path / "absent.pt")}, "x",
                         workers=2, threads=True, force=True)


def test_batched_pool_path_matches_the_serial_run(inputs, tmp_path) -> None:
    """Two inputs analysed by threads whose landmarks run batched through the torch networks (the
    CUDA path, on the CPU): the same faces and AUs as the serial LiteRT run, within float error."""
    import csv

    import numpy as np

    from auepa_monitor.core.net_pool import FaceNetPool
    from auepa_monitor.core.parallel import analyze_parallel

    ser = tmp_path / "serial"
    assert main(["analyze", str(inputs["a"]), str(inputs["b"]), "--out", str(ser), "--quiet"]) == 0
    pool = FaceNetPool(workers=1, backend="torch")
    try:
        res = analyze_parallel([inputs["a"], inputs["b"]], tmp_path / "out", _opts(), _settings(), workers=2,
                               threads=True, pool=pool)
    finally:
        pool.close()
    assert len(res.done) == 2 and not res.failed
    # Both inputs' landmarks ran in the pool (that requests of several streams share a forward is
    # tests/test_net_pool.py's; here two CPU-bound threads mostly alternate).
    assert pool.stats.items["landmarks"] >= 80, pool.stats

    def rows(p: Path) -> list[dict]:
        with open(p, newline="") as f:
            return list(csv.DictReader(f))

    for stem in ("a", "b"):
        want, got = rows(ser / f"{stem}.csv"), rows(tmp_path / "out" / f"{stem}.csv")
        assert len(want) == len(got)
        assert [w["success"] for w in want] == [g["success"] for g in got], stem
        # Each frame's landmark region comes from the previous frame's landmarks, so the two
        # runtimes' float differences (0.0002 px per call) feed back; measured on these clips:
        # median 0-0.02 AU, largest 0.45 (AU43, a steep map, on multi_face's small faces). face_x is
        # written at 0.1 px: on some CPUs (another SIMD path in torch) the median is one such step.
        for k in [c for c in want[0] if c.endswith("_r")] + ["pain_score", "face_x"]:
            d = np.array([abs(float(w[k] or "nan") - float(g[k] or "nan")) for w, g in zip(want, got, strict=True)])
            assert np.nanmedian(d) <= (0.15 if k == "face_x" else 0.03), (stem, k)
            assert np.nanmax(d) <= {"pain_score": 0.05, "face_x": 1.0}.get(k, 0.5), (stem, k, np.nanmax(d))


def _kill_mid_input(victim: str):
    """An on_event hook that SIGKILLs the worker process analysing ``victim`` once it is 10 frames in."""
    state: dict = {"killed": None, "events": []}

    def on_event(e) -> None:
        state["events"].append((e.kind, Path(e.job.path).name, e.frames, e.pid))
        if (e.kind == "progress" and state["killed"] is None and Path(e.job.path).stem == victim
                and e.frames >= 10 and e.total and e.frames < e.total - 20):
            os.kill(e.pid, signal.SIGKILL)
            state["killed"] = (e.pid, e.frames)

    return state, on_event


def _check_recovered(res, out: Path, serial: dict[str, bytes], state: dict) -> None:
    assert state["killed"] is not None, state["events"]
    assert not res.failed, res.failed
    assert sorted(s.csv for s in res.done) == sorted(str(out / f"{s}.csv") for s in GOOD)
    assert res.writes == {s: 1 for s in GOOD}  # each input written once
    _same_as_serial(out, serial)
    assert not list(out.glob("*.partial.*"))
    # The input was analysed again by another process, from its first frame.
    pid = state["killed"][0]
    later = [ev for ev in state["events"] if ev[1] == "long.avi" and ev[0] == "progress" and ev[3] != pid]
    assert later, state["events"]
    # The killed worker's scratch folder (rows of a patient video) was removed by the next worker.
    import tempfile

    assert not list(Path(tempfile.gettempdir()).glob(f"auepa-analyze-{pid}-*"))


def test_a_killed_worker_process_gives_a_complete_result(inputs, serial, tmp_path) -> None:
    from auepa_monitor.core.parallel import analyze_parallel

    out = tmp_path / "out"
    state, on_event = _kill_mid_input("long")
    res = analyze_parallel([inputs[n] for n in ("long", *GOOD[:3])], out, _opts(), _settings(), workers=2,
                           on_event=on_event)
    _check_recovered(res, out, serial, state)
    assert res.retries == 1
    assert any(k == "retry" for k, *_ in state["events"])


def test_a_killed_ray_worker_gives_a_complete_result(local_ray, inputs, serial, tmp_path) -> None:
    from auepa_monitor.core.parallel import analyze_parallel

    out = tmp_path / "out"
    state, on_event = _kill_mid_input("long")
    res = analyze_parallel([inputs[n] for n in ("long", *GOOD[:3])], out, _opts(), _settings(), use_ray=True,
                           on_event=on_event)
    _check_recovered(res, out, serial, state)
    assert res.retries == 1 and any(k == "retry" for k, *_ in state["events"])  # Ray ran the task again


def test_rerun_skips_inputs_complete_for_the_same_content_and_settings(inputs, serial, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    opts = ["--out", str(out), "--quiet", "--workers", "2"]
    assert main(["analyze", *_args(inputs, ("a", "b", "seq")), *opts]) == 0
    before = {f.name: f.stat().st_mtime_ns for f in out.iterdir()}
    capsys.readouterr()
    # Same inputs, same settings, plus a new one: only the new one runs.
    assert main(["analyze", *_args(inputs, ("a", "b", "seq", "long")), *opts]) == 0
    cap = capsys.readouterr()
    assert "1 analysed, 0 failed, 3 skipped (already complete)" in cap.out
    assert {f.name: f.stat().st_mtime_ns for f in out.iterdir() if f.name in before} == before
    _same_as_serial(out, serial)
    # The serial path skips them too; another setting or --force runs them again.
    assert main(["analyze", *_args(inputs, ("a", "b")), "--out", str(out), "--quiet"]) == 0
    assert "0 analysed, 0 failed, 2 skipped" in capsys.readouterr().out
    assert main(["analyze", str(inputs["a"]), "--out", str(out), "--quiet", "--no-smoothing"]) == 0
    assert "1 analysed, 0 failed." in capsys.readouterr().out
    assert main(["analyze", str(inputs["b"]), "--out", str(out), "--quiet", "--force", "--workers", "2"]) == 0
    assert "1 analysed, 0 failed on" in capsys.readouterr().out
    # Changed content under the same name is analysed again.
    from auepa_monitor.core.analyze import complete_result, input_key

    s = _settings()
    assert complete_result(out, "seq", input_key(inputs["seq"], s)) is not None
    assert complete_result(out, "seq", input_key(inputs["a"], s)) is None


def test_default_analyze_does_not_import_ray(faces_dir, tmp_path) -> None:
    code = ("import sys; from auepa_monitor.cli import main; "
            f"rc = main(['analyze', {str(faces_dir / 'sample1.jpg')!r}, '--out', {str(tmp_path / 'o')!r}, '--quiet']); "
            "assert rc == 0, rc; assert 'ray' not in sys.modules, 'ray imported'; print('ok')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


def test_a_local_ray_instance_listens_on_loopback_only(tmp_path) -> None:
    """``analyze --ray`` (no address) in a fresh process: Ray's processes listen on 127.0.0.1 only,
    usage statistics off, no dashboard; the instance is gone afterwards."""
    code = r"""
import os, re, subprocess, sys
from auepa_monitor.core.parallel import init_ray
assert init_ray(None, num_cpus=1) is True
import ray
assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
ours = {str(os.getpid())}
ps = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout.splitlines()[1:]
kids = {}
for line in ps:
    if line.split():
        pid, ppid = line.split()
        kids.setdefault(ppid, []).append(pid)
todo = [str(os.getpid())]
while todo:
    for k in kids.get(todo.pop(), []):
        ours.add(k); todo.append(k)
ss = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
mine = [ln for ln in ss.splitlines() if any(f"pid={p}," in ln for p in ours)]
assert mine, ss
loopback = re.compile(r"^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]|\[::1\]):\d+$")
bad = [ln for ln in mine if not loopback.match(ln.split()[3])]
assert not bad, bad
assert not [ln for ln in mine if ":8265 " in ln], mine  # no dashboard
ray.shutdown()
print("ok", len(mine))
"""
    import shutil

    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) is not installed")
    pytest.importorskip("ray")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env=env)
    assert p.returncode == 0 and "ok" in p.stdout, (p.stdout + p.stderr)[-3000:]


def test_workers_argument_errors(tmp_path, capsys) -> None:
    assert main(["analyze", "x.mp4", "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err
