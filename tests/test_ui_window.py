"""The monitor window, offscreen (pytest-qt), on real sample videos and the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from auepa_monitor.core.alerts import AlertConfig, Priority  # noqa: E402
from auepa_monitor.core.player import Processed  # noqa: E402
from auepa_monitor.core.records import FrameResult, PainLevel  # noqa: E402
from auepa_monitor.core.session import Session  # noqa: E402
from auepa_monitor.core.sources import Source, VideoFileSource  # noqa: E402

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parent.parent


def wait_frame(qtbot, win, cond, timeout=20000):
    qtbot.waitUntil(lambda: win.current is not None and cond(win.current.result), timeout=timeout)


@pytest.mark.slow
def test_open_play_pause_seek_step(make_window, qtbot, faces_dir):
    win = make_window()
    assert win.open_source(str(faces_dir / "default.wmv"))
    assert win.monitor.source.frame_count == 288 and win.slider.isEnabled()
    wait_frame(qtbot, win, lambda r: r.frame >= 10)
    assert win.current.result.success and win.current.result.pain_score is not None
    win.pause()
    qtbot.wait(300)
    f = win.current.result.frame
    qtbot.wait(300)
    assert win.current.result.frame == f and not win.player.playing  # paused: the picture stays
    win.seek(150)
    wait_frame(qtbot, win, lambda r: r.frame == 150)
    assert win.slider.value() == 150 and "150/288" in win.pos_label.text()
    win.step(1)
    wait_frame(qtbot, win, lambda r: r.frame == 151)
    win.step(-1)
    wait_frame(qtbot, win, lambda r: r.frame == 150)
    win.play()
    wait_frame(qtbot, win, lambda r: r.frame > 160)
    assert "fps" in win.stat_label.text() and "device" in win.stat_label.text()
    # The session CSV got rows with the analyze columns.
    win.pause()
    qtbot.wait(1200)
    csv = (win.monitor.session.path / "frames.csv").read_text().splitlines()
    assert csv[0].startswith("frame,face_id,timestamp,confidence,success") and len(csv) > 10
    # Each jump (the seek to 150, the step back to 150) is logged with the CSV row where the new
    # pass starts, so repeated frame numbers can be told apart (issue 12 defect 5).
    from auepa_monitor.core.recorder import read_events

    jumps = [e for e in read_events(win.monitor.session.path / "events.jsonl") if e["event"] == "playback_jump"]
    assert [j["to_frame"] for j in jumps][:1] == [150] and len(jumps) >= 2
    for j in jumps:
        assert int(csv[j["csv_row"]].split(",")[0]) == j["to_frame"]


@pytest.mark.slow
def test_screenshot_png_and_sidecar(make_window, qtbot, faces_dir, tmp_path):
    win = make_window()
    win.open_source(str(faces_dir / "default.wmv"))
    wait_frame(qtbot, win, lambda r: r.frame >= 5 and r.success)
    win.pause()
    qtbot.wait(200)
    png, win_png, side = win.save_screenshot(tmp_path / "shot.png")
    img = QImage(str(png))
    assert (img.width(), img.height()) == (640, 480)  # the frame's own size, overlays drawn in
    assert QImage(str(win_png)).width() == win.width()
    meta = json.loads(side.read_text())
    for key in ("source", "frame", "timestamp_s", "scores", "model", "settings", "face", "notice"):
        assert key in meta, key
    assert meta["frame"] == win.current.result.frame and meta["source"].endswith("default.wmv")
    assert meta["scores"]["pain_score"] == pytest.approx(win.current.result.pain_score)
    assert meta["model"]["warning"] == "Not trained on infant pain data"
    assert meta["settings"]["alerts"]["high_on"] == 7.5
    # Default location: the session folder; the shortcut key does the same.
    n = len(list((win.monitor.session.path / "screenshots").glob("*.png"))) if (win.monitor.session.path / "screenshots").exists() else 0
    qtbot.keyClick(win, Qt.Key.Key_S)
    assert len(list((win.monitor.session.path / "screenshots").glob("*_window.png"))) == n // 2 + 1


def _crafted(win, scores, fps=10.0, t0=0.0):
    """Feed crafted records through the same path processed frames take (alerts, session, curve)."""
    import numpy as np

    img = np.zeros((48, 64, 3), np.uint8)
    for i, s in enumerate(scores):
        t = t0 + i / fps
        r = FrameResult(frame=int(round(t * fps)) + 1, timestamp=t, faces_seen=1, face=None, pain_score=s,
                        pain_raw=s, pain_level=PainLevel.from_score(s), pspi=0.0, size=(64, 48))
        win.monitor.ingest(Processed(r, img, 0, time.monotonic(), time.monotonic()))


def test_alert_raised_and_cleared_on_crafted_sequence(make_window, qtbot, tmp_path):
    win = make_window()
    win.set_alert_config(AlertConfig(high_on=7.5, mid_on=5.0, hysteresis=1.0, sustain_s=2.0, clear_s=2.0))
    win.monitor.session = Session("crafted", root=tmp_path / "sessions")
    _crafted(win, [1.0] * 10 + [9.0] * 30)  # 3 s of strong pain
    assert win.banner.priority == Priority.HIGH and "STRONG PAIN" in win.banner.text()
    assert win.banner._timer.isActive()  # high priority flashes
    assert sorted(s.priority for s in win.spans) == [Priority.MEDIUM, Priority.HIGH]
    win.monitor.acknowledge()
    assert win.monitor.alerts.sounding(time.monotonic()) == Priority.NONE and win.monitor.alerts.priority() == Priority.HIGH
    _crafted(win, [7.0] * 30, t0=4.0)  # hysteresis band: holds
    assert win.banner.priority == Priority.HIGH
    _crafted(win, [1.0] * 30, t0=7.0)  # below both off thresholds for 3 s: clears
    assert win.banner.priority == Priority.NONE and not win.banner._timer.isActive()
    assert all(s.end is not None for s in win.spans)
    win.monitor.session.close()
    events = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()]
    alerts = [(e["kind"], e["alarm"]) for e in events if e["event"] == "alert"]
    assert ("raised", "strong_pain") in alerts and ("cleared", "strong_pain") in alerts
    assert ("acknowledged", "strong_pain,mid_pain") in alerts
    raised = next(e for e in events if e.get("kind") == "raised" and e["alarm"] == "strong_pain")
    assert raised["t"] == pytest.approx(3.0) and "time" in raised


def test_custom_thresholds_banner_panel_curve_and_help_agree(make_window, tmp_path):
    """Issue 12 defect 7: the banner said "Mid pain sustained" while the panel said "2.5 no pain"."""
    win = make_window()
    win.set_alert_config(AlertConfig(high_on=4.0, mid_on=2.0, hysteresis=0.5, sustain_s=1.0, clear_s=1.0))
    win.monitor.session = Session("crafted", root=tmp_path / "sessions")
    _crafted(win, [2.4] * 20)  # 2 s at 2.4: mid pain on these settings (the paper calls it no pain)
    win.show_processed(_last(win))  # the panel shows the last of them
    assert win.banner.priority == Priority.MEDIUM
    level = win.pain.level.text()
    assert level == "mid pain" and win.banner.text().lower().startswith(level), (win.banner.text(), level)
    assert win.curve.mid_line.value() == 2.0 and win.curve.high_line.value() == 4.0
    assert "from 4 strong" in win.help_text() and "score ≥ 2" in win.help_text()
    win.monitor.session.close()
    raised = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()
              if '"raised"' in x]
    assert raised and raised[0]["message"].startswith("Mid pain alert raised (score ≥ 2")


def _last(win):
    import numpy as np

    r = FrameResult(frame=20, timestamp=1.9, faces_seen=1, face=None, pain_score=2.4, pain_raw=2.4,
                    pain_level=PainLevel.from_score(2.4), pspi=0.0, size=(64, 48))
    return Processed(r, np.zeros((48, 64, 3), np.uint8), 0, time.monotonic(), time.monotonic())


def test_alarm_controls_always_visible_at_1024x768(make_window, qtbot):
    """Issue 12 defect 8: at 1024x768 Acknowledge and Audio off fell into the toolbar's overflow."""
    from PySide6.QtWidgets import QApplication, QToolBar

    win = make_window()
    win.resize(1024, 768)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: win.width() == 1024 and win.height() == 768, timeout=3000)
    QApplication.processEvents()
    inside = win.rect()
    for button, action in ((win.ack_button, win.act_ack), (win.audio_button, win.act_pause_audio)):
        assert button.defaultAction() is action
        assert button.isVisible() and button.width() >= 60 and button.height() >= 16
        top_left = button.mapTo(win, button.rect().topLeft())
        bottom_right = button.mapTo(win, button.rect().bottomRight())
        assert inside.contains(top_left) and inside.contains(bottom_right), (top_left, bottom_right)
        assert button.visibleRegion().boundingRect().size() == button.size()  # nothing covers it
        # Not a toolbar's button (a toolbar hides what does not fit in its overflow menu).
        assert not any(isinstance(w, QToolBar) for w in _ancestors(button))
    assert win.act_ack.shortcut().toString() == "A" and win.act_pause_audio.shortcut().toString() == "P"


