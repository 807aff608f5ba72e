"""``analyze`` on several local processes (``--workers N``) or a Ray cluster (``--ray [ADDRESS]``). No Qt.

One input is one job. A worker (a process of ours, or a Ray worker process) builds its pipeline
factory once (the face networks load once per worker) and runs each job through the same
:func:`~auepa_monitor.core.analyze.analyze_one` as the serial ``analyze``, into a scratch folder
of its own (0700, removed after the job). The files it wrote come back to the driver with the
summary, and **the driver alone writes into ``--out``**, each file under a temporary name then
renamed: only the driver's machine needs ``--out``; the inputs must be readable at the same path
on every worker's machine (shared storage, read-only is enough).

Failures:

- a bad input fails alone with its reason (the summary line ``FAILED <input>: <reason>``);
- a worker that dies mid-input (killed, out of memory, a crash in a decoder): the input is run
  again by another worker process, up to :data:`MAX_ATTEMPTS` times in all (local processes: the
  driver sees the process end and starts a new one; Ray: the task is retried by Ray). Nothing of
  the lost attempt reaches ``--out``, and the driver writes each input's result once (the first
  that arrives; a late duplicate is dropped and counted);
- the face model cannot be loaded (every input would fail alike): the run stops with that error.

The default ``analyze`` (one worker) never imports this module's Ray part, nor Ray.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analyze import (
    Summary,
    complete_result,
    drop_partial,
    input_key,
    plan_names,
    summary_json,
    write_atomic,
)
from .errors import AuepaError, ModelFileError
from .private_files import private_dir
from .processes import process_gone

log = logging.getLogger(__name__)

#: Runs of one input in all when the worker running it dies (the first run and two more).
MAX_ATTEMPTS = 3
#: Seconds between two progress reports of a worker (per input).
REPORT_EVERY = 0.25
SCRATCH_PREFIX = "auepa-analyze-"
#: Ray reads it when imported: "0" keeps a local instance on 127.0.0.1 (Ray's single-machine mode).
RAY_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterError(AuepaError):
    """Ray is not installed, or the cluster cannot be reached."""


@dataclass(frozen=True)
class Job:
    """One input: its index in the command line, the path as given and as workers open it, its
    output name and its key (content and settings)."""

    index: int
    path: str
    abspath: str
    stem: str
    key: str
    attempt: int = 1


@dataclass
class Outcome:
    """What a worker sends back for one job."""

    index: int
    summary: dict[str, Any] | None = None  # the Summary (complete or partial) as a dict
    error: str = ""  # why the input failed ('' when complete)
    fatal: str = ""  # a face/pain model that cannot load: every input would fail
    files: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes, from the scratch folder
    scratch: str = ""
    pid: int = 0
    host: str = ""
    cpu_s: float = 0.0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass
class Event:
    """A report of the run for the display (and tests): ``kind`` is ``progress`` (``frames`` of
    ``total`` done by process ``pid``), ``retry`` (the worker died, ``reason``), ``done``, ``failed``
    or ``skipped``."""

    kind: str
    job: Job
    frames: int = 0
    total: int = 0
    pid: int = 0
    host: str = ""
    reason: str = ""
    summary: Summary | None = None


@dataclass
class BatchResult:
    done: list[Summary]
    failed: list[tuple[Path, str]]
    skipped: list[Summary]
    #: Per worker process (host:pid): inputs, CPU seconds, wall seconds, peak resident memory (MB).
    workers: dict[str, dict[str, float]]
    #: Results that arrived for an input already written (dropped; a retried job whose first run came back late).
    duplicates: int = 0
    #: How many times each input's result was written into ``--out`` (always 1 for each finished input).
    writes: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    #: Where the inputs ran: "processes", "threads" (one batching face-network pool) or "ray".
    backend: str = "processes"


# --------------------------------------------------------------------------- worker side

_FACTORY: dict[str, Callable[[Path], object]] = {}


def _factory(opts: dict[str, Any]) -> Callable[[Path], object]:
    """The worker's pipeline factory for these options, built once (face networks loaded once)."""
    key = json.dumps(opts, sort_keys=True)
    if key not in _FACTORY:
        import argparse

        if opts.get("device"):  # analyze --device: where the face networks run (read from the environment)
            from ..nets.device import DEVICE_ENV

            os.environ[DEVICE_ENV] = opts["device"]

        from .pipeline_factory import make_pipeline_factory

        with contextlib.suppress(ImportError):
            import torch

            torch.set_num_threads(1)  # the pain MLP is tiny; N workers share the cores
        _FACTORY.clear()
        _FACTORY[key] = make_pipeline_factory(argparse.Namespace(**opts), share_models=True)
    return _FACTORY[key]


