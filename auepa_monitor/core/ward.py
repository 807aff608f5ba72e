"""A ward: several beds, each one source monitored by its own :class:`MonitorSession`. No Qt.

The ward is a JSON file::

    {
      "ward": "NICU room 2",
      "version": 1,
      "columns": 2,
      "beds": [
        {"name": "Cot 1", "source": "rtsp://nurse@10.0.0.21/stream1", "credential": "keyring:cot-1",
         "roi": [120, 40, 300, 300], "alerts": {"high_on": 7.5, "mid_on": 5.0, "sustain_s": 3}},
        {"name": "Cot 2", "source": "videos/cot2.avi"}
      ]
    }

``source``: a video/image path (relative to the config file's folder), a camera index, a V4L2
device path or a stream URL *without* its password; ``credential``: the reference of the
password in the credential store (:mod:`.credentials`), resolved when the bed opens. A config
with a password in a URL is refused (:func:`validate`), and :func:`secure_passwords` moves such
passwords into the store. ``roi``: the target region x, y, w, h in pixels (none: the tracker
picks the face). ``alerts``: the bed's alarm settings (:class:`AlertConfig` fields).

:class:`WardBed` opens one bed (its own pipeline, monitor session and session folder under
``sessions_root/<bed name>/``); :func:`rank_alarms` orders the beds' alarms for the ward's banner.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .alerts import AlertConfig, Priority
from .credentials import CredentialStore, split_url
from .errors import AuepaError
from .private_files import mask_credentials, write_private_text
from .sources import is_stream_url

VERSION = 1
ALERT_KEYS = {f.name for f in fields(AlertConfig)}
BED_KEYS = {"name", "source", "credential", "roi", "alerts"}
WARD_KEYS = {"ward", "version", "columns", "beds"}


class WardConfigError(AuepaError):
    """A ward config that cannot be used; ``problems`` lists every reason (one line each)."""

    def __init__(self, path: str | Path | None, problems: list[str]) -> None:
        self.problems = problems
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(problems))


@dataclass
class Bed:
    """One bed of the ward (see the module docstring)."""

    name: str
    source: str
    credential: str = ""
    roi: list[float] | None = None
    alerts: dict[str, Any] = field(default_factory=dict)

    def alert_config(self) -> AlertConfig:
        return AlertConfig.from_dict(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: v for k, v in d.items() if v not in ("", None, {})}


@dataclass
class WardConfig:
    """The ward: its name, grid columns (0: automatic) and beds; ``path``: the file it came from."""

    name: str = "Ward"
    beds: list[Bed] = field(default_factory=list)
    columns: int = 0
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ward": self.name, "version": VERSION, "columns": self.columns,
                "beds": [b.to_dict() for b in self.beds]}

    def resolve_source(self, bed: Bed) -> str:
        """The bed's source as opened: relative file paths against the config's folder."""
        s = bed.source.strip()
        if s.isdigit() or is_stream_url(s) or s.startswith("/dev/video") or self.path is None:
            return s
        p = Path(s).expanduser()
        return os.path.normpath(p if p.is_absolute() else (self.path.resolve().parent / p))

    def grid_columns(self) -> int:
        if self.columns > 0:
            return self.columns
        n = len(self.beds)
        return 1 if n <= 1 else 2 if n <= 4 else 3 if n <= 9 else 4


def _problems(d: Any) -> list[str]:
    """Every reason the mapping ``d`` is not a valid ward config ([] when it is)."""
    if not isinstance(d, dict):
        return ["the file must hold a JSON object with a 'beds' list"]
    out = [f"unknown key {k!r} (known: {', '.join(sorted(WARD_KEYS))})" for k in d if k not in WARD_KEYS]
    if d.get("version", VERSION) != VERSION:
        out.append(f"version {d.get('version')!r} is not supported (this program reads version {VERSION})")
    cols = d.get("columns", 0)
    if not isinstance(cols, int) or isinstance(cols, bool) or not 0 <= cols <= 8:
        out.append(f"columns must be a whole number 0-8 (0: automatic), not {cols!r}")
    beds = d.get("beds")
    if not isinstance(beds, list) or not beds:
        return out + ["'beds' must be a non-empty list"]
    names: set[str] = set()
    for i, b in enumerate(beds, 1):
        if not isinstance(b, dict):
            out.append(f"bed {i}: must be an object with name and source")
            continue
        label = f"bed {i} ({b['name']})" if isinstance(b.get("name"), str) and b.get("name") else f"bed {i}"
        out += [f"{label}: unknown key {k!r} (known: {', '.join(sorted(BED_KEYS))})" for k in b if k not in BED_KEYS]
        name = b.get("name")
        if not isinstance(name, str) or not name.strip():
            out.append(f"{label}: 'name' is missing or empty")
        elif name.strip().lower() in names:
            out.append(f"{label}: the name is used by another bed")
        else:
            names.add(name.strip().lower())
        src = b.get("source")
        if isinstance(src, int) and not isinstance(src, bool):
            src = str(src)
        if not isinstance(src, str) or not src.strip():
            out.append(f"{label}: 'source' is missing or empty")
        elif is_stream_url(src) and split_url(src)[2]:
            out.append(f"{label}: the source URL holds a password ({mask_credentials(src)}); keep it in the "
                       f"credential store and give its reference as 'credential'")
        cred = b.get("credential", "")
        if cred and (not isinstance(cred, str) or not re.match(r"^(keyring|file):[A-Za-z0-9._@-]{1,128}$", cred)):
            out.append(f"{label}: 'credential' must be a reference keyring:<id> or file:<id>")
        roi = b.get("roi")
        if roi is not None and not (isinstance(roi, list) and len(roi) == 4
                                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in roi)
                                    and roi[0] >= 0 and roi[1] >= 0 and roi[2] > 0 and roi[3] > 0):
            out.append(f"{label}: 'roi' must be [x, y, w, h] in pixels with x, y >= 0 and w, h > 0")
        al = b.get("alerts", {})
        if not isinstance(al, dict):
            out.append(f"{label}: 'alerts' must be an object")
        else:
            for k, v in al.items():
                if k not in ALERT_KEYS:
                    out.append(f"{label}: unknown alarm setting {k!r}")
                elif k != "enabled" and (not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0):
                    out.append(f"{label}: alarm setting {k} must be a number >= 0, not {v!r}")
            # The bed's effective levels (defaults where it names none): a lone "mid_on": 9 is
            # above the default high_on, and would otherwise be lowered quietly when the bed opens.
            eff = {**AlertConfig().to_dict(), **al}
            mid, high = eff.get("mid_on"), eff.get("high_on")
            if isinstance(mid, (int, float)) and isinstance(high, (int, float)) and mid > high:
                out.append(f"{label}: mid_on ({mid}) is above high_on ({high})")
    return out


def validate(d: Any, path: str | Path | None = None) -> WardConfig:
    """A :class:`WardConfig` from a parsed mapping; :class:`WardConfigError` naming every problem."""
    problems = _problems(d)
    if problems:
        raise WardConfigError(path, problems)
    beds = [Bed(name=b["name"].strip(), source=str(b["source"]).strip(), credential=b.get("credential", ""),
                roi=[float(v) for v in b["roi"]] if b.get("roi") is not None else None,
                alerts=dict(b.get("alerts", {}))) for b in d["beds"]]
    return WardConfig(name=str(d.get("ward", "Ward")), beds=beds, columns=int(d.get("columns", 0)),
                      path=Path(path) if path else None)


def load_ward(path: str | Path) -> WardConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise WardConfigError(path, [f"cannot read it ({e.strerror or e})"]) from None
    try:
        d = json.loads(text)
    except ValueError as e:
        raise WardConfigError(path, [f"not valid JSON ({e})"]) from None
    return validate(d, path)


def save_ward(cfg: WardConfig, path: str | Path | None = None) -> Path:
    """Write the config (owner-only, 0600) after validating it; returns the path."""
    path = Path(path or cfg.path or "ward.json")
    d = cfg.to_dict()
    validate(d, path)  # never write a config this program would refuse
    write_private_text(path, json.dumps(d, indent=2) + "\n")
    cfg.path = path
    return path


def secure_passwords(cfg: WardConfig, store: CredentialStore) -> int:
    """Move passwords found in bed URLs into ``store`` (reference in ``credential``); returns how many."""
    n = 0
    for b in cfg.beds:
        if is_stream_url(b.source) and split_url(b.source)[2]:
            cred_id = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{cfg.name}.{b.name}").strip("-")[:100]
            b.source, b.credential = store.store_url(b.source, cred_id)
            n += 1
    return n


def parse_bed_roi(text: str, size: tuple[int, int] = (0, 0)) -> list[float] | None:
    """A bed's target region from what a user typed: ``x,y,w,h`` in frame pixels, or None.

    Empty, "none" or "auto": None (the tracker picks the face). Otherwise :func:`.roi.parse_roi`
    parses it and, when the frame ``size`` (width, height) is known, :func:`.roi.roi_problem`
    checks that it lies on the frame. Raises ValueError with a one-line reason for a person.
    """
    from .roi import parse_roi, roi_problem

    t = text.strip()
    if t.lower() in ("", "none", "auto"):
        return None
    try:
        roi = parse_roi(t)
        problem = roi_problem(roi, size)
    except ValueError as e:
        problem = str(e)
    if problem:
        raise ValueError(problem.replace("--roi ", "the target region ", 1))
    return [float(v) for v in roi]


def bed_alerts(config: AlertConfig, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``alerts`` mapping to store for a bed set to ``config``: every setting that differs from
    :class:`AlertConfig`'s defaults, plus those the bed already named (``previous``), so a ward
    file stays short and keeps what its author wrote down."""
    default = AlertConfig().to_dict()
    keep = set(previous or {})
    return {k: v for k, v in config.to_dict().items() if k in keep or v != default[k]}


