"""Alert logic (IEC 60601-1-8 style), Qt-free: pain alerts with sustain and hysteresis, technical alarms.

Times are seconds. Pain alerts run on the *source* clock (frame timestamps), so a file played at
4x raises the same alerts at the same video times as at 1x; the stall watchdog runs on the wall
clock (``time.monotonic()``), since it asks whether frames still arrive at all.

Priorities and colours follow the usual monitor convention:

* HIGH (red, flashing): strong pain, score >= ``high_on`` (7.5 = the "strong" level) for
  ``sustain_s`` seconds.
* MEDIUM (yellow): mid pain, score >= ``mid_on`` (5.0) for ``sustain_s`` seconds.

``high_on`` and ``mid_on`` are where the strong and mid levels start: :meth:`AlertConfig.scale`
is the :class:`~records.PainScale` the scorer, the window and the alarms all name levels with,
so a custom threshold never gives a "Mid pain" alarm beside a score the panel calls "no pain".
* LOW (cyan): technical alarm, the signal is lost (no face for ``no_face_s`` seconds, no frames
  for ``stall_s`` seconds, camera gone, file unreadable). A technical alarm means "the monitor
  cannot watch", not "the infant is fine"; it is low priority so it never masks a pain alarm,
  but it stays on until the signal is back.

Hysteresis: a pain alert clears only after the score stayed below ``on - hysteresis`` for
``clear_s`` seconds. Frames without a score (no face) neither raise nor clear a pain alert and
break the running sustain/clear streaks.

Audio: ``acknowledge()`` silences the alarms active now (a new or escalated alarm sounds again);
``pause_audio()`` silences everything for ``audio_pause_s`` seconds. Neither hides the visual alarm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import IntEnum
from typing import Any

from .records import REASON_TEXT, PainLevel, PainScale


class Priority(IntEnum):
    """Alarm priority; higher wins when several are active."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def color(self) -> str:
        """Hex colour of the priority (IEC 60601-1-8 convention)."""
        return ("#808080", "#00bcd4", "#ffd600", "#e53935")[int(self)]

    @property
    def label(self) -> str:
        return ("none", "low", "medium", "high")[int(self)]


@dataclass
class AlertConfig:
    """User-settable alert parameters (scores on the 0-10 scale, times in seconds)."""

    enabled: bool = True
    high_on: float = 7.5
    mid_on: float = 5.0
    hysteresis: float = 1.0
    sustain_s: float = 3.0
    clear_s: float = 3.0
    no_face_s: float = 5.0
    stall_s: float = 3.0
    audio_pause_s: float = 120.0

    def validated(self) -> AlertConfig:
        """A copy with values kept in sensible ranges (mid below high, times >= 0)."""
        c = AlertConfig(**asdict(self))
        c.high_on = min(10.0, max(0.5, float(c.high_on)))
        c.mid_on = min(c.high_on, max(0.5, float(c.mid_on)))
        c.hysteresis = min(5.0, max(0.0, float(c.hysteresis)))
        for name in ("sustain_s", "clear_s", "no_face_s", "stall_s", "audio_pause_s"):
            setattr(c, name, max(0.0, float(getattr(c, name))))
        return c

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scale(self) -> PainScale:
        """The pain levels these settings define: mid from ``mid_on``, strong from ``high_on``,
        weak from 2.5 (or ``mid_on`` when that is lower)."""
        c = self.validated()
        return PainScale(weak=min(PainScale().weak, c.mid_on), mid=c.mid_on, strong=c.high_on)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertConfig:
        """Build from a (possibly partial, string-valued) mapping such as QSettings gives."""
        c = cls()
        for f in fields(cls):
            if f.name in d and d[f.name] is not None:
                v = d[f.name]
                if f.type in ("bool", bool):
                    v = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
                else:
                    v = float(v)
                setattr(c, f.name, v)
        return c.validated()


@dataclass(frozen=True)
class AlertEvent:
    """One change of alarm state, for the event log and the UI.

    ``kind``: "raised", "cleared", "acknowledged", "audio_paused"; ``alarm``: "strong_pain",
    "mid_pain", "no_face", "no_frames", "source_error" (or "" for audio actions);
    ``t``: source time in seconds (None for wall-clock events); ``frame``: 1-based frame or None.
    """

    kind: str
    alarm: str
    priority: Priority
    t: float | None
    frame: int | None = None
    score: float | None = None
    message: str = ""

    def log_fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "alarm": self.alarm, "priority": self.priority.label, "t": self.t,
                "frame": self.frame, "score": None if self.score is None else round(self.score, 2),
                "message": self.message}