def _clean_stale_scratch() -> None:
    """Remove scratch folders of worker processes of this machine that died (killed mid-job)."""
    # At every job, not once per process: a retried job may land on a worker that started before
    # the other one died.
    base = Path(tempfile.gettempdir())
    for d in base.glob(f"{SCRATCH_PREFIX}*"):
        try:
            pid = int(d.name[len(SCRATCH_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and process_gone(pid):
            shutil.rmtree(d, ignore_errors=True)


def _cpu_seconds() -> float:
    t = os.times()  # this process and its threads
    return t.user + t.system


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows: not measured
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


def run_job(job: Job, opts: dict[str, Any], report: Callable[[int, int, int], None] | None = None,
            factory: Callable[[Path], object] | None = None) -> Outcome:
    """Analyse one input in this process into a scratch folder and return what it wrote.

    ``report(index, frames, total)`` is called at most every :data:`REPORT_EVERY` seconds.
    ``factory``: the pipeline factory (None: this process's, built once from ``opts``)."""
    from .analyze import analyze_one

    _clean_stale_scratch()
    t0, c0 = time.perf_counter(), _cpu_seconds()
    scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))  # 0700
    o = Outcome(index=job.index, scratch=str(scratch), pid=os.getpid(), host=socket.gethostname())
    last = [0.0]

    def progress(n: int, total: int) -> None:
        now = time.monotonic()
        if report is not None and (now - last[0] >= REPORT_EVERY or (total and n >= total)):
            last[0] = now
            report(job.index, n, total)

    try:
        if report is not None:
            report(job.index, 0, 0)
        try:
            s = analyze_one(Path(job.abspath), scratch, factory or _factory(opts), job.stem, progress, key=job.key)
            o.summary = dataclasses.asdict(s)
            o.error = s.incomplete
        except ModelFileError as e:
            o.fatal = str(e)
        except AuepaError as e:
            o.error = str(e)
        except Exception as e:  # noqa: BLE001 (a bug or an unforeseen input: that input fails, with the reason)
            o.error = f"internal error: {type(e).__name__}: {e}"
        for f in sorted(scratch.iterdir()):
            if f.is_file():
                o.files[f.name] = f.read_bytes()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    o.wall_s = time.perf_counter() - t0
    o.cpu_s = _cpu_seconds() - c0
    o.peak_rss_mb = _peak_rss_mb()
    return o


def _process_worker(conn, opts: dict[str, Any]) -> None:  # pragma: no cover (runs in the child)
    """A local worker process: jobs in, progress and outcomes out, until told to stop (None)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    def report(index: int, n: int, total: int) -> None:
        conn.send(("progress", index, n, total))

    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(("result", run_job(job, opts, report)))


# --------------------------------------------------------------------------- backends

class _Backend:
    #: True when the backend runs a job again itself after its worker died (Ray), False when the
    #: driver must (local processes).
    retries_itself = False
    capacity = 1

    def submit(self, job: Job) -> None:
        raise NotImplementedError

    def poll(self, timeout: float) -> list[tuple]:
        """Events: ("progress", index, n, total, pid, host), ("result", Outcome), ("lost", index, reason)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class ProcessBackend(_Backend):
    """``workers`` local processes (spawned, so no state of the driver is inherited)."""

    def __init__(self, workers: int, opts: dict[str, Any]) -> None:
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.opts = opts
        self.capacity = workers
        self.procs: list[dict[str, Any]] = []  # {"proc", "conn", "job"}

    def _start(self) -> dict[str, Any]:
        parent, child = self.ctx.Pipe()
        p = self.ctx.Process(target=_process_worker, args=(child, self.opts), name="auepa-analyze-worker", daemon=True)
        p.start()
        child.close()
        w = {"proc": p, "conn": parent, "job": None}
        self.procs.append(w)
        return w

    def submit(self, job: Job) -> None:
        w = next((w for w in self.procs if w["job"] is None and w["proc"].is_alive()), None)
        if w is None:
            w = self._start()
        w["job"] = job
        w["conn"].send(job)

    def _drain(self, w: dict[str, Any], events: list[tuple]) -> bool:
        """Read what the worker sent; False when its pipe is closed."""
        try:
            while w["conn"].poll():
                msg = w["conn"].recv()
                if msg[0] == "progress":
                    events.append(("progress", msg[1], msg[2], msg[3], w["proc"].pid, ""))
                else:
                    if w["job"] is not None and msg[1].index == w["job"].index:
                        w["job"] = None
                    events.append(msg)
        except (EOFError, OSError):
            return False
        return True

    def poll(self, timeout: float) -> list[tuple]:
        from multiprocessing.connection import wait

        events: list[tuple] = []
        busy = [w for w in self.procs if w["job"] is not None]
        if not busy:
            time.sleep(min(timeout, 0.05))
            return events
        waitables = [w["conn"] for w in busy] + [w["proc"].sentinel for w in busy]
        ready = wait(waitables, timeout)
        for w in list(busy):
            alive = True
            if w["conn"] in ready:
                alive = self._drain(w, events)
            if not alive or w["proc"].sentinel in ready or not w["proc"].is_alive():
                self._drain(w, events)  # a result sent just before the end still counts
                w["proc"].join(timeout=5)
                if w["proc"].is_alive():
                    continue  # the pipe closed but the process lives on: look again next time
                code = w["proc"].exitcode
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                if w["job"] is not None:
                    events.append(("lost", w["job"].index, f"the worker process {w['proc'].pid} died ({how})"))
                w["conn"].close()
                self.procs.remove(w)
        return events

    def close(self) -> None:
        for w in self.procs:
            with contextlib.suppress(OSError, ValueError):
                w["conn"].send(None)
        for w in self.procs:
            w["proc"].join(timeout=10)
            if w["proc"].is_alive():
                w["proc"].kill()
                w["proc"].join(timeout=5)
            w["conn"].close()
        self.procs.clear()


class ThreadBackend(_Backend):
    """``workers`` threads of this process whose face networks run in one shared, batching
    :class:`~auepa_monitor.core.net_pool.FaceNetPool`: the way to use a GPU for a batch of inputs.

    On CUDA, N processes would each hold a CUDA context and run their frames one at a time; here
    the frames that N inputs have ready at the same moment go through the networks as one batch
    (one stream's frames cannot: each frame's landmark region comes from the frame before). On
    the CPU processes stay the default (:class:`ProcessBackend`): the rest of the per-frame work
    holds Python's GIL, and processes use the cores better.
    """

    def __init__(self, workers: int, opts: dict[str, Any], pool: Any = None) -> None:
        import queue
        import threading

        from .net_pool import FaceNetPool

        self.pool = pool if pool is not None else FaceNetPool(device=opts.get("device"))
        self._own_pool = pool is None
        self.opts = opts
        self.capacity = workers
        self.events: queue.Queue[tuple] = queue.Queue()
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.threads = [threading.Thread(target=self._worker, name=f"auepa-analyze-{i}", daemon=True)
                        for i in range(workers)]
        for t in self.threads:
            t.start()

    def _worker(self) -> None:
        import argparse
        import threading

        from .pipeline_factory import make_pipeline_factory

        host, name = socket.gethostname(), threading.current_thread().name
        try:
            factory = make_pipeline_factory(argparse.Namespace(**self.opts), nets=self.pool.client())
        except AuepaError as e:  # a model that cannot load: every job says so (the driver stops the run)
            while (job := self.jobs.get()) is not None:
                self.events.put(("result", Outcome(job.index, fatal=str(e), pid=os.getpid(), host=f"{host}/{name}")))
            return

        def report(index: int, n: int, total: int) -> None:
            self.events.put(("progress", index, n, total, os.getpid(), f"{host}/{name}"))

        while (job := self.jobs.get()) is not None:
            o = run_job(job, self.opts, report, factory=factory)
            o.host = f"{host}/{name}"
            self.events.put(("result", o))

    def submit(self, job: Job) -> None:
        self.jobs.put(job)

    def poll(self, timeout: float) -> list[tuple]:
        import queue

        events: list[tuple] = []
        try:
            events.append(self.events.get(timeout=timeout))
            while True:
                events.append(self.events.get_nowait())
        except queue.Empty:
            pass
        return events

    def close(self) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        for t in self.threads:
            t.join(timeout=30)
        if self._own_pool:
            self.pool.close()


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray (``address``: a running cluster, e.g. ``auto`` or ``HOST:6379``) or start a
    local instance (``address`` None or ``local``) whose processes listen on 127.0.0.1 only, with no
    dashboard. Ray's usage statistics are turned off before Ray is imported. Returns True when this
    call started or connected Ray (so the caller shuts it down), False when it already was."""
    local = address in (None, "", "local")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine (README, "Privacy")
    if local:
        # Ray's single-machine mode (read when Ray is imported): every Ray process of the instance
        # binds to and talks over the loopback address, none listens on the network.
        os.environ.setdefault(RAY_LOOPBACK_ENV, "0")
    try:
        import ray
    except ImportError as e:
        raise ClusterError("--ray needs Ray, an optional part: pip install -e '.[cluster]' "
                           "(or bash packaging/setup.sh --cluster)") from e
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if local:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kw)
        else:
            ray.init(address=address, **kw)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                           f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from e
    return True


class _ProgressLog:
    """A Ray actor that collects the workers' progress reports for the driver."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def report(self, index: int, n: int, total: int, pid: int, host: str) -> None:
        self.items.append((index, n, total, pid, host))

    def take(self) -> list[tuple]:
        items, self.items = self.items, []
        return items


def _ray_job(job: Job, opts: dict[str, Any], progress_actor: Any) -> Outcome:  # pragma: no cover (Ray worker)
    pid, host = os.getpid(), socket.gethostname()

    def report(index: int, n: int, total: int) -> None:
        progress_actor.report.remote(index, n, total, pid, host)

    return run_job(job, opts, report)


class RayBackend(_Backend):
    """Ray tasks (``num_cpus`` 1 each; Ray runs a task again when its worker dies)."""

    retries_itself = True

    def __init__(self, opts: dict[str, Any], address: str | None, workers: int | None) -> None:
        self.started = init_ray(address, num_cpus=workers if address in (None, "", "local") else None)
        import ray

        self.ray = ray
        self.task = ray.remote(num_cpus=1, max_retries=MAX_ATTEMPTS - 1)(_ray_job)
        self.progress = ray.remote(num_cpus=0)(_ProgressLog).remote()
        self.opts = ray.put(opts)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = max(1, min(workers, cpus) if workers else cpus)
        self.refs: dict[Any, int] = {}

    def submit(self, job: Job) -> None:
        self.refs[self.task.remote(job, self.opts, self.progress)] = job.index

    def poll(self, timeout: float) -> list[tuple]:
        ray = self.ray
        events: list[tuple] = []
        if self.refs:
            ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=timeout)
            if ready:
                more, _ = ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
                ready = list(dict.fromkeys([*ready, *more]))
        else:
            ready = []
            time.sleep(min(timeout, 0.05))
        for (index, n, total, pid, host) in ray.get(self.progress.take.remote()):
            events.append(("progress", index, n, total, pid, host))
        for ref in ready:
            index = self.refs.pop(ref)
            try:
                events.append(("result", ray.get(ref)))
            except ray.exceptions.RayError as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                events.append(("lost", index, f"its worker died {MAX_ATTEMPTS} times ({type(e).__name__}"
                                              f"{': ' + first[:200] if first else ''})"))
        return events

    def close(self) -> None:
        ray = self.ray
        for ref in self.refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        with contextlib.suppress(Exception):
            ray.kill(self.progress)
        if self.started:
            ray.shutdown()


