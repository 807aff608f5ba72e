"""Alert logic on crafted score sequences (Qt-free)."""

from __future__ import annotations

from auepa_monitor.core.alerts import AlertConfig, AlertMonitor, Priority, alert_spans


def feed(mon: AlertMonitor, scores, fps: float = 10.0, t0: float = 0.0):
    """Feed scores at ``fps``; return all events with the frame time they happened at."""
    out = []
    for i, s in enumerate(scores):
        t = t0 + i / fps
        for e in mon.update(t, s, frame=i + 1):
            out.append(e)
    return out


def test_short_spike_raises_nothing():
    mon = AlertMonitor(AlertConfig(sustain_s=3.0))
    ev = feed(mon, [1.0] * 10 + [9.0] * 20 + [1.0] * 10)  # 2 s above: shorter than sustain
    assert [e for e in ev if e.kind == "raised"] == []
    assert mon.priority() == Priority.NONE


def test_sustained_strong_pain_raises_high_then_clears_with_hysteresis():
    cfg = AlertConfig(high_on=7.5, mid_on=5.0, hysteresis=1.0, sustain_s=3.0, clear_s=2.0)
    mon = AlertMonitor(cfg)
    ev = feed(mon, [9.0] * 40)  # 4 s at 9
    raised = [e for e in ev if e.kind == "raised"]
    assert {e.alarm for e in raised} == {"strong_pain", "mid_pain"}
    strong = next(e for e in raised if e.alarm == "strong_pain")
    assert strong.priority == Priority.HIGH and abs(strong.t - 3.0) < 1e-9
    assert mon.priority() == Priority.HIGH
    # In the hysteresis band (6.5 <= s < 7.5) the high alert holds, however long.
    ev = feed(mon, [7.0] * 100, t0=4.0)
    assert not [e for e in ev if e.kind == "cleared"]
    assert mon.priority() == Priority.HIGH
    # Below 6.5 for 2 s clears the high alert; mid (on 5.0, off < 4.0) stays.
    ev = feed(mon, [6.0] * 30, t0=14.0)
    cleared = [e for e in ev if e.kind == "cleared"]
    assert [e.alarm for e in cleared] == ["strong_pain"]
    assert abs(cleared[0].t - 16.0) < 1e-9
    assert mon.priority() == Priority.MEDIUM
    # A dip below the off threshold that is too short does not clear.
    ev = feed(mon, [3.0] * 10 + [6.0] * 10, t0=17.0)
    assert not [e for e in ev if e.kind == "cleared"]
    ev = feed(mon, [3.0] * 30, t0=19.0)
    assert [e.alarm for e in ev if e.kind == "cleared"] == ["mid_pain"]
    assert mon.priority() == Priority.NONE


def test_missing_scores_break_streaks_and_raise_no_face():
    mon = AlertMonitor(AlertConfig(sustain_s=3.0, no_face_s=2.0))
    ev = feed(mon, [9.0] * 20 + [None] * 5 + [9.0] * 20)  # never 3 s in a row
    assert not [e for e in ev if e.alarm in ("strong_pain", "mid_pain")]
    ev = feed(mon, [None] * 30, t0=10.0)
    raised = [e for e in ev if e.kind == "raised"]
    assert [e.alarm for e in raised] == ["no_face"] and raised[0].priority == Priority.LOW
    assert "no face" in mon.message()
    ev = feed(mon, [1.0], t0=13.0)
    assert [(e.kind, e.alarm) for e in ev] == [("cleared", "no_face")]


def test_a_change_of_person_restarts_the_sustain_and_clear_timers():
    """2 s of the infant at 9, then 2 s of another person (face_id 1) at 9: never 3 s of one
    person, so no alarm; 3 s more of that person raises it. Clearing restarts alike."""
    mon = AlertMonitor(AlertConfig(high_on=7.5, mid_on=5.0, hysteresis=1.0, sustain_s=3.0, clear_s=2.0))

    def run(scores, person, t0):
        return [e for i, s in enumerate(scores) for e in mon.update(t0 + i / 10, s, i + 1, person=person)]

    assert not run([9.0] * 20, 0, 0.0) + run([9.0] * 20, 1, 2.0)
    raised = run([9.0] * 11, 1, 4.0)
    assert {e.alarm for e in raised if e.kind == "raised"} == {"strong_pain", "mid_pain"}
    assert abs(raised[0].t - 5.0) < 1e-9  # 3 s after the change, not after the first 9
    assert not [e for e in run([1.0] * 15, 1, 5.1) + run([1.0] * 15, 2, 6.6) if e.kind == "cleared"]
    # The alarm is person 1's: person 2's calm face (the tracker moved to a parent) never clears it,
    assert not [e for e in run([1.0] * 100, 2, 8.1) if e.kind == "cleared"]
    assert mon.active_alarms() and "on the face followed before" in mon.message()
    # person 1 calm again for clear_s does.
    mon.update(18.0, 9.0, 1, person=1)
    assert "followed before" not in mon.message()  # its own person again
    cleared = run([1.0] * 21, 1, 18.1)
    assert {e.alarm for e in cleared if e.kind == "cleared"} == {"strong_pain", "mid_pain"}