def _ancestors(w):
    while w is not None:
        w = w.parentWidget()
        if w is not None:
            yield w


class _FreezingSource(Source):
    """A real video that stops delivering after ``n`` frames (read blocks), like a hung camera."""

    live = True

    def __init__(self, path: Path, n: int) -> None:
        self._v = VideoFileSource(path)
        self.name, self.fps, self.size = "hung camera", self._v.fps, self._v.size
        self.n = n
        self.release = threading.Event()
        self.gone = False

    def read(self):
        if self._v.position > self.n and not self.release.is_set():
            self.release.wait(0.2)
            return self.read() if not self.gone else None
        if self.gone:
            return None
        return self._v.read()

    def close(self) -> None:
        self.release.set()
        self._v.close()


@pytest.mark.slow
def test_technical_alarm_when_frames_stop_and_camera_gone(make_window, qtbot, faces_dir):
    win = make_window()
    win.set_alert_config(AlertConfig(stall_s=1.0))
    src = _FreezingSource(faces_dir / "default.wmv", n=5)
    win.start_source(src, "hung camera")
    qtbot.waitUntil(lambda: win.banner.priority == Priority.LOW, timeout=20000)
    assert "no frames" in win.banner.text()
    src.release.set()  # frames come back: the alarm clears
    qtbot.waitUntil(lambda: win.banner.priority == Priority.NONE, timeout=10000)
    src.gone = True  # the camera is unplugged: a technical alarm and a clear message
    qtbot.waitUntil(lambda: "source_error" in win.monitor.alerts.active_alarms(), timeout=10000)
    # The session raises the alarm on its pump thread; the banner shows it when the signal reaches
    # the GUI thread, a moment later: wait for what the nurse sees.
    qtbot.waitUntil(lambda: "hung camera" in win.banner.text(), timeout=5000)
    assert "stopped delivering frames" in win.last_error
    events = [json.loads(x) for x in (win.monitor.session.path / "events.jsonl").read_text().splitlines()]
    assert {(e.get("kind"), e.get("alarm")) for e in events} >= {("raised", "no_frames"), ("cleared", "no_frames"),
                                                                   ("raised", "source_error")}