def replace_bed(cfg: WardConfig, i: int, bed: Bed, store: CredentialStore | None = None,
                problems: list[str] | tuple[str, ...] = ()) -> Bed:
    """Put ``bed`` in place of ``cfg.beds[i]`` after validating the ward as it would then be.

    The name must differ from the other beds' (case aside). A password typed in a stream URL is
    moved into ``store`` (None: the default :class:`CredentialStore`) as :func:`secure_passwords`
    does, only once the rest is valid; a stream URL without one keeps ``bed.credential``; a file
    or camera source drops it. ``problems``: the caller's own (e.g. from :func:`parse_bed_roi`),
    reported together with the validation's. Raises :class:`WardConfigError` naming every
    problem, and then ``cfg`` and the store are unchanged. Returns the bed as stored (name and
    source stripped, ROI as floats).
    """
    if not 0 <= i < len(cfg.beds):
        raise IndexError(f"bed {i + 1}: the ward has {len(cfg.beds)} beds")
    return _put_bed(cfg, i, bed, store, problems)


def add_bed(cfg: WardConfig, bed: Bed, store: CredentialStore | None = None) -> Bed:
    """Append ``bed`` to the ward under :func:`replace_bed`'s rules (validated as the ward would then
    be; a typed password stored only once it is valid); returns the bed as stored."""
    return _put_bed(cfg, len(cfg.beds), bed, store, ())