# --------------------------------------------------------------------------- driver

def _on_cuda(spec: str | None) -> bool:
    """Whether the face networks of a run with ``--device spec`` run on CUDA."""
    from ..nets.device import requested_device, resolve_device

    want = requested_device(spec)
    return want is not None and want != "cpu" and resolve_device(want) != "cpu"


def _write_outcome(out_dir: Path, job: Job, o: Outcome) -> tuple[Summary | None, str]:
    """Write a job's files into ``out_dir`` (each atomically, the CSV before its summary) as the
    serial ``analyze`` would have; returns (summary, error)."""
    def here(text: str) -> str:
        # Paths as the serial run names them: the input as given, the output folder as given.
        text = text.replace(o.scratch, str(out_dir)) if o.scratch else text
        return text.replace(job.abspath, job.path) if job.abspath != job.path else text

    csv_path = out_dir / f"{job.stem}.csv"
    kept = f"; the earlier complete result {csv_path.name} was kept"
    drop_partial(out_dir, job.stem)  # as analyze_one does when it starts
    error = here(o.error)
    summary = None
    if o.summary is not None:
        d = {**o.summary, "input": job.path, "csv": here(o.summary["csv"]), "incomplete": here(o.summary["incomplete"])}
        summary = Summary(**d)
    if error and "partial result in" in error and csv_path.exists():
        error += kept
        if summary is not None and summary.incomplete:
            summary.incomplete += kept
    names = sorted(o.files, key=lambda n: n.endswith(".summary.json"))  # the summary last
    for name in names:
        data = o.files[name]
        if name.endswith(".summary.json") and summary is not None:
            data = summary_json(summary)
        write_atomic(out_dir / name, data)
    return summary, error


