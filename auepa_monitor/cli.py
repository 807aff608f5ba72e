"""Command line: ``auepa-monitor`` (the monitor window) and ``auepa-monitor analyze`` (headless)."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from . import NOT_A_MEDICAL_DEVICE, __version__
from .core.pipeline_factory import make_pipeline_factory  # noqa: F401 (in the core; kept importable here)

# Torch and mediapipe each start OpenMP/XNNPACK threads; on 2 cores busy-waiting threads of
# two runtimes can starve each other (DESIGN.md), so threads sleep when idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# argparse takes "-5,10,80,80" for an option (only "-5" or "-.5" count as negative numbers), so
# a region starting left of or above the frame needed "--roi=-5,...". These parsers have no
# option that looks like a number, so a leading minus followed by a digit is a value.
_NEGATIVE_VALUE = re.compile(r"^-\.?\d[\d.,eE+-]*$")


def _allow_negative_values(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p._negative_number_matcher = _NEGATIVE_VALUE  # noqa: SLF001 (argparse's own hook, stable since 3.2)
    return p


def _device_arg(value: str) -> str:
    from .nets.device import check_device_spec

    try:
        return check_device_spec(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _use_device(spec: str | None) -> str:
    """``--device``: checked here (CUDA asked for and absent: one line, exit 2), then put in
    $AUEPA_DEVICE for everything built later, worker processes included. '' when fine."""
    from .nets.device import DEVICE_ENV, resolve_device

    if spec is None:
        return ""
    try:
        resolve_device(spec)
    except ValueError as e:
        return str(e)
    os.environ[DEVICE_ENV] = spec
    return ""


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    _allow_negative_values(p)
    p.add_argument("--roi", help="target face region x,y,w,h in frame pixels (default: of several faces the most "
                                 "child-like, else the largest); it must overlap the frame, x or y may be negative")
    p.add_argument("--au-engine", choices=("embedded", "openface"), default="embedded",
                   help="AU intensity engine (default: embedded)")
    p.add_argument("--model", help="pain regressor model file (default: the shipped prior)")
    p.add_argument("--no-smoothing", action="store_true", help="turn off temporal smoothing of the pain score")
    p.add_argument("--openface-bin", help="path to OpenFace's FeatureExtraction (for --au-engine openface)")
    _add_device_option(p)


def _add_au_neutral_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--au-neutral", choices=("recording", "running"), default="recording",
                   help="embedded AU engine: measure each frame against the whole recording's neutral face, in a "
                        "second pass after the last frame, as OpenFace does for a video (recording, the default), or "
                        "against the neutral learnt so far, as the live monitor does (running)")


def _add_device_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", type=_device_arg, metavar="auto|cpu|cuda[:N]",
                   help="where the face networks and Grad-CAM run: cpu (face networks on LiteRT, the fastest "
                        "there), cuda[:N] (torch on that GPU, batched across beds in the ward), auto (CUDA when "
                        "there is one). Default: face networks on the CPU, Grad-CAM on CUDA when there is one")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="auepa-monitor", description=f"AuE-IPA Monitor {__version__}. "
                                + NOT_A_MEDICAL_DEVICE)
    p.add_argument("--version", action="version", version=__version__)
    p.add_argument("--source", help="video/image file, image folder or camera index to open")
    p.add_argument("--frames", type=int, help="with --screenshot: process this many frames, save, exit")
    p.add_argument("--screenshot", help="save a PNG of the video with overlays after --frames frames and exit")
    p.add_argument("--cnn-model", help="end-to-end CNN checkpoint for Grad-CAM")
    p.add_argument("--session-dir", help="folder for session recordings (default: the per-user data folder)")
    p.add_argument("--settings", help="settings file (INI) to use instead of the per-user settings")
    p.add_argument("--mute", action="store_true", help="no alarm sounds (visual alarms only)")
    p.add_argument("--geometry", help="window size WxH in pixels, e.g. 1600x1000")
    p.add_argument("--keep-days", type=int, metavar="N",
                   help="at start-up remove closed sessions older than N days (0: keep all; default: the "
                        "setting session/keep_days, unset = keep all)")
    _add_pipeline_options(p)
    p.set_defaults(au_engine=None)  # the window: None = the engine chosen last in the window, else embedded
    sub = p.add_subparsers(dest="command")
    a = sub.add_parser("analyze", help="analyse videos/images headless: per-frame CSV and summary per input")
    a.add_argument("inputs", nargs="+", help="video files, images or image folders")
    a.add_argument("--out", required=True, help="output folder")
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.add_argument("--faces", choices=("target", "all"), default="target",
                   help="target: one row per frame for the target face (default); all: one row per face per "
                        "frame with a stable face_id, to pick the infant afterwards")
    a.add_argument("--workers", type=int, metavar="N",
                   help="analyse N inputs at a time in N local processes (default 1: one after another in this "
                        "process); with --ray: at most N at a time on the cluster")
    a.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run the inputs as tasks on a Ray cluster (ADDRESS: auto or HOST:PORT of a running "
                        "cluster; none: a local Ray instance). Needs the cluster extra: pip install -e '.[cluster]'")
    a.add_argument("--force", action="store_true",
                   help="analyse every input again, also those with a complete result for the same content and "
                        "settings in --out (skipped by default)")
    _add_pipeline_options(a)
    _add_au_neutral_option(a)
    e = sub.add_parser("export", help="de-identified export of a session folder or a video, for research sharing")
    e.add_argument("input", help="session folder (or per-frame CSV) or video file")
    e.add_argument("--deidentify", action="store_true",
                   help="required: times relative, no paths/user names/URLs, every detected face blurred "
                        "(the only export there is)")
    e.add_argument("--out", required=True, help="output folder (new or empty)")
    e.add_argument("--max-frames", type=int, help="video: export only the first N frames")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_pipeline_options(e)
    _add_au_neutral_option(e)
    w = sub.add_parser("ward", help="the ward view: several beds of a ward config (JSON) in one window")
    w.add_argument("config", help="ward config file (JSON: beds with name, source, credential, roi, alerts)")
    w.add_argument("--frames", type=int, help="with --screenshot: process this many frames per bed, save, exit")
    w.add_argument("--screenshot", help="save a PNG of the ward window after --frames frames per bed and exit")
    w.add_argument("--session-dir", help="folder for the beds' session folders (default: <data folder>/sessions/ward)")
    w.add_argument("--mute", action="store_true", help="no alarm sounds (visual alarms only)")
    _add_device_option(w)
    return p


def _setup_logging() -> None:
    """Privacy warnings and the retention line go to stderr as plain lines."""
    import logging

    class Stderr(logging.StreamHandler):  # the stderr of the moment (tests and tools swap it)
        @property
        def stream(self):  # type: ignore[override]
            return sys.stderr

        @stream.setter
        def stream(self, _value) -> None:
            pass

    h = Stderr()
    h.setFormatter(logging.Formatter("%(message)s"))
    for name in ("auepa_monitor.core.private_files", "auepa_monitor.core.retention"):
        lg = logging.getLogger(name)
        if not lg.handlers:
            lg.addHandler(h)
            lg.setLevel(logging.INFO)
            lg.propagate = False


def _model_text(name: str, warning: str) -> str:
    """The pain model's name and its warning, said once: the shipped prior's name already says it
    was not trained on infant pain ("Not trained on infant pain data" would repeat it)."""
    if not warning or warning.lower().removesuffix(" data") in name.lower():
        return name
    return f"{name}; {warning}"


def _summary_line(s) -> list[str]:
    mean = "-" if s.mean_pain_score is None else f"{s.mean_pain_score:.2f}"
    peak = "-" if s.max_pain_score is None else f"{s.max_pain_score:.2f}"
    every = "--faces all" in s.target_rule
    lines = [f"{Path(s.input).name}: {s.frames} frames, {'a face' if every else 'target'} tracked in {s.frames_tracked}, "
             f"scored in {s.frames_with_face}, up to {s.max_faces_seen} faces seen, pain mean {mean} max {peak} "
             f"(0-10, {_model_text(s.model, s.model_warning)}), {s.fps:.1f} fps -> {s.csv}"]
    if s.frames_several_faces and not every:
        lines.append(f"  several faces in view on {s.frames_several_faces} frames; target: {s.target_rule}"
                     + ("" if "--roi" in s.target_rule else " (use --roi x,y,w,h to choose the infant)"))
        # Which of them the target was: a parent's face followed instead of the infant's shows here.
        lines += [f"  the target's face_id {f['face_id']} (tracked on {f['rows']} frames) {_looks_text(f)}"
                  for f in s.faces if f["looks"]]
    if s.target_switched:
        n = s.target_switched
        lines.append(f"  the target moved to a more child-like face {n} time{'s' if n > 1 else ''}: those rows have "
                     "reason target_switched, and face_id numbers the people the target was")
    if s.person_changes:
        n = s.person_changes
        lines.append(f"  a face found again after a loss was another person {n} time{'s' if n > 1 else ''}: those rows "
                     "have reason person_changed, and a new face_id from there"
                     + (f" (also on the {s.rows_moved_to_new_face_id} rows just before, while the face was being "
                        "checked)" if s.rows_moved_to_new_face_id else ""))
    if s.face_ids_merged:
        n = s.face_ids_merged
        lines.append(f"  {n} track{'s' if n > 1 else ''} took up a face while an older track had lost it, then "
                     f"met it: {'their' if n > 1 else 'its'} {s.rows_moved_to_older_face_id} row"
                     f"{'s' if s.rows_moved_to_older_face_id > 1 else ''} moved to the older face_id")
    if s.face_ids_rejoined:
        n, rows = s.face_ids_rejoined, s.rows_moved_to_earlier_face_id
        lines.append(f"  {n} face{'s' if n > 1 else ''} came back after {'their tracks' if n > 1 else 'its track'} had "
                     f"ended (same place, same face proportions): {rows} row{'s' if rows > 1 else ''} moved to the "
                     "earlier face_id")
    if every:
        lines += _face_lines(s)
    return lines


#: ``--faces all``: the face ids listed in the summary line, the most rows first; the rest are summed up.
FACE_LINES = 8


def _looks_text(f: dict) -> str:
    """What a labelled face_id of the summary's ``faces`` looks like (see ``core.face_table``)."""
    looks = {"child": "looks like a child", "adult": "looks like an adult"}.get(
        f["looks"], "has proportions between a child's and an adult's")
    return f"{looks} (nose depth {f['nose_depth']:.2f})"


