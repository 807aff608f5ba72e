"""One monitored source, Qt-free: player, pipeline, alarms, recording, alarm spans, events, sidecar.

A :class:`MonitorSession` owns what the monitor window used to do itself: the source's life
cycle (a new session folder, fresh alarm state, the AU engine of the source, the OpenFace run
over a recorded file in an :class:`OpenFaceJob` thread), the frame pump (the player's results
and notices into the alarm logic and the session's ``frames.csv`` / ``events.jsonl``), the
pain alarm spans, and the facts of a screenshot's JSON sidecar. It runs headless (``analyze``
style scripts, a headless live monitor, several beds at once, tests) or under the window,
which only shows and controls it: the window gets what happens through a
:class:`MonitorListener` (the Qt side's ``ui.bridge.QtMonitorBridge`` turns each call into a
Qt signal the window receives on the GUI thread).

Threads: :meth:`MonitorSession.poll` drains the player (call it from one thread: the pump
thread of :meth:`start_pump`, or a loop of one's own with :meth:`run`). Controls may be called
from any thread; one lock keeps the session's state consistent. Listener calls are made with
that lock held, from the thread that caused them: they must not block on another thread.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import NOT_A_MEDICAL_DEVICE, __version__
from .alerts import AlarmSpans, AlertConfig, AlertEvent, AlertMonitor, Priority, Span
from .errors import AuepaError
from .player import Player, PlayerNotice, Processed
from .private_files import mask_credentials
from .records import PainScale
from .roi import roi_problem
from .session import Session, default_sessions_dir
from .sources import Source

#: AU engine name -> what the user interface calls it.
ENGINES = {"embedded": "embedded", "openface": "OpenFace 2.2"}

__all__ = ["ENGINES", "MonitorListener", "MonitorSession", "OpenFaceJob", "SeveralFaces", "Span", "open_spec",
           "target_around"]


def open_spec(spec: str | int) -> Source:
    """Open what the user named: a camera index (it reopens by itself after an unplug or a hang,
    stalled after 3 s), a stream URL or device path (reconnecting too), else a file or folder.

    Raises :class:`AuepaError` (``SourceError``) with a one-line reason when it cannot be opened.
    """
    from .streams import open_any, open_live

    if isinstance(spec, int) or str(spec).strip().isdigit():
        return open_live(spec, stall_timeout=3.0)
    return open_any(spec)


def target_around(result: Any, x: float, y: float) -> tuple[float, float, float, float]:
    """The target region for a click at (``x``, ``y``) frame pixels on ``result``'s frame: a square
    centred on the click, as large as the current face (a quarter of the frame height without one)."""
    side = max(result.face.box[2], result.face.box[3]) if result.face is not None else 0.25 * result.size[1]
    return (x - side / 2, y - side / 2, side, side)


class SeveralFaces:
    """Whether several faces were in view in the last ``seconds`` of source time, for the prompts that
    ask for a click on the infant: the detector's count at one frame flickers (a turned child is
    missed at some of its passes), the prompt must not."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._at: float | None = None  # source time (s) of the last frame with several faces seen

    def update(self, r: Any) -> bool:
        """Note ``r`` (a ``FrameResult``) and say whether several faces were seen lately (time
        going back, a seek or a new source, forgets)."""
        if self._at is not None and r.timestamp < self._at:
            self._at = None
        if r.faces_seen > 1:
            self._at = r.timestamp
        return self._at is not None and r.timestamp - self._at <= self.seconds