def _put_bed(cfg: WardConfig, i: int, bed: Bed, store: CredentialStore | None,
             problems: list[str] | tuple[str, ...]) -> Bed:
    """``bed`` at place ``i`` of the ward (``i == len(cfg.beds)``: a new last bed); see :func:`replace_bed`."""
    source = bed.source.strip()
    stream = is_stream_url(source)
    bare, _, password = split_url(source) if stream else (source, "", "")
    trial_bed = Bed(bed.name, bare, bed.credential if stream else "", bed.roi, dict(bed.alerts))
    beds = [*cfg.beds[:i], trial_bed, *cfg.beds[i + 1:]]
    found = list(problems) + _problems(WardConfig(cfg.name, beds, cfg.columns).to_dict())
    name = bed.name.strip().lower()
    clash = [k for k, b in enumerate(cfg.beds) if k != i and b.name.strip().lower() == name and name]
    if clash:  # said on this bed, naming the other one (validate flags whichever comes later)
        k = clash[0]
        later = beds[max(i, k)].name
        found = [p for p in found if p != f"bed {max(i, k) + 1} ({later}): the name is used by another bed"]
        found.insert(len(problems), f"the name {bed.name.strip()!r} is used by bed {k + 1} ({cfg.beds[k].name})")
    if found:
        raise WardConfigError(cfg.path, found)
    new = validate(WardConfig(cfg.name, beds, cfg.columns).to_dict(), cfg.path).beds[i]
    if password:
        new.source = source
        secure_passwords(WardConfig(cfg.name, [new]), store or CredentialStore())
    if i == len(cfg.beds):
        cfg.beds.append(new)
    else:
        cfg.beds[i] = new
    return new


# ------------------------------------------------------------------------------------ runtime