def test_a_pain_alarm_passes_to_the_face_the_user_chose():
    """Raised on person 0; the nurse clicks another face (``target_chosen``) and, after two frames
    already in the pipeline, the frames are person 1's: the alarm is now about person 1, whose calm
    scores clear it after clear_s. The same change of person without a click (the tracker moved on
    its own) leaves it raised; a click after which the person stays the same changes nothing."""
    def cleared(click: bool, after: int) -> set[str]:
        mon = AlertMonitor(AlertConfig(high_on=7.5, mid_on=5.0, hysteresis=1.0, sustain_s=3.0, clear_s=2.0))
        ev = [e for i in range(40) for e in mon.update(i / 10, 9.0, i + 1, person=0)]
        assert {e.alarm for e in ev if e.kind == "raised"} == {"strong_pain", "mid_pain"}
        if click:
            mon.target_chosen()
        out = set()
        for i in range(40):
            person = 0 if i < 2 else after
            out |= {e.alarm for e in mon.update(4.0 + i / 10, 1.0, 41 + i, person=person) if e.kind == "cleared"}
        return out

    assert cleared(True, 1) == {"strong_pain", "mid_pain"}
    assert cleared(False, 1) == set()
    assert cleared(True, 0) == {"strong_pain", "mid_pain"}  # person 0 calm: clears as before


def test_stall_watchdog_and_source_failure():
    mon = AlertMonitor(AlertConfig(stall_s=3.0))
    mon.frame_arrived(100.0)
    assert mon.check_stall(102.0) == []
    ev = mon.check_stall(103.5)
    assert [(e.kind, e.alarm) for e in ev] == [("raised", "no_frames")]
    assert mon.check_stall(104.0) == []  # raised once
    assert [(e.kind, e.alarm) for e in mon.frame_arrived(104.1)] == [("cleared", "no_frames")]
    mon.watch_stall(False)
    assert mon.check_stall(200.0) == []
    ev = mon.source_failed("camera 0: stopped delivering frames")
    assert ev[0].alarm == "source_error" and "camera 0" in mon.message()
    assert mon.source_ok()[0].kind == "cleared"


def test_acknowledge_and_audio_pause():
    mon = AlertMonitor(AlertConfig(sustain_s=0.0, audio_pause_s=120.0))
    feed(mon, [6.0])
    assert mon.sounding(0.0) == Priority.MEDIUM
    assert mon.acknowledge()[0].kind == "acknowledged"
    assert mon.sounding(0.0) == Priority.NONE and mon.priority() == Priority.MEDIUM
    feed(mon, [9.0], t0=1.0)  # escalation sounds again
    assert mon.sounding(0.0) == Priority.HIGH
    mon.pause_audio(10.0)
    assert mon.sounding(50.0) == Priority.NONE and mon.audio_paused_left(50.0) == 80.0
    assert mon.sounding(131.0) == Priority.HIGH


def test_disabled_alerts_and_reset_clear_pain():
    mon = AlertMonitor(AlertConfig(sustain_s=0.0))
    feed(mon, [9.0])
    mon.config = AlertConfig(enabled=False)
    ev = feed(mon, [9.0], t0=1.0)
    assert {e.alarm for e in ev if e.kind == "cleared"} == {"strong_pain", "mid_pain"}
    mon.config = AlertConfig(sustain_s=0.0)
    feed(mon, [9.0], t0=2.0)
    assert {e.alarm for e in mon.reset()} == {"strong_pain", "mid_pain"}
    assert mon.priority() == Priority.NONE


def test_config_round_trip_and_validation():
    c = AlertConfig.from_dict({"high_on": "8", "mid_on": "9.5", "enabled": "false", "sustain_s": "-1"})
    assert c.high_on == 8.0 and c.mid_on == 8.0 and c.enabled is False and c.sustain_s == 0.0
    assert AlertConfig.from_dict(c.to_dict()) == c


def test_alert_spans():
    mon = AlertMonitor(AlertConfig(sustain_s=1.0, clear_s=1.0))
    ev = feed(mon, [9.0] * 30 + [0.0] * 30)
    spans = alert_spans(ev, end_t=6.0)
    assert [(round(a, 1), round(b, 1), p) for a, b, p in spans] == [
        (1.0, 4.0, Priority.MEDIUM), (1.0, 4.0, Priority.HIGH)]


def test_custom_thresholds_name_levels_alike_everywhere():
    """Issue 12 defect 7: with custom thresholds the alarm said "Mid pain sustained" while the
    panel called the same score "no pain". The alarm settings define one PainScale that the
    alarms, the scorer's level and the window read."""
    from auepa_monitor.core.records import PAPER_SCALE, PainLevel

    cfg = AlertConfig(mid_on=2.0, high_on=4.0, sustain_s=1.0)
    scale = cfg.scale()
    assert (scale.weak, scale.mid, scale.strong) == (2.0, 2.0, 4.0)
    mon = AlertMonitor(cfg)
    ev = feed(mon, [2.4] * 20)
    assert [e.alarm for e in ev if e.kind == "raised"] == ["mid_pain"]
    level = scale.level(2.4)
    assert level == PainLevel.MID
    assert mon.message().lower().startswith(level.label) and "≥ 2" in mon.message()
    assert ev[-1].message.startswith("Mid pain alert raised")
    # Below the mid start the score has a lower level name, and no mid alarm is raised.
    mon2 = AlertMonitor(cfg)
    assert not feed(mon2, [1.9] * 20) and scale.level(1.9) == PainLevel.NO_PAIN
    # The default settings are the paper's levels.
    assert AlertConfig().scale() == PAPER_SCALE and PainLevel.from_score(5.0) == PainLevel.MID


def test_scorer_levels_follow_the_scale(tmp_path):
    from auepa_monitor.core.records import PainLevel
    from auepa_monitor.core.scoring import PainScorer

    sc = PainScorer(smoothing=False)
    sc.scale = AlertConfig(mid_on=0.5, high_on=0.6).scale()
    score, _raw, level = sc.score({a: 0.0 for a in range(1, 46)}, 0.0)
    assert level == sc.scale.level(score)
    assert level >= PainLevel.WEAK or score < 0.5