class OpenFaceJob:
    """Builds the OpenFace engine for one recorded file in a thread (:func:`openface.openface_engine_for`).

    The engine's constructor runs the user's FeatureExtraction over the whole file (minutes on a
    long video); ``progress`` and ``done`` are polled.

    Attributes:
        source: the file; ``desc``/``play``/``src``: what to start once ready (``src`` is the
            already opened Source, closed by whoever drops the job).
        progress: (frames done, frames in total or 0 when unknown).
        engine / error: the result, set before ``done`` (error: one line).
    """

    def __init__(self, source: Path, binary: str | None, src: Source, desc: str, play: bool) -> None:
        self.source, self.binary, self.src, self.desc, self.play = source, binary, src, desc, play
        self.progress: tuple[int, int] = (0, 0)
        self.engine: Any = None
        self.error = ""
        self.started = time.monotonic()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auepa-openface", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _report(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def _run(self) -> None:
        try:
            from .openface import openface_engine_for

            self.engine, why = openface_engine_for(self.source, self.binary, progress=self._report,
                                                   should_stop=self._cancel.is_set)
            if self.engine is None:
                self.error = why
        except AuepaError as e:
            self.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        except Exception as e:  # noqa: BLE001 - a parser crash must reach the user, not kill a thread
            self.error = f"OpenFace failed ({type(e).__name__}: {e})".splitlines()[0]
        finally:
            self._done.set()

    def cancel(self) -> None:
        """Ask the run to stop (OpenFace is killed within a poll interval)."""
        self._cancel.set()

    def join(self, timeout: float = 15.0) -> None:
        self._thread.join(timeout)

    def progress_text(self, now: float | None = None) -> str:
        """One line on the run: the file, the share of frames done and the seconds spent."""
        now = time.monotonic() if now is None else now
        done, total = self.progress
        pct = f"{100 * done / total:.0f}% ({done}/{total} frames)" if total else f"{done} frames"
        return (f"Running OpenFace on {Path(self.desc).name}: {pct}, {now - self.started:.0f} s. "
                "The file plays when its AU values are ready.")

    def ready_text(self) -> str:
        """One line once the engine is ready: from the cache or how long it took, and its first note."""
        info = self.engine.info
        how = "from the cache" if info.from_cache else f"in {info.seconds:.1f} s"
        notes = list(info.notes)
        return f"OpenFace values for {Path(self.desc).name} ready ({how})" + (f"; {notes[0]}" if notes else "")


class MonitorListener:
    """What a view of a :class:`MonitorSession` is told (every method optional: no-ops here)."""

    def frame(self, p: Processed) -> None:
        """A frame of the current source was processed, recorded and run through the alarms."""

    def alarms(self, events: list[AlertEvent]) -> None:
        """The alarm state changed (``events`` in order)."""

    def notice(self, n: PlayerNotice) -> None:
        """The player said something about the current source ("ended", "error")."""

    def source_started(self, src: Source, desc: str, play: bool, note: str) -> None:
        """A source now plays (new session, fresh alarms); ``note``: why the chosen engine is not used."""

    def openface_waiting(self, job: OpenFaceJob) -> None:
        """A recorded file waits for OpenFace's run (the previous source is stopped); also its progress."""

    def openface_done(self, job: OpenFaceJob) -> None:
        """OpenFace's run ended: ``job.engine`` (the file then starts) or ``job.error``."""

    def error(self, message: str) -> None:
        """A one-line message for the user (not an alarm)."""


@dataclass
class SourceFacts:
    """What the monitor knows of the current source."""

    desc: str = ""
    live: bool = False
    fps: float = 30.0  # frames per second
    frame_count: int = 0  # 0 when unknown (live)

    @property
    def title(self) -> str:
        """A short name for a window title: the file's name, or the live source's (no password)."""
        return mask_credentials(self.desc) if self.live else Path(self.desc).name