def analyze_parallel(paths: list[Path], out_dir: Path, opts: dict[str, Any], settings: str, *,
                     workers: int | None = None, ray_address: str | None = None, use_ray: bool = False,
                     force: bool = False, on_event: Callable[[Event], None] | None = None,
                     threads: bool | None = None, pool: Any = None) -> BatchResult:
    """Analyse ``paths`` into ``out_dir`` on ``workers`` local processes, or on Ray (``use_ray``;
    ``ray_address`` None: a local instance). ``opts`` are the ``analyze`` options (``roi``,
    ``au_engine``, ``model``, ``no_smoothing``, ``openface_bin``, ``faces``); ``settings`` their
    :func:`~auepa_monitor.core.analyze.settings_key`. Inputs whose complete result for the same
    content and settings is in ``out_dir`` are skipped unless ``force``.

    ``threads``: run the local workers as threads sharing one batching face-network pool
    (:class:`ThreadBackend`) instead of processes; None: threads when ``opts["device"]`` resolves
    to CUDA. ``pool``: the threads' :class:`~auepa_monitor.core.net_pool.FaceNetPool` (None: one
    made for the run, on ``opts["device"]``).

    Raises :class:`ModelFileError` when a worker cannot load the face or pain model (nothing could
    run) and :class:`ClusterError` when Ray is missing or unreachable.
    """
    private_dir(out_dir)
    emit = on_event or (lambda e: None)
    res = BatchResult([], [], [], {})
    jobs: deque[Job] = deque()
    for i, (p, stem) in enumerate(zip(map(Path, paths), plan_names(paths), strict=True)):
        key = input_key(p, settings)
        job = Job(i, str(p), str(p.resolve()), stem, key)
        prev = None if force else complete_result(out_dir, stem, key)
        if prev is not None:
            drop_partial(out_dir, stem)
            res.skipped.append(prev)
            emit(Event("skipped", job, summary=prev))
            continue
        jobs.append(job)
    if not jobs:
        return res
    opts = {**opts, "quiet": True}
    if threads is None:
        threads = not use_ray and _on_cuda(opts.get("device"))
    backend: _Backend = (RayBackend(opts, ray_address, workers) if use_ray
                         else ThreadBackend(workers or 1, opts, pool) if threads else ProcessBackend(workers or 1, opts))
    res.backend = "ray" if use_ray else "threads" if threads else "processes"
    inflight: dict[int, Job] = {}
    runs_on: dict[int, tuple[str, int]] = {}  # input -> (host, pid) of the worker analysing it
    done: dict[int, Summary] = {}
    failed: dict[int, tuple[Path, str]] = {}
    try:
        while jobs or inflight:
            while jobs and len(inflight) < backend.capacity:
                job = jobs.popleft()
                inflight[job.index] = job
                backend.submit(job)
            for ev in backend.poll(0.2):
                if ev[0] == "progress":
                    _, index, n, total, pid, host = ev
                    job = inflight.get(index)
                    if job is None:
                        continue
                    before = runs_on.setdefault(index, (host, pid))
                    if before != (host, pid) and backend.retries_itself:
                        # Ray runs the task again after its worker died: say so, as for local processes.
                        runs_on[index] = (host, pid)
                        job = inflight[index] = dataclasses.replace(job, attempt=job.attempt + 1)
                        res.retries += 1
                        emit(Event("retry", job, reason=f"its worker process {before[1]} on {before[0]} died"))
                    emit(Event("progress", job, frames=n, total=total, pid=pid, host=host))
                    continue
                if ev[0] == "lost":
                    _, index, reason = ev
                    job = inflight.pop(index, None)
                    if job is None:
                        continue
                    if not backend.retries_itself and job.attempt < MAX_ATTEMPTS:
                        again = dataclasses.replace(job, attempt=job.attempt + 1)
                        runs_on.pop(index, None)
                        jobs.appendleft(again)
                        res.retries += 1
                        emit(Event("retry", again, reason=reason))
                        continue
                    msg = reason if backend.retries_itself else \
                        f"the worker analysing it died {job.attempt} times (last: {reason})"
                    failed[index] = (Path(job.path), msg)
                    emit(Event("failed", job, reason=msg))
                    continue
                o: Outcome = ev[1]
                job = inflight.pop(o.index, None)
                if job is None or o.index in done or o.index in failed:
                    res.duplicates += 1
                    continue
                if o.fatal:
                    raise ModelFileError(o.fatal)
                w = res.workers.setdefault(f"{o.host}:{o.pid}", {"inputs": 0, "cpu_s": 0.0, "wall_s": 0.0,
                                                                 "peak_rss_mb": 0.0})
                w["inputs"] += 1
                w["cpu_s"] += o.cpu_s
                w["wall_s"] += o.wall_s
                w["peak_rss_mb"] = max(w["peak_rss_mb"], o.peak_rss_mb)
                summary, error = _write_outcome(out_dir, job, o)
                res.writes[job.stem] = res.writes.get(job.stem, 0) + 1
                if error:
                    failed[o.index] = (Path(job.path), error)
                    emit(Event("failed", job, reason=error, pid=o.pid, host=o.host))
                else:
                    assert summary is not None
                    done[o.index] = summary
                    emit(Event("done", job, pid=o.pid, host=o.host, summary=summary))
    finally:
        backend.close()
        _clean_stale_scratch()  # this machine's workers are gone now: what they left is stale
    res.done = [done[i] for i in sorted(done)]
    res.failed = [failed[i] for i in sorted(failed)]
    return res


