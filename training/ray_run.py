"""``python -m training.run --ray [ADDRESS]``: the independent jobs of a run (:mod:`training.ray_jobs`)
as Ray tasks.

Each task runs one job's function in a scratch folder of its worker and returns the files it wrote
(its resume state, the checkpoint, the per-epoch logs); the driver writes them into the run
folder, each under a temporary name then renamed, the resume state last. So only the driver's
machine needs the run folder and the cache; the data the jobs read (crops, AU values, folds) go
to the workers through Ray's object store. A job whose worker dies is run again by Ray (up to
:data:`MAX_ATTEMPTS` runs); a job that fails stops the run with its error, and the jobs finished
before it stay done (a rerun resumes after them).

Resources: a job that trains a CNN takes one GPU (``num_gpus=1``) when the cluster has GPUs,
else CPUs; every task sets torch to ``threads`` threads, the number the serial run uses, so that
the results are identical to the serial run's with the same seeds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from auepa_monitor.core.errors import AuepaError

MAX_ATTEMPTS = 3


def _task(fn: Callable[[Any, Any, Path], Any], job: Any, data: Any, threads: int) -> dict[str, bytes]:  # pragma: no cover (Ray worker)
    import torch

    torch.set_num_threads(threads)
    scratch = Path(tempfile.mkdtemp(prefix=f"auepa-train-{os.getpid()}-"))
    try:
        fn(job, data, scratch)
        return {str(p.relative_to(scratch)): p.read_bytes() for p in sorted(scratch.rglob("*")) if p.is_file()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write(out: Path, rel: str, data: bytes) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def resources(threads: int, device: str | None) -> dict[str, dict[str, float]]:
    """Ray resources of a GPU job and a CPU job on the connected cluster, and the torch device
    of each: ``{"gpu": {...}, "cpu": {...}}``."""
    import ray

    total = ray.cluster_resources()
    node_cpus = max([n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")] or [1])
    cpus = max(1, min(threads, int(node_cpus)))  # a task must fit on one node
    gpu = total.get("GPU", 0) >= 1 and (device is None or device.startswith("cuda"))
    return {"gpu": {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": cpus},
            "cpu": {"num_cpus": cpus}, "gpu_device": "cuda" if gpu else (device or "cpu")}


def run_jobs(jobs: list[Any], fn: Callable[[Any, Any, Path], Any], data: Any, out: Path, threads: int,
             device: str | None, log: Callable[[str], None] = print, progress: bool = True) -> None:
    """Run ``fn(job, data, scratch)`` for every job as a Ray task and write each job's files into ``out``.

    Ray must be initialised (:func:`auepa_monitor.core.parallel.init_ray`)."""
    import ray
    from tqdm import tqdm

    if not jobs:
        return
    res = resources(threads, device)
    data_ref = ray.put(data)
    remote = ray.remote(max_retries=MAX_ATTEMPTS - 1)(_task)
    refs = {}
    for job in jobs:
        opts = res["gpu"] if getattr(job, "uses_gpu", False) else res["cpu"]
        if hasattr(job, "device"):
            job = replace(job, device=res["gpu_device"], progress=False)
        refs[remote.options(**opts).remote(fn, job, data_ref, threads)] = job
    log(f"  {len(jobs)} job(s) on Ray, {opts_text(res, jobs)}")
    bar = tqdm(total=len(jobs), desc=f"{jobs[0].name.split()[0]} jobs on Ray", unit="job", disable=not progress,
               leave=False)
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                job = refs[ref]
                try:
                    files = ray.get(ref)
                except ray.exceptions.RayError as e:
                    first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
                    raise AuepaError(f"{job.name} failed on Ray: {first[:300]}") from e
                for rel in sorted(files, key=lambda r: r == job.state):  # the resume state last
                    _write(out, rel, files[rel])
                bar.update(1)
    finally:
        bar.close()
        for ref in pending:  # after an error: the jobs still running are not needed any more
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        del data_ref


def opts_text(res: dict[str, Any], jobs: list[Any]) -> str:
    g = any(getattr(j, "uses_gpu", False) for j in jobs)
    r = res["gpu"] if g else res["cpu"]
    return ", ".join(f"{k}={v:g}" for k, v in r.items()) + " per task"