PAIN_ALARMS: dict[str, Priority] = {"strong_pain": Priority.HIGH, "mid_pain": Priority.MEDIUM}
#: The pain level each pain alarm watches: it is raised when the score stays at or above the
#: level's start (:meth:`PainScale.start`) and is named with the level's name.
PAIN_ALARM_LEVELS: dict[str, PainLevel] = {"strong_pain": PainLevel.STRONG, "mid_pain": PainLevel.MID}


def pain_alarm_text(alarm: str, scale: PainScale) -> str:
    """The banner words of a pain alarm, from the level names and starts of ``scale``:
    "STRONG PAIN sustained (score ≥ 7.5)", "Mid pain sustained (score ≥ 5)"."""
    level = PAIN_ALARM_LEVELS[alarm]
    name = level.label.upper() if level == PainLevel.STRONG else level.label.capitalize()
    return f"{name} sustained (score ≥ {scale.start(level):g})"
TECH_MESSAGES = {
    "no_face": "Signal lost: no face found",
    "no_frames": "Signal lost: no frames arrive",
    "source_error": "Signal lost: source failed",
}


#: Frames after the user's choice of face within which a change of person is taken as that
#: choice (the frames already in the pipeline when the click came arrive first).
ADOPT_FRAMES = 10


@dataclass
class _Streak:
    """A pain alarm's state: active, and since when the score has been above/below."""

    active: bool = False
    above_since: float | None = None
    below_since: float | None = None
    raised_at: float | None = None
    person: int | None = None  # the face_id it was raised on: only their scores clear it