class BatchProgress:
    """One progress display for a batch: a bar over the inputs whose text names the inputs being
    analysed with their frames done, and one line per finished, failed, retried or skipped input."""

    def __init__(self, total: int, quiet: bool = False, line: Callable[[str, bool], None] | None = None) -> None:
        self.quiet = quiet
        self.running: dict[int, tuple[str, int, int]] = {}
        self.failed = 0
        self.bar = None
        self._last = 0.0
        self._line = line
        if not quiet and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="inputs", unit="input", dynamic_ncols=True, leave=True)

    def say(self, text: str, err: bool = False) -> None:
        import sys

        if self._line is not None:
            self._line(text, err)
        elif self.bar is not None:
            self.bar.write(text, file=sys.stderr if err else sys.stdout)
        else:
            print(text, file=sys.stderr if err else sys.stdout)

    def _refresh(self, force: bool = False) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        parts = [f"{name} {n}/{total or '?'}" for name, n, total in list(self.running.values())[:3]]
        if len(self.running) > 3:
            parts.append(f"+{len(self.running) - 3} more")
        text = " | ".join(t for t in (f"failed {self.failed}" if self.failed else "", ", ".join(parts)) if t)
        self.bar.set_postfix_str(text, refresh=True)

    def event(self, e: Event) -> None:
        name = Path(e.job.path).name[:28]
        if e.kind == "progress":
            self.running[e.job.index] = (name, e.frames, e.total)
            self._refresh()
            return
        self.running.pop(e.job.index, None)
        if e.kind == "retry":
            self.say(f"RETRY {e.job.path}: {e.reason}; analysing it again (attempt {e.job.attempt} of "
                     f"{MAX_ATTEMPTS})", err=True)
        elif self.bar is not None:
            self.bar.update(1)
        if e.kind == "failed":
            self.failed += 1
        self._refresh(force=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
