"""``python -m training.run --ray``: CNNs per (backbone, fold) and the top-k sweep (per k, and the
nested choice per outer fold) as tasks on a real local Ray instance (2 CPUs, loopback, no dashboard,
no usage statistics), against the serial run with the same seeds and torch threads: identical
results; each job keeps its own resume state, so a rerun runs only the missing jobs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "examples" / "sample_manifest.csv"
FACES = REPO.parent / "shared" / "data" / "faces"  # what the example manifest points at
# Small but complete: every stage, 2 folds, nested top-k; 1 torch thread in both runs.
SETTINGS = ["--quick", "--folds", "2", "--cnn-epochs", "1", "--reg-epochs", "5", "--no-final-cnn",
            "--no-tensorboard", "--threads", "1", "--no-progress", "--nested"]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def runs(local_ray, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from training.run import main

    if not FACES.is_dir():
        pytest.skip(f"sample media not available: {FACES} is absent")
    d = tmp_path_factory.mktemp("train")
    cache = d / "cache"
    serial, on_ray = d / "serial", d / "ray"
    assert main(["--manifest", str(MANIFEST), "--out", str(serial), "--cache", str(cache), *SETTINGS]) == 0
    assert main(["--manifest", str(MANIFEST), "--out", str(on_ray), "--cache", str(cache), *SETTINGS, "--ray"]) == 0
    return {"serial": serial, "ray": on_ray, "cache": cache}


def _load(p: Path) -> dict:
    d = json.loads(p.read_text())
    d.pop("seconds", None)
    return d


def test_ray_results_are_identical_to_the_serial_run(runs: dict[str, Path]) -> None:
    import torch

    a = json.loads((runs["serial"] / "report" / "results.json").read_text())
    b = json.loads((runs["ray"] / "report" / "results.json").read_text())
    a.pop("timings")
    b.pop("timings")
    assert a == b
    assert a["nested_k"] is not None and len(a["table3"]) == 1
    jobs = sorted(p.relative_to(runs["serial"]) for p in [*(runs["serial"] / "cnn").rglob("fold?.json"),
                                                          *(runs["serial"] / "topk").glob("*.json")])
    assert len(jobs) == 2 + 12 + 2  # 1 backbone x 2 folds, k = 1..12, 2 outer folds of the nested choice
    for rel in jobs:
        assert _load(runs["ray"] / rel) == _load(runs["serial"] / rel), rel
    for k in range(2):  # the engagement backbone's fold checkpoints: the same weights
        sa = torch.load(runs["serial"] / "cnn" / "resnet18" / f"fold{k}.pt", weights_only=False)["state_dict"]
        sb = torch.load(runs["ray"] / "cnn" / "resnet18" / f"fold{k}.pt", weights_only=False)["state_dict"]
        assert sa.keys() == sb.keys() and all(torch.equal(sa[n], sb[n]) for n in sa)
    env = json.loads((runs["ray"] / "config.json").read_text())["environment"]
    assert env["ray"] == "local" and env["torch_threads"] == 1
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not list(runs["ray"].rglob(".*.part"))  # every file was renamed into place


def test_rerun_on_ray_runs_only_the_missing_jobs(runs: dict[str, Path], capsys) -> None:
    from training.run import main

    out = runs["ray"]
    for p in (out / "state").glob("*.json"):  # as if killed before the stages were written
        if p.name not in ("engagement.json",):
            p.unlink()
    (out / "cnn" / "resnet18" / "fold1.json").unlink()
    (out / "topk" / "k03.json").unlink()
    kept = {p: p.stat().st_mtime_ns for p in [*(out / "cnn").rglob("fold?.json"), *(out / "topk").glob("*.json")]}
    capsys.readouterr()
    assert main(["--manifest", str(MANIFEST), "--out", str(out), "--cache", str(runs["cache"]), *SETTINGS,
                 "--ray"]) == 0
    log = capsys.readouterr().out
    assert "[cnn] 1 job(s) on Ray" in log and "[top-k regressors (Fig. 6)] 1 job(s) on Ray" in log
    assert "nested top-k (inner CV)] " not in log  # both outer folds were done
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert _load(out / "cnn" / "resnet18" / "fold1.json") == _load(runs["serial"] / "cnn" / "resnet18" / "fold1.json")
    assert _load(out / "topk" / "k03.json") == _load(runs["serial"] / "topk" / "k03.json")
    a = json.loads((runs["serial"] / "report" / "results.json").read_text())
    b = json.loads((out / "report" / "results.json").read_text())
    assert {k: v for k, v in a.items() if k != "timings"} == {k: v for k, v in b.items() if k != "timings"}


def test_a_gpu_per_cnn_task_when_the_cluster_has_gpus(local_ray, monkeypatch) -> None:
    from training import ray_run

    assert ray_run.resources(1, None) == {"gpu": {"num_cpus": 1}, "cpu": {"num_cpus": 1}, "gpu_device": "cpu"}
    assert ray_run.resources(8, None)["cpu"] == {"num_cpus": 2}  # a task fits on one node
    monkeypatch.setattr(local_ray, "cluster_resources", lambda: {"CPU": 16.0, "GPU": 2.0})
    monkeypatch.setattr(local_ray, "nodes", lambda: [{"Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0}}] * 2)
    r = ray_run.resources(4, None)
    assert r["gpu"] == {"num_gpus": 1, "num_cpus": 1} and r["gpu_device"] == "cuda" and r["cpu"] == {"num_cpus": 4}
    assert ray_run.resources(4, "cpu")["gpu"] == {"num_cpus": 4}  # --device cpu: no GPU asked for