def _face_lines(s) -> list[str]:
    """One line per face_id, the most rows first, with what its proportions look like."""
    faces = sorted(s.faces, key=lambda f: (-f["rows"], f["face_id"]))
    lines = []
    for f in faces[:FACE_LINES]:
        looks = f", {_looks_text(f)}" if f["looks"] else ""
        pain = "" if f["mean_pain_score"] is None else f", pain mean {f['mean_pain_score']:.2f}"
        lines.append(f"  face_id {f['face_id']}: frames {f['first_frame']}-{f['last_frame']}, tracked on {f['rows']}, "
                     f"scored on {f['scored']}, {f['face_width_px']:.0f} px wide{looks}{pain}")
    if len(faces) > FACE_LINES:
        rest = faces[FACE_LINES:]
        lines.append(f"  {len(rest)} more face_ids, tracked on {sum(f['rows'] for f in rest)} rows in all "
                     f"(at most {max(f['rows'] for f in rest)} each): see faces in the summary")
    return lines


def _failed_line(p: Path | str, msg: str) -> str:
    # "FAILED <input>: <reason>"; source errors start with the input's path, not said twice.
    return f"FAILED {p}: {msg.removeprefix(f'{p}: ')}"


def _skipped_line(s) -> str:
    return f"{Path(s.input).name}: skipped, complete result for the same content and settings in {s.csv} (--force reruns)"