def test_missing_camera_and_unreadable_file_give_clear_message(make_window, qtbot, tmp_path):
    win = make_window()
    assert not win.open_source(7)
    assert win.last_error == "camera 7: not found or in use by another program"
    bad = tmp_path / "broken.avi"
    bad.write_bytes(b"this is not a video" * 100)
    assert not win.open_source(str(bad))
    assert "broken.avi" in win.last_error and "\n" not in win.last_error
    assert not win.open_source(str(tmp_path / "missing.mp4"))
    assert win.last_error.endswith("no such file")
    assert win.isVisible() and win.player.source is None
    assert win.last_error in win.statusBar().currentMessage()


def test_settings_are_remembered(make_window, tmp_path):
    ini = tmp_path / "remember.ini"
    win = make_window(ini)
    win.alarm_form.sp_high.setValue(8.5)
    win.alarm_form.sp_sustain.setValue(6.0)
    win.chk_lm.setChecked(False)
    win.opacity.setValue(70)
    win.speed.setCurrentIndex(win.speed.findData(2.0))
    win.settings.sync()
    again = make_window(ini)
    assert again.monitor.alerts.config.high_on == 8.5 and again.monitor.alerts.config.sustain_s == 6.0
    assert again.alarm_form.sp_high.value() == 8.5 and not again.chk_lm.isChecked()
    assert again.view.options.heat_opacity == pytest.approx(0.7) and again.speed.currentData() == 2.0
    assert again.player.speed == 2.0


