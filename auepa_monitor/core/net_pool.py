"""One processing pool for the face networks of several streams (the ward's beds), no Qt.

Each bed keeps its own tracker, AU engine, scorer and session: what belongs to one face over
time. What is heavy and stateless, the three networks of ``face_landmarker.task``, runs here,
in ``workers`` threads shared by all beds, and requests that wait at the same time are run as
one batch:

* **CUDA** (torch path, :mod:`auepa_monitor.nets.face_torch`): one copy of the networks on the
  GPU and one worker thread that launches the batches (a GPU runs them in order anyway). While
  one batch runs, the next beds' requests queue up and go together: the batch grows with the
  load by itself, no waiting for a batch to fill (which would only add latency).
* **CPU** (LiteRT): ``workers`` copies (a LiteRT interpreter serves one thread at a time),
  default one per core up to 2. A batch is a loop over its items, so batching saves only the
  hand-over; what the pool gives here is a bounded number of interpreters and threads doing
  network work (one per core, not one per bed) and one model load in memory per worker.

Fairness: the worker takes the kind of request (detector, landmarks, blendshapes) whose oldest
request has waited longest, and then every waiting request of that kind up to ``max_batch``
items, so no bed waits behind another bed's backlog. The newest-frame-wins rule stays per bed
(:class:`~auepa_monitor.core.player.LatestSlot`): a bed that falls behind skips frames, and its
processed rate is shown on its tile.

Preprocessing (the crops' warps) and postprocessing (decoding, un-warping) stay in the bed's own
thread: only the forward passes go through the pool (:meth:`FaceNetPool.client` returns a
:class:`~auepa_monitor.core.face_nets.FaceNets` whose ``run_*`` methods are the pool's).
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .face_nets import FaceNets

KINDS: tuple[str, ...] = ("detector", "landmarks", "blendshapes")


@dataclass
class _Request:
    kind: str
    x: np.ndarray  # (B, ...) the network's batch input
    t0: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    out: tuple | np.ndarray | None = None
    error: BaseException | None = None


@dataclass
class PoolStats:
    """What the pool did: forwards run per kind and the items (faces or frames) they held."""

    batches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    items: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    largest: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def mean_batch(self, kind: str) -> float:
        """Mean items per forward of ``kind`` (0 when none ran)."""
        return self.items[kind] / self.batches[kind] if self.batches[kind] else 0.0


class PoolClosed(RuntimeError):
    """A request reached a pool that was closed (the ward is shutting down)."""


class FaceNetPool:
    """Runs the face networks for many trackers in a few shared worker threads, batched.

    Args:
        model_path: the ``face_landmarker.task`` (None: found as the tracker finds it).
        device: ``auto``/``cpu``/``cuda[:N]`` (None: ``$AUEPA_DEVICE``, else the CPU).
        workers: worker threads, each with its own copy of the networks (None: 1 on CUDA,
            ``min(2, cores)`` on the CPU).
        max_batch: most items (frames or faces) in one forward.
        backend: ``litert`` or ``torch`` (None: LiteRT on the CPU, torch on CUDA; ``torch`` on
            the CPU is for tests of the batched path).
    """

    def __init__(self, model_path: str | Path | None = None, device: str | None = None,
                 workers: int | None = None, max_batch: int = 16, backend: str | None = None) -> None:
        if model_path is None:
            from .face import find_face_model

            model_path = find_face_model()
        first = FaceNets(model_path, device=device, backend=backend)
        if workers is None:
            workers = 1 if first.device != "cpu" else max(1, min(2, os.cpu_count() or 1))
        self.nets = [first] + [FaceNets(model_path, device=first.device, backend=first.backend, half=first.half)
                               for _ in range(workers - 1)]
        self.device = first.device
        self.backend = first.backend
        self.max_batch = max(1, int(max_batch))
        self.stats = PoolStats()
        self._queues: dict[str, deque[_Request]] = {k: deque() for k in KINDS}
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, args=(n,), name=f"auepa-netpool-{i}", daemon=True)
                         for i, n in enumerate(self.nets)]
        for t in self._threads:
            t.start()

    @property
    def workers(self) -> int:
        return len(self.nets)

    def client(self) -> FaceNets:
        """A :class:`FaceNets` for one tracker: its forwards run in this pool, the rest in the caller."""
        view = copy.copy(self.nets[0])
        view.run_detector = partial(self._call, "detector")  # type: ignore[method-assign]
        view.run_landmarks = partial(self._call, "landmarks")  # type: ignore[method-assign]
        view.run_blendshapes = partial(self._call, "blendshapes")  # type: ignore[method-assign]
        return view

    def _call(self, kind: str, x: np.ndarray):
        req = _Request(kind, np.asarray(x))
        with self._cv:
            if self._closed:
                raise PoolClosed("the face network pool is closed")
            self._queues[kind].append(req)
            self._cv.notify()
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.out

    def _take(self) -> list[_Request] | None:
        """The next batch (the kind waiting longest, up to ``max_batch`` items); None when closed."""
        with self._cv:
            while True:
                waiting = [q for q in self._queues.values() if q]
                if waiting:
                    break
                if self._closed:
                    return None
                self._cv.wait(0.1)
            q = min(waiting, key=lambda d: d[0].t0)
            batch = [q.popleft()]
            n = len(batch[0].x)
            # Same input shape only: a malformed request fails alone, not the beds batched with it.
            while q and n + len(q[0].x) <= self.max_batch and q[0].x.shape[1:] == batch[0].x.shape[1:]:
                batch.append(q.popleft())
                n += len(batch[-1].x)
            return batch

    def _work(self, nets: FaceNets) -> None:
        run = {"detector": nets.run_detector, "landmarks": nets.run_landmarks, "blendshapes": nets.run_blendshapes}
        while (batch := self._take()) is not None:
            try:
                self._run_batch(run[batch[0].kind], batch)
            except BaseException as e:  # noqa: BLE001 - every caller of the batch gets it; the worker goes on
                for r in batch:
                    if not r.done.is_set():
                        r.error = e
                        r.done.set()

    def _run_batch(self, run, batch: list[_Request]) -> None:
        """One forward for the batch; each request gets its own rows of every output."""
        kind = batch[0].kind
        sizes = [len(r.x) for r in batch]
        out = run(np.concatenate([r.x for r in batch]) if len(batch) > 1 else batch[0].x)
        with self._cv:
            self.stats.batches[kind] += 1
            self.stats.items[kind] += sum(sizes)
            self.stats.largest[kind] = max(self.stats.largest[kind], sum(sizes))
        start = 0
        for r, k in zip(batch, sizes, strict=True):
            sl = slice(start, start + k)
            r.out = tuple(o[sl] for o in out) if isinstance(out, tuple) else out[sl]
            start += k
            r.done.set()

    def close(self) -> None:
        """Stop the workers after the requests already queued; later requests raise :class:`PoolClosed`."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=10)


__all__ = ["FaceNetPool", "PoolClosed", "PoolStats"]