def _ray_address(args: argparse.Namespace) -> None:
    """``--ray`` takes an optional ADDRESS: one that is an existing file or folder was meant as an input."""
    if args.ray not in (None, "local") and Path(args.ray).exists():
        args.inputs.insert(0, args.ray)
        args.ray = "local"


def cmd_analyze(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .core.analyze import analysis_settings, analyze_many, settings_key
    from .core.errors import AuepaError
    from .core.outputs import check_output_dir

    out = Path(args.out)
    _ray_address(args)
    try:  # options, the pain model and the output folder are checked before any input is read
        if args.workers is not None and args.workers < 1:
            raise ValueError("--workers must be 1 or more")
        factory = make_pipeline_factory(args, share_models=True)
        check_output_dir(out, "--out")
        settings = settings_key(analysis_settings(args))
    except (ValueError, AuepaError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.ray is not None or (args.workers or 1) > 1:
        return _analyze_parallel(args, out, settings)
    bars: dict[str, tqdm] = {}
    skipped = []

    def on_start(p: Path):
        if args.quiet:
            return None

        def progress(n: int, total: int) -> None:
            # Made on the first frame, so an input that fails to open prints only its FAILED line.
            bar = bars.get("cur")
            if bar is None:
                bar = bars["cur"] = tqdm(desc=p.name[:40], unit="frame", total=total or None, leave=True,
                                         dynamic_ncols=True)
            if total and bar.total != total:
                bar.total = total
            bar.update(n - bar.n)

        return progress

    def close_bar() -> None:
        bar = bars.pop("cur", None)
        if bar is not None:
            bar.close()

    def on_error(p: Path, msg: str) -> None:
        close_bar()
        print(_failed_line(p, msg), file=sys.stderr)

    def on_done(s) -> None:
        close_bar()
        for line in _summary_line(s):
            print(line)

    def on_skip(s) -> None:
        skipped.append(s)
        print(_skipped_line(s))

    try:
        done, failed = analyze_many([Path(i) for i in args.inputs], out, factory, on_start, on_error, on_done,
                                    settings=settings, on_skip=on_skip, skip=not args.force)
    except AuepaError as e:  # e.g. the face model or OpenFace is missing: nothing can run
        close_bar()
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(_totals(len(done), len(failed), len(skipped)))
    return 1 if failed else 0


def _totals(done: int, failed: int, skipped: int, where: str = "") -> str:
    skip = f", {skipped} skipped (already complete)" if skipped else ""
    return f"{done} analysed, {failed} failed{skip}{where}. {NOT_A_MEDICAL_DEVICE}"


def _analyze_parallel(args: argparse.Namespace, out: Path, settings: str) -> int:
    """``analyze --workers N`` / ``--ray``: the inputs fan out to workers (auepa_monitor.core.parallel)."""
    from .core.errors import AuepaError
    from .core.parallel import BatchProgress, analyze_parallel

    opts = {k: getattr(args, k) for k in ("roi", "au_engine", "model", "no_smoothing", "openface_bin", "faces",
                                     "au_neutral")}
    from .nets.device import DEVICE_ENV

    opts["device"] = os.environ.get(DEVICE_ENV)  # --device (set by _use_device): also on a cluster's machines
    display = BatchProgress(len(args.inputs), quiet=args.quiet)

    def on_event(e) -> None:
        display.event(e)
        if e.kind == "done":
            for line in _summary_line(e.summary):
                display.say(line)
        elif e.kind == "failed":
            display.say(_failed_line(e.job.path, e.reason), err=True)
        elif e.kind == "skipped":
            display.say(_skipped_line(e.summary))

    try:
        res = analyze_parallel([Path(i) for i in args.inputs], out, opts, settings, workers=args.workers,
                               ray_address=None if args.ray in (None, "local") else args.ray,
                               use_ray=args.ray is not None, force=args.force, on_event=on_event)
    except AuepaError as e:  # the face model cannot load, Ray is missing or unreachable: nothing can run
        display.close()
        print(f"error: {e}", file=sys.stderr)
        return 2
    display.close()
    where = (f" on Ray ({len(res.workers)} worker processes)" if res.backend == "ray"
             else f" on {args.workers} threads sharing one batched face-network pool" if res.backend == "threads"
             else f" on {args.workers} worker processes")
    print(_totals(len(res.done), len(res.failed), len(res.skipped), where))
    return 1 if res.failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from .core.errors import AuepaError
    from .core.export import export_any

    if not args.deidentify:
        print("error: export needs --deidentify (a de-identified export is the only one there is)", file=sys.stderr)
        return 2
    if args.max_frames is not None and args.max_frames < 1:
        print("error: --max-frames must be 1 or more", file=sys.stderr)
        return 2
    bars: dict = {}

    def progress(stage: str, n: int, total: int) -> None:
        from tqdm import tqdm

        bar = bars.get(stage)
        if bar is None:
            for b in bars.values():
                b.close()
            bar = bars[stage] = tqdm(desc=stage, unit="frame", total=total or None, leave=False, dynamic_ncols=True)
        bar.update(n - bar.n)

    try:
        factory = make_pipeline_factory(args)
        res = export_any(args.input, args.out, make_pipeline=factory, max_frames=args.max_frames,
                         progress=None if args.quiet else progress)
    except (AuepaError, ValueError) as e:
        for b in bars.values():
            b.close()
        print(f"error: {e}", file=sys.stderr)
        return 1
    for b in bars.values():
        b.close()
    what = (f"{res.frames} frames, {res.faces_blurred} face detections blurred, check passed in "
            f"{res.check_rounds} round(s) ({res.check_detections} detections in the output, all blurred), "
            if res.kind == "video" else "")
    print(f"exported ({res.kind}, de-identified): {what}{res.rows} CSV rows -> "
          + ", ".join(Path(f).name for f in res.files) + f" in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # the program itself (not a test calling main): a crash leaves a log for IT
        from .crash_log import install

        install(args.command or "window")
    _setup_logging()
    if argv is not None:  # a test or tool calling main: --device must not outlive the call
        from .nets.device import DEVICE_ENV

        saved = os.environ.get(DEVICE_ENV)
        try:
            return _main(args)
        finally:
            if saved is None:
                os.environ.pop(DEVICE_ENV, None)
            else:
                os.environ[DEVICE_ENV] = saved
    return _main(args)


def _main(args: argparse.Namespace) -> int:
    err = _use_device(getattr(args, "device", None))
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.command == "analyze":
        return cmd_analyze(args)
    if args.command == "export":
        return cmd_export(args)
    if args.command == "ward":
        from .ui.ward_window import run_ward

        return run_ward(args)
    if args.keep_days is not None and args.keep_days < 0:
        print("error: --keep-days must be 0 or more", file=sys.stderr)
        return 2
    from .ui.app import run_gui

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