@pytest.mark.slow
def test_click_on_face_sets_target(make_window, qtbot, faces_dir):
    win = make_window()
    win.open_source(str(faces_dir / "multi_face.avi"))
    wait_frame(qtbot, win, lambda r: r.frame >= 5 and r.success)
    win.pause()
    qtbot.wait(200)
    # Click at frame pixel (541, 93): the man on the right, not the face tracked now.
    rect = win.view.image_rect()
    s = rect.width() / 640
    pos = QPoint(int(rect.x() + 541 * s), int(rect.y() + 93 * s))
    before = win.current.result.face.box
    qtbot.mouseClick(win.view, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: win.current.result.face is not None and win.current.result.face.box != before
                    and abs(win.current.result.face.box[0] + win.current.result.face.box[2] / 2 - 541) < 40,
                    timeout=10000)
    assert win.pipeline.tracker.roi is not None
    assert not win.pain.prompt.isVisible()  # the target was chosen: no "click the infant" prompt
    # T (Playback > Target face: automatic) gives the choice back to the tracker, and with several
    # faces in view the pain panel asks again for a click.
    win.act_auto_target.trigger()
    qtbot.waitUntil(lambda: win.pipeline.tracker.roi is None, timeout=5000)
    assert win.monitor.target is None
    win.play()
    qtbot.waitUntil(lambda: win.pain.prompt.isVisible(), timeout=10000)


def test_help_lists_keys_scales_alarms_and_the_medical_statement(make_window):
    text = make_window().help_text()
    for needle in ("Space", "Acknowledge", "T target face", "PSPI 0-16", "pain score 0-10", "Fit quality",
                   "Cyan: technical", "not a medical device"):
        assert needle in text, needle