class MonitorSession:
    """One source monitored through one pipeline (see the module docstring).

    Args:
        pipeline: the Pipeline frames run through (``scorer``, ``au_engine`` swapped per source).
        alert_config: the alarm settings.
        sessions_root: folder for session folders, or a function giving it when a source starts
            (None: :func:`session.default_sessions_dir`).
        lossless: process every frame of a file instead of keeping real-time pace.
        device: compute device name (session.json, sidecars).
        listener: who is told what happens (:class:`MonitorListener`).
    """

    def __init__(self, pipeline: Any, *, alert_config: AlertConfig | None = None,
                 sessions_root: str | Path | Callable[[], Path] | None = None, lossless: bool = False,
                 device: str = "cpu", listener: MonitorListener | None = None) -> None:
        self.pipeline = pipeline
        self.player = Player(pipeline, lossless=lossless)
        self.alerts = AlertMonitor(alert_config or AlertConfig())
        self.spans = AlarmSpans()
        self.events: list[AlertEvent] = []
        self.session: Session | None = None
        self.source = SourceFacts()
        self.device = device
        self.listener = listener or MonitorListener()
        self._root = sessions_root
        self.lock = threading.RLock()
        self.latest: Processed | None = None  # the newest frame ingested
        self.frames_ingested = 0
        self._last_t: float | None = None
        self._last_epoch: int | None = None
        self._last_frame: int | None = None
        self.target: tuple[float, float, float, float] | None = None  # chosen by the user (click, --roi)
        self.initial_roi: tuple[float, float, float, float] | None = None  # --roi, for the first source only
        #: On an OpenFace failure play with the embedded engine (False: report the error, open nothing).
        self.openface_fallback = True
        self._embedded = pipeline.au_engine if getattr(pipeline.au_engine, "name", "") == "embedded" else None
        self.engine_in_use = "embedded"
        self.engine_note = ""
        self.engine_why = ""
        #: The last message for the user: a source failure is set here before its alarm is raised,
        #: so a view that sees the alarm also sees why ('' again when a source starts).
        self.last_error = ""
        #: The current source ended or failed (the player said so).
        self.ended = False
        self.of_job: OpenFaceJob | None = None
        self._old_jobs: list[OpenFaceJob] = []
        self._of_report = 0.0
        self.info_extra: Callable[[], dict[str, Any]] | None = None  # more session.json facts (the view's)
        self._pump: threading.Thread | None = None
        self._pump_stop = threading.Event()
        self._closed = False
        self.set_alert_config(self.alerts.config)

    # ---------------------------------------------------------------------------------- settings
    def sessions_root(self) -> Path:
        r = self._root() if callable(self._root) else self._root
        return Path(r) if r else default_sessions_dir()

    @property
    def scale(self) -> PainScale:
        """The pain levels of the alarm settings (the one scale the scorer and the view use)."""
        return self.alerts.config.scale()

    def set_alert_config(self, cfg: AlertConfig) -> None:
        """Apply alarm settings; their pain levels go to the scorer too (the record's level, the CSV)."""
        with self.lock:
            self.alerts.config = cfg
            scale = cfg.scale()

            def set_scale(pipe) -> None:
                pipe.scorer.scale = scale

            self.player.call_in_worker(set_scale)
            if self.session:
                self.session.event("alert_settings", **cfg.to_dict())

    def set_scorer(self, scorer: Any) -> None:
        """Use another pain scorer from the next frame on (in the processing thread), on this scale."""
        scorer.scale = self.scale

        def swap(pipe) -> None:
            pipe.scorer = scorer

        self.player.call_in_worker(swap)
        with self.lock:
            if self.session:
                self.session.event("model_loaded", model=scorer.name, path=str(scorer.path))

    def load_scorer(self, path: str | Path) -> Any:
        """Load the pain model file ``path`` and use it from the next frame on (smoothing as now).

        Raises :class:`AuepaError` with a one-line reason when the file cannot be used (nothing changes).
        """
        from .scoring import PainScorer

        scorer = PainScorer(path, smoothing=self.pipeline.scorer.smoother.enabled)
        self.set_scorer(scorer)
        return scorer

    def event(self, name: str, **fields: Any) -> None:
        """An entry in the session's ``events.jsonl`` (nothing when not recording)."""
        with self.lock:
            if self.session:
                self.session.event(name, **fields)

    def session_info(self) -> dict[str, Any]:
        sc = self.pipeline.scorer
        info = {"model": sc.name, "model_warning": sc.card.warning, "au_engine": self.engine_in_use,
                "alerts": self.alerts.config.to_dict(), "pain_scale": self.scale.to_dict(), "device": self.device}
        if self.info_extra is not None:
            info.update(self.info_extra())
        return info

    # ----------------------------------------------------------------------------------- sources
    def begin_source(self, src: Source, desc: str, play: bool = True, engine: str = "embedded",
                     openface_bin: str | None = None) -> None:
        """Play an opened source with the AU engine ``engine`` ("embedded" or "openface").

        "openface" on a recorded file: OpenFace runs first in an :class:`OpenFaceJob` and the file
        starts once its values are ready (:meth:`poll`); meanwhile the previous source is stopped
        and nothing is recorded. On a live source: the embedded engine, saying why.
        """
        with self.lock:
            self.drop_openface_job()
            if engine != "openface":
                self.start_source(src, desc, play)
                return
            if src.live:
                from .openface import LIVE_REFUSAL

                self.start_source(src, desc, play, note=f"OpenFace not used for {desc}: {LIVE_REFUSAL}",
                                  why="live source")
                return
            self.player.stop()
            # No frames come while OpenFace runs: no stall alarm, nothing of the previous source.
            self._apply(self.alerts.reset() + self.alerts.source_ok() + self.alerts.watch_stall(False))
            self.spans.clear()
            self.end_session()
            self.latest = None
            self.last_error = ""
            self.source = SourceFacts(desc, False, src.fps, src.frame_count)
            self.of_job = OpenFaceJob(Path(desc), openface_bin, src, desc, play)
            self.listener.openface_waiting(self.of_job)

    def start_source(self, src: Source, desc: str, play: bool = True, engine: Any = None, note: str = "",
                     why: str = "") -> None:
        """Play an opened source now: new session folder, fresh alarm state and spans.

        ``engine``: the AU engine for this source (None: the embedded one); it replaces the
        pipeline's in the processing thread before this source's first frame. ``note``: why
        the chosen engine is not used (logged); ``why``: its short form.
        """
        with self.lock:
            self.drop_openface_job()
            if engine is None:
                engine = self._embedded_engine()

            def swap(pipe) -> None:
                pipe.new_source(engine)  # before its first frame: its own people (face_id from 0), its engine

            self.player.call_in_worker(swap)
            self.engine_in_use = engine.name
            self.engine_note = note
            self.engine_why = why
            self.end_session()
            self.source = SourceFacts(desc, src.live, src.fps, src.frame_count)
            self.latest = None
            self.ended = False
            self.last_error = ""
            self.spans.clear()
            self._last_t = self._last_epoch = self._last_frame = None
            self._apply(self.alerts.reset() + self.alerts.source_ok())
            errors = []  # said after source_started, which starts the view afresh
            try:
                self.session = Session(desc, root=self.sessions_root(), info=self.session_info())
            except OSError as e:
                self.session = None
                errors.append(f"cannot create the session folder in {self.sessions_root()}: {e}; not recording")
            if self.session is not None and note:
                self.session.event("au_engine_note", engine=engine.name, note=note)
            # A target chosen by a click belongs to its source; --roi applies to the first source only.
            roi, self.initial_roi = self.initial_roi, None
            problem = roi_problem(roi, src.size, desc) if roi is not None else ""
            if problem:  # a region off the frame could never hold a face: say so, pick automatically
                roi = None
                errors.append(f"{problem}; the target is chosen automatically instead")
            self.target = roi
            self.player.set_target(roi)
            self.listener.source_started(src, desc, play, note)
            for msg in errors:
                self.listener.error(msg)
            self.player.open(src, play=play)
            self.alerts.watch_stall(play, time.monotonic())

    def _embedded_engine(self) -> Any:
        if self._embedded is None:
            from .engines import make_au_engine

            self._embedded = make_au_engine()
        return self._embedded

    def drop_openface_job(self) -> OpenFaceJob | None:
        """Abandon a running OpenFace job (its file is not opened); returns it."""
        with self.lock:
            job, self.of_job = self.of_job, None
            if job is not None:
                job.cancel()
                job.src.close()
                self._old_jobs.append(job)
            self._old_jobs = [j for j in self._old_jobs if j.alive]
            return job

    def _poll_openface(self, now: float) -> None:
        job = self.of_job
        if job is None:
            return
        if not job.done:
            if now - self._of_report >= 0.25:
                self._of_report = now
                self.listener.openface_waiting(job)
            return
        self.of_job = None
        self._old_jobs.append(job)  # its thread is ending: joined at close
        if job.engine is not None:
            info = job.engine.info
            self.start_source(job.src, job.desc, job.play, engine=job.engine)
            self.event("openface", csv=str(info.csv), from_cache=info.from_cache, seconds=round(info.seconds, 2),
                       notes=list(info.notes))
        elif not self.openface_fallback:
            job.src.close()
        else:
            self.start_source(job.src, job.desc, job.play, note=f"Playing with the embedded engine: {job.error}",
                              why="OpenFace failed")
        self.listener.openface_done(job)

    def end_session(self) -> None:
        """Close the session folder (``session_ended``), if one is recorded."""
        with self.lock:
            if self.session is not None:
                self.session.close()
                self.session = None

    # ---------------------------------------------------------------------------------- controls
    def play(self) -> None:
        with self.lock:
            self.player.play()
            self.alerts.watch_stall(True, time.monotonic())

    def pause(self) -> None:
        with self.lock:
            self.player.pause()
            self._apply(self.alerts.watch_stall(False))

    def seek(self, frame: int) -> None:
        """Show 1-based ``frame`` of a file (temporal state restarts there)."""
        if self.player.source is not None and not self.source.live:
            self.player.seek(frame)

    def step(self, delta: int) -> None:
        with self.lock:
            if self.player.source is None or self.source.live:
                return
            self.player.step(delta)
            self._apply(self.alerts.watch_stall(False))

    def set_target(self, roi: tuple[float, float, float, float] | None) -> None:
        """The user chose the target face (None: the tracker chooses again)."""
        with self.lock:
            self.target = roi
            self.alerts.target_chosen()
            self.player.set_target(roi)
            self.event("target_set", roi=None if roi is None else [round(v, 1) for v in roi])

    def acknowledge(self) -> None:
        with self.lock:
            self._apply(self.alerts.acknowledge())

    def pause_audio(self) -> None:
        with self.lock:
            self._apply(self.alerts.pause_audio(time.monotonic()))

    def alarm_state(self, wall: float | None = None) -> tuple[Priority, str, Priority, float]:
        """(priority, message, sounding priority, audio pause left in s) now."""
        wall = time.monotonic() if wall is None else wall
        with self.lock:
            a = self.alerts
            return a.priority(), a.message(), a.sounding(wall), a.audio_paused_left(wall)

    def alert_starts(self) -> list[float]:
        with self.lock:
            return self.spans.starts()

    def alert_start_from(self, t: float, direction: int) -> float | None:
        """The start (source seconds) of the next alarm span after ``t`` (``direction`` > 0) or the
        previous one before it, or None. 1 ms apart counts as the same time."""
        starts = self.alert_starts()
        cand = [s for s in starts if s > t + 1e-3] if direction > 0 else [s for s in starts if s < t - 1e-3]
        if not cand:
            return None
        return cand[0] if direction > 0 else cand[-1]

    def reopen_spec(self) -> tuple[str, bool] | None:
        """(file, play) to reopen when the AU engine is changed: the file waiting for OpenFace, or
        the recorded file playing or paused; None for a live source or none."""
        with self.lock:
            job = self.of_job
            if job is not None:
                return job.desc, job.play
            if self.player.source is not None and not self.source.live and self.source.desc:
                return self.source.desc, self.player.playing
            return None

    def span_ranges(self) -> list[tuple[float, float, Priority]]:
        with self.lock:
            return self.spans.ranges(self._last_t or 0.0)

    # -------------------------------------------------------------------------------- frame pump
    def _apply(self, events: list[AlertEvent]) -> None:
        """Log alarm events, update the spans, tell the listener."""
        if not events:
            return
        for e in events:
            self.events.append(e)
            if self.session:
                self.session.event("alert", **e.log_fields())
        self.spans.apply(events, self._last_t)
        self.listener.alarms(events)

    def ingest(self, p: Processed) -> None:
        """Record one processed frame and run the alarm logic on it (the pump's step; tests and scripts)."""
        with self.lock:
            r = p.result
            if (self._last_epoch is not None and p.epoch != self._last_epoch) or \
                    (self._last_t is not None and r.timestamp < self._last_t):
                # After a seek the score history is not continuous: sustain/clear timers restart.
                self._apply(self.alerts.reset())
                if self.session:
                    # frames.csv gets a new pass from here: say where it starts, so repeated frame
                    # numbers can be told apart (csv_row is 1-based, the header not counted).
                    self.session.event("playback_jump", from_frame=self._last_frame, to_frame=r.frame,
                                       csv_row=self.session.frames_written + 1)
            self._last_epoch, self._last_t, self._last_frame = p.epoch, r.timestamp, r.frame
            if self.session:
                self.session.write_frame(r)
            ev = self.alerts.frame_arrived(time.monotonic())
            ev += self.alerts.update(r.timestamp, r.pain_score, r.frame, r.reason, r.face_id)
            self._apply(ev)
            self.latest = p
            self.frames_ingested += 1
            self.listener.frame(p)

    def _notice(self, n: PlayerNotice) -> None:
        if n.kind in ("ended", "error"):
            self.ended = True
        if n.kind == "error":
            self.last_error = mask_credentials(n.message)
            self._apply(self.alerts.source_failed(n.message))
        elif n.kind == "ended":
            self._apply(self.alerts.watch_stall(False))
            if self.session:
                incomplete = getattr(self.player.source, "incomplete", "")
                self.session.event("source_ended", source=self.source.desc,
                                   **({"incomplete": incomplete} if incomplete else {}))
        self.listener.notice(n)

    def poll(self, wait: float = 0.0) -> int:
        """Take what the player produced (results in order, and its notices), check the stall
        watchdog and OpenFace's run, sync the logs. Waits up to ``wait`` seconds for a first
        result. Returns the number of frames ingested."""
        before = self.frames_ingested
        first = True
        while True:
            p = self._next_result(wait if first else 0.0)
            first = False
            with self.lock:
                # The taken result first: a notice may make the monitor take the results after it.
                if p is not None and p.epoch >= self.player.source_epoch:  # not a late result of the previous source
                    self.ingest(p)
                self._drain_notices()
                if p is None:
                    break
        now = time.monotonic()
        with self.lock:
            self._apply(self.alerts.check_stall(now))
            self._poll_openface(now)
            if self.session:
                self.session.flush()
        return self.frames_ingested - before

    def _drain_notices(self) -> None:
        while True:
            try:
                n: PlayerNotice = self.player.notices.get_nowait()
            except Exception:  # noqa: BLE001 - queue.Empty
                return
            if n.epoch >= self.player.source_epoch:  # not about a source closed meanwhile
                if n.kind == "ended":
                    # The player puts a source's last results before its "ended": record them
                    # first, so that whoever sees ``ended`` also sees the last frame.
                    self._ingest_waiting()
                self._notice(n)

    def _next_result(self, wait: float) -> Processed | None:
        """The player's next result, waiting up to ``wait`` seconds (0: only one already there)."""
        try:
            return self.player.results.get(timeout=wait) if wait > 0 else self.player.results.get_nowait()
        except Exception:  # noqa: BLE001 - queue.Empty
            return None

    def _ingest_waiting(self) -> None:
        while (p := self._next_result(0.0)) is not None:
            if p.epoch >= self.player.source_epoch:
                self.ingest(p)

    def start_pump(self, period: float = 0.02) -> None:
        """Run :meth:`poll` in a thread of its own until :meth:`close` (the window's way)."""
        if self._pump is not None:
            return

        def loop() -> None:
            while not self._pump_stop.is_set():
                try:
                    self.poll(wait=period)
                except Exception as e:  # noqa: BLE001 - the pump must keep the monitor alive
                    self.listener.error(f"monitor: {type(e).__name__}: {e}")
                    self._pump_stop.wait(0.5)

        self._pump = threading.Thread(target=loop, name="auepa-monitor-pump", daemon=True)
        self._pump.start()

    def run(self, until: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        """Headless: pump until the source ended or failed (or ``until()``), or ``timeout`` seconds."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.ended and not (until is not None and until()) and (end is None or time.monotonic() < end):
            self.poll(wait=0.05)
        self.poll()

    def close(self) -> None:
        """Stop the pump and the player, join the OpenFace jobs, close the session (idempotent)."""
        self._pump_stop.set()
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(timeout=10)
        self._pump = None
        self.drop_openface_job()
        for job in self._old_jobs:
            job.join()
        self._old_jobs.clear()
        self.player.close()
        self.end_session()
        self._closed = True

    # --------------------------------------------------------------------------------- sidecar
    def screenshot_name(self, p: Processed) -> str:
        """A screenshot's file name: the source's stem, the frame and the time of day."""
        desc = self.source.desc
        stem = Path(desc).stem if not self.source.live else \
            re.sub(r"[^A-Za-z0-9._-]+", "_", mask_credentials(desc)).strip("_")
        return f"{stem}_f{p.result.frame:06d}_{time.strftime('%H%M%S')}.png"

    def screenshot_dir(self) -> Path:
        with self.lock:
            if self.session is not None:
                return self.session.path / "screenshots"
        return self.sessions_root() / "screenshots"

    def sidecar(self, p: Processed, png: Path, win_png: Path, *, view: dict[str, Any] | None = None,
                cnn: dict[str, Any] | None = None) -> dict[str, Any]:
        """A screenshot's JSON sidecar: source, frame, scores, model, alarms and settings.

        ``view``: the view's settings (overlays, ...), added under ``settings``; ``cnn``: the
        Grad-CAM explanation shown, if any.
        """
        r = p.result
        sc = self.pipeline.scorer
        with self.lock:
            return {
                "program": f"AuE-IPA Monitor {__version__}",
                "notice": NOT_A_MEDICAL_DEVICE,
                "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "source": mask_credentials(self.source.desc),
                "live": self.source.live,
                "frame": r.frame,
                "timestamp_s": round(r.timestamp, 3),
                "image": png.name,
                "window_image": win_png.name,
                "size": list(r.size),
                "face": None if r.face is None else {"box": [round(v, 1) for v in r.face.box],
                                                      "quality": round(r.face.quality, 3)},
                "faces_seen": r.faces_seen,
                "scores": {"pain_score": r.pain_score, "pain_raw": r.pain_raw,
                           "pain_level": None if r.pain_score is None else self.scale.level(r.pain_score).label,
                           "pspi": r.pspi, "au": {f"AU{a}": round(v, 3) for a, v in r.au.items()}},
                "model": {"name": sc.name, "path": str(sc.path), "warning": sc.card.warning,
                          "trained_on_infant_pain": sc.card.trained_on_infant_pain, "au_engine": r.au_engine,
                          "au_engine_note": self.engine_note, "cnn": cnn},
                "alarms": {"active": self.alerts.active_alarms(), "priority": self.alerts.priority().label},
                "settings": {"alerts": self.alerts.config.to_dict(), "pain_scale": self.scale.to_dict(),
                             "speed": self.player.speed, "smoothing": sc.smoother.enabled,
                             "device": self.device, **(view or {})},
            }