@dataclass
class AlertMonitor:
    """Feeds on per-frame scores and returns the alarm events each frame causes."""

    config: AlertConfig = field(default_factory=AlertConfig)
    _pain: dict[str, _Streak] = field(default_factory=lambda: {k: _Streak() for k in PAIN_ALARMS})
    _tech: dict[str, str] = field(default_factory=dict)  # alarm -> message, while active
    _last_face_t: float | None = None
    _first_t: float | None = None
    _last_frame_wall: float | None = None
    _acked: set[str] = field(default_factory=set)
    _audio_paused_until: float = -1.0
    _watch: bool = True
    _person: int | None = None  # the face_id of the last frame fed
    _adopt: int = 0  # frames left in which a change of person was the user's choice (see target_chosen)

    # -- feeding ------------------------------------------------------------------------------
    def update(self, t: float, score: float | None, frame: int | None = None, reason: str = "",
               person: int = 0) -> list[AlertEvent]:
        """One processed frame at source time ``t`` with its pain score (None: not scored).

        ``reason`` (a ``FrameResult.reason``) words the technical alarm: "Signal lost: face
        turned away for 12 s" says more to a nurse than "no face found". ``person`` is the
        frame's ``face_id``: when it changes (the user chose another face, or the face followed
        proved to be someone else) the sustain and clear timers start again, so that no alarm is
        raised or cleared on a streak that mixes two people's scores. A pain alarm belongs to the
        person it was raised on: another person's calm face (a parent the tracker moved to) does
        not clear it; it clears on its own person's scores, or on the face the user chose
        (:meth:`target_chosen`).
        """
        cfg = self.config
        ev: list[AlertEvent] = []
        if person != self._person:
            for st in self._pain.values():
                st.above_since = st.below_since = None
                if st.active and self._adopt:
                    st.person = person  # the nurse chose this face: its scores say whether it clears
            self._person = person
            self._adopt = 0
        self._adopt = max(self._adopt - 1, 0)
        if self._first_t is None:
            self._first_t = t
        # Technical: no face for no_face_s.
        if score is not None:
            self._last_face_t = t
            ev += self._clear_tech("no_face", t, frame)
        else:
            since = self._last_face_t if self._last_face_t is not None else self._first_t
            if t - since >= cfg.no_face_s:
                what = REASON_TEXT.get(reason or "no_face", REASON_TEXT["no_face"])
                ev += self._raise_tech("no_face", t, frame, f"Signal lost: {what} for {t - since:.0f} s")
        if not cfg.enabled:
            for name in PAIN_ALARMS:
                if self._pain[name].active:
                    ev.append(self._set_pain(name, False, t, frame, score))
                self._pain[name] = _Streak()
            return ev
        scale = cfg.scale()
        for name, level in PAIN_ALARM_LEVELS.items():
            on = scale.start(level)
            st = self._pain[name]
            if score is None or (st.active and st.person not in (None, person)):
                st.above_since = st.below_since = None  # no score of the person the alarm is about
                continue
            if score >= on:
                st.below_since = None
                if st.above_since is None:
                    st.above_since = t
                if not st.active and t - st.above_since >= cfg.sustain_s:
                    ev.append(self._set_pain(name, True, t, frame, score))
                    st.person = person
            else:
                st.above_since = None
                if score < on - cfg.hysteresis:
                    if st.below_since is None:
                        st.below_since = t
                    if st.active and t - st.below_since >= cfg.clear_s:
                        ev.append(self._set_pain(name, False, t, frame, score))
                else:
                    st.below_since = None  # in the hysteresis band: hold the current state
        return ev

    def target_chosen(self, frames: int = ADOPT_FRAMES) -> None:
        """The user chose the target face (a click, a region): if the face followed changes person
        within the next ``frames`` frames fed, the active pain alarms pass to that person, and
        clear on their calm scores; no new person within them, nothing changes."""
        self._adopt = frames

    def frame_arrived(self, wall: float) -> list[AlertEvent]:
        """A frame reached the monitor at wall-clock time ``wall`` (seconds, monotonic)."""
        self._last_frame_wall = wall
        return self._clear_tech("no_frames", None, None)

    def check_stall(self, wall: float) -> list[AlertEvent]:
        """Call periodically: raises "no_frames" when no frame arrived for ``stall_s`` seconds."""
        if not self._watch or self._last_frame_wall is None:
            return []
        gap = wall - self._last_frame_wall
        if gap >= self.config.stall_s:
            return self._raise_tech("no_frames", None, None, f"{TECH_MESSAGES['no_frames']} for {gap:.0f} s")
        return []

    def watch_stall(self, on: bool, wall: float | None = None) -> list[AlertEvent]:
        """Turn the stall watchdog on or off (off while a file is paused or has ended)."""
        self._watch = on
        if on and wall is not None:
            self._last_frame_wall = wall
        return [] if on else self._clear_tech("no_frames", None, None)

    def source_failed(self, message: str) -> list[AlertEvent]:
        """The source is gone (camera unplugged, file unreadable): a technical alarm."""
        return self._raise_tech("source_error", None, None, message or TECH_MESSAGES["source_error"])

    def source_ok(self) -> list[AlertEvent]:
        return self._clear_tech("source_error", None, None)

    def reset(self) -> list[AlertEvent]:
        """Forget pain streaks and face timing (after a seek or a new source); clears pain alarms."""
        ev = [self._set_pain(n, False, None, None, None) for n, s in self._pain.items() if s.active]
        ev += self._clear_tech("no_face", None, None)
        self._pain = {k: _Streak() for k in PAIN_ALARMS}
        self._last_face_t = self._first_t = None
        self._person = None
        return ev

    # -- audio ----------------------------------------------------------------------------------
    def acknowledge(self) -> list[AlertEvent]:
        """Silence the alarms active now; they stay visible. A new alarm sounds again."""
        now = self.active_alarms()
        new = [a for a in now if a not in self._acked]
        self._acked |= set(now)
        if not new:
            return []
        return [AlertEvent("acknowledged", ",".join(new), self.priority(), None)]

    def pause_audio(self, wall: float) -> list[AlertEvent]:
        """Silence all alarm sounds for ``audio_pause_s`` seconds from wall time ``wall``."""
        self._audio_paused_until = wall + self.config.audio_pause_s
        return [AlertEvent("audio_paused", "", self.priority(), None,
                           message=f"audio paused for {self.config.audio_pause_s:.0f} s")]

    def resume_audio(self) -> None:
        self._audio_paused_until = -1.0

    def audio_paused_left(self, wall: float) -> float:
        """Seconds of audio pause left at wall time ``wall`` (0 when not paused)."""
        return max(0.0, self._audio_paused_until - wall)

    def sounding(self, wall: float) -> Priority:
        """The priority whose sound should play now (NONE when silent, acknowledged or paused)."""
        if self.audio_paused_left(wall) > 0:
            return Priority.NONE
        live = [a for a in self.active_alarms() if a not in self._acked]
        return max((self._alarm_priority(a) for a in live), default=Priority.NONE)

    # -- state ----------------------------------------------------------------------------------
    def active_alarms(self) -> list[str]:
        """Names of the active alarms, highest priority first."""
        names = [n for n, s in self._pain.items() if s.active] + list(self._tech)
        return sorted(names, key=lambda a: -int(self._alarm_priority(a)))

    def priority(self) -> Priority:
        return max((self._alarm_priority(a) for a in self.active_alarms()), default=Priority.NONE)

    def message(self) -> str:
        """One line naming the active alarms ('' when none)."""
        parts = []
        active = self.active_alarms()
        for a in active:
            if a == "mid_pain" and "strong_pain" in active:
                continue  # strong pain says it all
            if a in self._tech:
                parts.append(self._tech[a])
            else:
                text = pain_alarm_text(a, self.config.scale())
                if self._pain[a].person not in (None, self._person):
                    text += " on the face followed before (click the infant to follow them again)"
                parts.append(text)
        return " | ".join(parts)

    def _alarm_priority(self, alarm: str) -> Priority:
        return PAIN_ALARMS.get(alarm, Priority.LOW)

    def _set_pain(self, name: str, on: bool, t: float | None, frame: int | None,
                  score: float | None) -> AlertEvent:
        st = self._pain[name]
        st.active = on
        st.raised_at = t if on else None
        if not on:
            self._acked.discard(name)
            st.below_since = None
        else:
            st.above_since = None
        level = PAIN_ALARM_LEVELS[name]
        start = self.config.scale().start(level)
        return AlertEvent("raised" if on else "cleared", name, PAIN_ALARMS[name], t, frame, score,
                          f"{level.label.capitalize()} alert {'raised' if on else 'cleared'} (score ≥ {start:g})")

    def _raise_tech(self, name: str, t: float | None, frame: int | None, msg: str) -> list[AlertEvent]:
        if name in self._tech:
            self._tech[name] = msg
            return []
        self._tech[name] = msg
        return [AlertEvent("raised", name, Priority.LOW, t, frame, None, msg)]

    def _clear_tech(self, name: str, t: float | None, frame: int | None) -> list[AlertEvent]:
        if name not in self._tech:
            return []
        del self._tech[name]
        self._acked.discard(name)
        return [AlertEvent("cleared", name, Priority.LOW, t, frame, None, f"{TECH_MESSAGES[name]}: cleared")]