@dataclass(frozen=True)
class BedAlarm:
    """A bed's alarm state for the ward's banner."""

    bed: str
    priority: Priority
    message: str
    since: float  # monotonic time the bed's current priority began (earlier first among equals)
    acknowledged: bool = False


def rank_alarms(alarms: list[BedAlarm]) -> list[BedAlarm]:
    """Beds with an alarm, highest priority first; among equals unacknowledged first, then the oldest."""
    active = [a for a in alarms if a.priority > Priority.NONE]
    return sorted(active, key=lambda a: (-int(a.priority), a.acknowledged, a.since, a.bed))


def bed_folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:60] or "bed"


class WardBed:
    """One open bed: its pipeline, :class:`MonitorSession` (pump running) and session folder.

    Args:
        cfg, bed: the ward and the bed.
        sessions_root: the ward's session folder; this bed records under ``<root>/<bed name>/``.
        store: resolves the bed's credential (None: the default :class:`CredentialStore`).
        lossless: process every frame of a file (scripted runs) instead of keeping real-time pace.
        stop_at: with ``lossless``, pause a file after this frame.
        pipeline: the pipeline to use (None: a new :class:`Pipeline`).
        nets: the face networks of a new pipeline's tracker: a client of the ward's shared
            :class:`~auepa_monitor.core.net_pool.FaceNetPool` (None: networks of its own).
    """

    def __init__(self, cfg: WardConfig, bed: Bed, sessions_root: str | Path, store: CredentialStore | None = None,
                 lossless: bool = False, stop_at: int | None = None, pipeline: Any = None, nets: Any = None) -> None:
        from .monitor import MonitorSession
        from .streams import open_any

        self.bed = bed
        self.spec = cfg.resolve_source(bed)
        self.desc = mask_credentials(self.spec)
        url = self.spec
        if bed.credential:
            url = (store or CredentialStore()).resolve_url(url, bed.credential)
        self.src = open_any(url)  # SourceError: the caller shows it on the bed's tile
        self._own_pipeline = pipeline is None
        if pipeline is None:
            from .face import FaceTracker
            from .pipeline import Pipeline

            pipeline = Pipeline(tracker=FaceTracker(nets=nets) if nets is not None else None)
        self.pipeline = pipeline
        self.folder = Path(sessions_root) / bed_folder_name(bed.name)
        self.monitor = MonitorSession(pipeline, alert_config=bed.alert_config(), sessions_root=self.folder,
                                      lossless=lossless)
        self.monitor.info_extra = lambda: {"ward": cfg.name, "bed": bed.name}
        if stop_at:
            self.monitor.player.stop_at = stop_at
        if bed.roi is not None:
            self.monitor.initial_roi = tuple(bed.roi)  # type: ignore[assignment]
        self.monitor.start_source(self.src, self.desc if self.src.live else self.spec)
        self.monitor.start_pump()
        self._since = (Priority.NONE, time.monotonic())
        self._rate: list[tuple[float, int]] = []

    @property
    def live(self) -> bool:
        return self.src.live

    def alarm(self, now: float | None = None) -> BedAlarm:
        now = time.monotonic() if now is None else now
        pr, msg, sounding, _ = self.monitor.alarm_state(now)
        if pr != self._since[0]:
            self._since = (pr, now)
        return BedAlarm(self.bed.name, pr, msg, self._since[1], acknowledged=pr > Priority.NONE and
                        sounding == Priority.NONE)

    def sounding(self, now: float | None = None) -> Priority:
        return self.monitor.alarm_state(now)[2]

    def processed_fps(self, now: float | None = None, window: float = 3.0) -> float:
        """Frames processed per second over the last ``window`` seconds (call it regularly)."""
        now = time.monotonic() if now is None else now
        self._rate.append((now, self.monitor.frames_ingested))
        self._rate = [(t, n) for t, n in self._rate if now - t <= window] or self._rate[-1:]
        (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def acknowledge(self) -> None:
        self.monitor.acknowledge()

    def close(self) -> None:
        self.monitor.close()
        if self._own_pipeline:
            self.pipeline.close()


__all__ = ["Bed", "BedAlarm", "add_bed", "WardBed", "WardConfig", "WardConfigError", "bed_alerts", "load_ward", "parse_bed_roi",
           "rank_alarms", "replace_bed", "save_ward", "secure_passwords", "validate"]