@pytest.mark.slow
def test_cli_screenshot_and_bad_source(faces_dir, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "AUEPA_SESSIONS_DIR": str(tmp_path / "s")}
    out = tmp_path / "cli.png"
    cmd = [sys.executable, "-m", "auepa_monitor", "--settings", str(tmp_path / "s.ini")]
    r = subprocess.run(cmd + ["--source", str(faces_dir / "default.wmv"), "--frames", "8", "--screenshot", str(out)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    assert QImage(str(out)).size().width() == 640 and out.with_name("cli_window.png").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["frame"] == 8
    r = subprocess.run(cmd + ["--source", str(tmp_path / "nope.avi"), "--frames", "3", "--screenshot", str(out)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'nope.avi'}: no such file"


@pytest.mark.slow
def test_gradcam_runs_beside_the_video(make_window, qtbot, faces_dir, slow_cnn_checkpoint, tmp_path):
    # A ResNet50: its Grad-CAM (~0.1 s on one thread here) is slower than a frame (33 ms), so a video that
    # waited for it would show no more frames than maps; a ResNet18's can be as fast as the frames.
    win = make_window()
    # Without a CNN the heatmap slot shows the regressor's weights, labelled as such.
    win.open_source(str(faces_dir / "default.wmv"))
    wait_frame(qtbot, win, lambda r: r.frame >= 5 and r.success)
    qtbot.waitUntil(lambda: "AU regressor weights" in win.heat_label.text(), timeout=5000)
    assert "Grad-CAM" not in win.heat_label.text()
    assert win.load_cnn(str(slow_cnn_checkpoint))
    shown = win.frames_shown
    qtbot.waitUntil(lambda: win.explain.count >= 3, timeout=30000)
    assert win.heat_label.text().startswith("Grad-CAM (") and "frames behind" in win.heat_label.text()
    assert win.view._heat is not None and win.view._weights is None
    # The video did not wait for Grad-CAM: more frames were shown than maps made.
    assert win.frames_shown - shown > win.explain.count
    win.pause()
    qtbot.wait(300)
    png, _, side = win.save_screenshot(tmp_path / "cam.png")
    assert json.loads(side.read_text())["model"]["cnn"]["predicted_class"]
    assert not win.load_cnn(str(tmp_path / "missing.pt")) and "missing.pt" in win.last_error


@pytest.mark.slow
def test_alert_spans_navigation_and_curve_seek(make_window, qtbot, faces_dir):
    win = make_window()
    # Thresholds low enough that this adult's resting face (score ~1) raises alerts quickly.
    win.set_alert_config(AlertConfig(high_on=0.5, mid_on=0.3, hysteresis=0.1, sustain_s=0.5, clear_s=0.5))
    win.open_source(str(faces_dir / "default.wmv"))
    qtbot.waitUntil(lambda: len(win.spans) >= 1, timeout=20000)
    assert win.banner.priority == Priority.HIGH
    wait_frame(qtbot, win, lambda r: r.frame >= 60)
    win.pause()
    qtbot.wait(300)
    start = min(s.start for s in win.spans)
    win.seek(1)
    wait_frame(qtbot, win, lambda r: r.frame == 1)
    win.next_alert()
    target = win.curve.frame_at(start)
    wait_frame(qtbot, win, lambda r: r.frame == target)
    win.prev_alert()  # nothing earlier: stays
    qtbot.wait(300)
    assert win.current.result.frame == target
    # A click on the curve at t = 10 s seeks there.
    vb = win.curve.getPlotItem().getViewBox()
    pt = vb.mapViewToScene(pg_point(10.0, 5.0))
    pos = win.curve.mapFromScene(pt)
    qtbot.mouseClick(win.curve.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    wait_frame(qtbot, win, lambda r: abs(r.timestamp - 10.0) < 0.2)


def pg_point(x: float, y: float):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def _drop(win, path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    win.dropEvent(ev)


@pytest.mark.slow
def test_drop_recent_files_and_space_key(make_window, qtbot, faces_dir, tmp_path):
    win = make_window()
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    _drop(win, bad)
    assert "notes.txt" in win.last_error and win.player.source is None
    win._error_box.close()  # the message is non-modal; close it so keys go to the window again
    _drop(win, faces_dir / "default.wmv")
    wait_frame(qtbot, win, lambda r: r.frame >= 3)
    assert win.recent_files()[0] == str((faces_dir / "default.wmv").resolve())
    assert [a.text() for a in win.m_recent.actions()][0].endswith("default.wmv")
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)  # shortcuts go to the active window
    qtbot.keyClick(win, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: not win.player.playing, timeout=3000)
    qtbot.keyClick(win, Qt.Key.Key_Space)  # play again
    qtbot.waitUntil(lambda: win.player.playing, timeout=3000)


def test_choose_prompt_says_when_the_automatic_target_moved(qtbot):
    """With several faces and no click, the pain panel asks for a click, and says when the automatic
    target has moved to another face (the record's face_id counts the people it was)."""
    from dataclasses import replace

    from auepa_monitor.ui.panels import PainPanel

    panel = PainPanel()
    qtbot.addWidget(panel)
    r = FrameResult(frame=9, timestamp=0.3, faces_seen=2, face=None, reason="target_lost")
    panel.set_result(r, choose_prompt=True)
    assert panel.prompt.text() == "Several faces in view: click the infant's face to monitor it."
    panel.set_result(replace(r, face_id=2), choose_prompt=True)
    assert panel.prompt.text().endswith("The face followed has changed to another person 2 times.")
    panel.set_result(replace(r, face_id=1), choose_prompt=True)
    assert panel.prompt.text().endswith("The face followed has changed to another person once.")
    panel.set_result(replace(r, face_id=2, faces_seen=1), choose_prompt=False)
    assert panel.prompt.isHidden()


def test_a_person_changed_row_keeps_asking_for_a_click_until_the_user_chooses(make_window):
    """The tracker says once, in one row, that the face it found again is another person; the pain
    panel keeps saying so (a nurse glances, not reads every frame) until a target is chosen again."""
    from dataclasses import replace

    import numpy as np

    from auepa_monitor.core.records import FaceFit, HeadPose

    win = make_window()
    base = _last(win)
    face = FaceFit(box=(10.0, 8.0, 20.0, 20.0), landmarks=np.zeros((478, 3), np.float32), blendshapes={},
                   pose=HeadPose(0.0, 0.0, 0.0), quality=1.0)
    one = replace(base.result, face=face, faces_seen=1)
    win.show_processed(replace(base, result=one))
    assert win.pain.prompt.isHidden()
    changed = replace(one, pain_score=None, pain_level=None, reason="person_changed", face_id=1)
    win.show_processed(replace(base, result=changed))
    assert not win.pain.prompt.isHidden() and "another person" in win.pain.prompt.text()
    assert "not scored: the face found again is another person" in win.pain.level.text()
    win.show_processed(replace(base, result=replace(one, frame=21, face_id=1)))  # scored again: still said
    assert not win.pain.prompt.isHidden() and "click the infant" in win.pain.prompt.text()
    win.set_target((5.0, 5.0, 30.0, 30.0))
    win.show_processed(replace(base, result=replace(one, frame=22, face_id=1)))
    assert win.pain.prompt.isHidden()


def test_choose_prompt_says_when_the_face_followed_looks_like_an_adult(qtbot, children_dir):
    """4JDccE.joke1.rep2 without a click: the automatic target is first the toddler, then, after it
    is lost, the parent (face_id 1). Each record says what the target person's proportions have
    looked like so far; while several faces are in view and none was chosen, the pain panel's
    prompt adds that the face followed looks like an adult's."""
    from auepa_monitor.core.pipeline import Pipeline
    from auepa_monitor.core.sources import open_source
    from auepa_monitor.ui.panels import PainPanel

    pipe, src = Pipeline(), open_source(children_dir / "4JDccE.joke1.rep2.take1.NomNomNom.mp4")
    results = []
    try:
        while (f := src.read()) is not None:
            results.append(pipe.process(f))
    finally:
        src.close()
        pipe.close()
    looks = {(r.face_id, r.target_looks) for r in results}
    assert (0, "child") in looks and (0, "adult") not in looks, sorted(looks)
    # The parent reads 0.34-0.48 on the 8 frames she leans in fast (the first of face_id 1): the
    # label reads "child" for 15 frames once 10 fits are in, then "adult" as her fits add up.
    parent = [r.target_looks for r in results if r.face_id == 1 and r.target_looks]
    assert parent.count("adult") > 0.5 * len(parent), parent
    last = results[-1]
    assert last.face_id == 1 and last.target_looks == "adult"
    panel = PainPanel()
    qtbot.addWidget(panel)
    panel.set_result(last, choose_prompt=True)
    assert panel.prompt.text().startswith("Several faces in view: click the infant's face")
    assert panel.prompt.text().endswith("The face followed looks like an adult's (its proportions).")
    panel.set_result(last, other_person=True)  # said with the person-changed prompt too
    assert panel.prompt.text().endswith("looks like an adult's (its proportions).")
    child = next(r for r in results if r.target_looks == "child")
    panel.set_result(child, choose_prompt=True)
    assert "adult" not in panel.prompt.text()