@dataclass
class Span:
    """A pain alarm's span on the source clock (seconds); ``end`` None while it is active."""

    alarm: str
    priority: Priority
    start: float
    end: float | None = None


@dataclass
class AlarmSpans:
    """The pain alarm spans, built from alarm events as they come (the one implementation:
    :func:`alert_spans` runs on it too).

    An event without a source time (a reset after a seek, a new source) opens or closes its span
    at ``t_now``, the source time of the last frame; without that it is left out.
    """

    spans: list[Span] = field(default_factory=list)

    def apply(self, events: list[AlertEvent], t_now: float | None = None) -> bool:
        """Take alarm events in order; True when a span opened or closed."""
        changed = False
        for e in events:
            if e.alarm not in PAIN_ALARMS:
                continue
            t = e.t if e.t is not None else t_now
            if e.kind == "raised" and t is not None:
                self.spans.append(Span(e.alarm, e.priority, t))
                changed = True
            elif e.kind == "cleared":
                for sp in reversed(self.spans):
                    if sp.alarm == e.alarm and sp.end is None:
                        sp.end = max(sp.start, t) if t is not None else sp.start
                        changed = True
                        break
        return changed

    def clear(self) -> None:
        self.spans.clear()

    def ranges(self, end_t: float) -> list[tuple[float, float, Priority]]:
        """(start, end, priority) of each span, sorted; a span still open runs to ``end_t``."""
        return sorted((sp.start, sp.end if sp.end is not None else max(end_t, sp.start), sp.priority)
                      for sp in self.spans)

    def starts(self) -> list[float]:
        """The distinct start times (seconds, rounded to the millisecond), sorted."""
        return sorted({round(sp.start, 3) for sp in self.spans})


def alert_spans(events: list[AlertEvent], end_t: float) -> list[tuple[float, float, Priority]]:
    """(start, end, priority) spans of pain alerts from a sequence of events (source time, seconds).

    A span still open at the end runs to ``end_t``.
    """
    spans = AlarmSpans()
    spans.apply(events)
    return spans.ranges(end_t)
