"""Starting the monitor window: ``run_gui(args)`` for ``auepa-monitor`` (and the scripted screenshot mode)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ORG, APP = "AuE-IPA", "AuE-IPA Monitor"


def _quit_on_termination(app, win) -> None:
    """SIGTERM (a logout, a service stop, ``kill``) and SIGINT close the window as a click would,
    so the session log ends with ``session_ended`` instead of stopping mid-session.

    Python runs signal handlers only between bytecodes, and the Qt event loop is C++: a timer
    wakes the interpreter twice a second so a pending signal is handled promptly.
    """
    import signal

    from PySide6.QtCore import QTimer

    def close(signum, _frame) -> None:
        print(f"{signal.Signals(signum).name}: closing the session", file=sys.stderr)
        win.close()
        app.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, close)
        except (ValueError, OSError):  # not the main thread, or a platform without it
            return
    timer = QTimer(win)
    timer.timeout.connect(lambda: None)
    timer.start(500)


def _settings(path: str | None):
    """The settings file (INI), created owner-only (0600) in a 0700 folder when new.

    It holds recent file names and folders, so it is private too; Qt rewrites it atomically
    and keeps the rights of the file it replaces.
    """
    from PySide6.QtCore import QSettings

    from ..core.private_files import private_dir, private_fd

    if path:
        s = QSettings(path, QSettings.Format.IniFormat)
    else:
        s = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORG, APP)
    f = Path(s.fileName())
    try:
        if not f.exists():
            private_dir(f.parent, warn=False)
            os.close(private_fd(f))
    except OSError:
        pass  # Qt reports an unwritable settings file itself (settings are then not kept)
    return s


def error_dialog(message: str) -> None:
    """A modal error dialog before (instead of) the window; tests replace it."""
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.critical(None, APP, message)


def run_gui(args: argparse.Namespace) -> int:
    """Open the monitor window (or, with ``--screenshot``, process ``--frames`` frames, save, exit).

    Returns the process exit status: 0 on success, 2 with a one-line message on stderr when the
    source, the models or the options are unusable.
    """
    from ..core.errors import AuepaError, ModelFileError
    from ..core.outputs import check_output_dir, check_output_file
    from ..core.pipeline_factory import make_pipeline_factory
    from ..core.roi import parse_roi, roi_problem
    from ..core.sources import open_source

    shot = getattr(args, "screenshot", None)
    frames = getattr(args, "frames", None)
    if shot and not args.source:
        print("error: --screenshot needs --source", file=sys.stderr)
        return 2
    if frames is not None and frames < 1:
        print("error: --frames must be 1 or more", file=sys.stderr)
        return 2
    try:
        roi = parse_roi(args.roi) if args.roi else None
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Every output place the user named is checked before any work starts: one line, exit 2.
    try:
        if getattr(args, "session_dir", None):
            check_output_dir(args.session_dir, "--session-dir")
        if shot:
            check_output_file(shot, "--screenshot")
    except AuepaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    src = None
    if shot:  # scripted mode: check the source (and --roi on it) before any window appears
        try:
            src = open_source(args.source)
        except AuepaError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        problem = roi_problem(roi, src.size, str(args.source)) if roi is not None else ""
        if problem:
            src.close()
            print(f"error: {problem}", file=sys.stderr)
            return 2
    # torchvision (through the Grad-CAM module) loads triton's LLVM; loaded after Mesa's LLVM
    # (Qt's xcb GL, MediaPipe's EGL) it crashed the process under X (measured under Xvfb), so
    # it is imported first.
    from .main_window import explain_module

    explain_module()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    try:
        # The window starts with the embedded engine and builds an OpenFace engine per recorded
        # file itself (in a thread, with progress); --au-engine goes to the window.
        base = argparse.Namespace(**{**vars(args), "au_engine": "embedded"})
        pipeline = make_pipeline_factory(base)(None)
    except (AuepaError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        if src is not None:
            src.close()
        if isinstance(e, ModelFileError) and not shot:
            # Started from a desktop there may be no terminal to read: say it in a dialog too.
            error_dialog(f"{e}\n\nThe program was not started.")
        return 2
    from ..core.pipeline import torch_device
    from .main_window import MainWindow

    win = MainWindow(pipeline, _settings(getattr(args, "settings", None)), lossless=bool(shot),
                     sound=not shot and not getattr(args, "mute", False),
                     sessions_root=getattr(args, "session_dir", None), device=torch_device(),
                     au_engine=getattr(args, "au_engine", None), openface_bin=getattr(args, "openface_bin", None))
    win.initial_roi = roi
    # Retention at start-up: --keep-days for this start, else the setting (0/unset: keep all).
    keep = getattr(args, "keep_days", None)
    win.apply_retention(keep)
    if getattr(args, "cnn_model", None):
        win.load_cnn(args.cnn_model)
    status = {"code": 0}
    if shot:
        return _scripted_screenshot(app, win, src, args, Path(shot), frames or 1, status)
    geo = getattr(args, "geometry", None)
    if geo:
        try:
            w, h = (int(v) for v in geo.lower().split("x"))
            win.resize(w, h)
        except ValueError:
            print(f"warning: --geometry expects WxH, got {geo!r}", file=sys.stderr)
    win.show()
    if args.source:
        win.open_source(args.source)
    _quit_on_termination(app, win)
    code = app.exec()
    win.shutdown()
    pipeline.close()
    return int(code)


def _scripted_screenshot(app, win, src, args, out: Path, frames: int, status: dict) -> int:
    """Process ``frames`` frames of ``src`` (every frame), save the screenshot trio, quit."""
    from PySide6.QtCore import QTimer

    win.resize(1400, 900)
    win.show()
    done = {"saved": False}

    def finish(reason: str = "") -> None:
        if done["saved"]:
            return
        done["saved"] = True
        win.player.pause()
        if win.current is None:
            print(f"error: {args.source}: no frame was processed{reason}", file=sys.stderr)
            status["code"] = 2
        else:
            if win.current.result.frame < frames:
                print(f"note: the source ended at frame {win.current.result.frame}; saved that frame",
                      file=sys.stderr)
            paths = win.save_screenshot(out)
            if paths is None:
                status["code"] = 2
            else:
                print(f"saved {paths[0]} ({win.current.result.frame} frames), {paths[1].name}, {paths[2].name}")
        QTimer.singleShot(0, app.quit)

    def on_frame(p) -> None:
        if p.result.frame >= frames:
            win.player.pause()
            # Let the explanation worker and the panels catch up on this frame before saving.
            QTimer.singleShot(300, finish)

    def on_source_end() -> None:
        if win.player.source is not None and not win.player.playing and win.current is not None \
                and win.player.results.empty() and not done["saved"]:
            QTimer.singleShot(300, finish)

    win.on_frame = on_frame
    win.player.stop_at = frames
    # With --au-engine openface this waits for OpenFace's run; when OpenFace fails the error is
    # reported (exit 2) rather than a screenshot of embedded values.
    win.openface_fallback = False
    win.begin_source(src, str(args.source), play=True)
    poll = QTimer(win)
    poll.setInterval(200)
    poll.timeout.connect(on_source_end)
    poll.start()
    errors = QTimer(win)
    errors.setInterval(100)
    errors.timeout.connect(lambda: win.last_error and finish(f" ({win.last_error})"))
    errors.start()
    app.exec()
    win.shutdown()
    win.pipeline.close()
    return status["code"]
