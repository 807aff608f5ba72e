"""The window's remembered settings (QSettings): alarms, overlays, speed, engine, folders, recent files."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings

from ..core.alerts import AlertConfig
from ..core.session import default_sessions_dir

MAX_RECENT = 8
OVERLAY_KEYS = ("box", "landmarks", "regions", "heatmap")


class SettingsStore:
    """Typed access to the window's QSettings (tests pass a temporary INI file)."""

    def __init__(self, settings: QSettings) -> None:
        self.qs = settings

    def alert_config(self) -> AlertConfig:
        self.qs.beginGroup("alerts")
        d = {k: self.qs.value(k) for k in self.qs.childKeys()}
        self.qs.endGroup()
        return AlertConfig.from_dict(d)

    def set_alert_config(self, cfg: AlertConfig) -> None:
        self.qs.beginGroup("alerts")
        for k, v in cfg.to_dict().items():
            self.qs.setValue(k, v)
        self.qs.endGroup()

    def overlays(self) -> tuple[dict[str, bool], int]:
        """({box, landmarks, regions, heatmap: shown}, heatmap opacity 0-100)."""
        checks = {k: str(self.qs.value(f"overlay/{k}", "true")).lower() == "true" for k in OVERLAY_KEYS}
        return checks, int(self.qs.value("overlay/opacity", 45))

    def set_overlays(self, checks: dict[str, bool], opacity: int) -> None:
        for k, v in checks.items():
            self.qs.setValue(f"overlay/{k}", v)
        self.qs.setValue("overlay/opacity", opacity)

    def speed(self) -> float:
        return float(self.qs.value("playback/speed", 1.0))

    def set_speed(self, speed: float) -> None:
        self.qs.setValue("playback/speed", speed)

    def engine(self) -> str:
        return str(self.qs.value("engine/au", "embedded"))

    def set_engine(self, name: str) -> None:
        self.qs.setValue("engine/au", name)

    def openface_bin(self) -> str | None:
        v = self.qs.value("engine/openface_bin")
        return str(v) if v else None

    def set_openface_bin(self, path: str) -> None:
        self.qs.setValue("engine/openface_bin", path)

    def sessions_dir(self) -> Path:
        v = self.qs.value("session/dir")
        return Path(v) if v else default_sessions_dir()

    def set_sessions_dir(self, path: str) -> None:
        self.qs.setValue("session/dir", path)

    def keep_days(self) -> int:
        """Days closed sessions are kept (``session/keep_days``; 0 or unset: keep all)."""
        try:
            return max(0, int(self.qs.value("session/keep_days", 0) or 0))
        except (TypeError, ValueError):
            return 0

    def set_keep_days(self, n: int) -> None:
        self.qs.setValue("session/keep_days", n)

    def recent_files(self) -> list[str]:
        try:
            v = json.loads(str(self.qs.value("recent", "[]")))
            return [str(x) for x in v] if isinstance(v, list) else []
        except json.JSONDecodeError:
            return []

    def add_recent(self, path: str) -> None:
        rec = [p for p in self.recent_files() if p != path]
        self.qs.setValue("recent", json.dumps(([path] + rec)[:MAX_RECENT]))

    def last_dir(self) -> str:
        return str(self.qs.value("last_dir", ""))

    def set_last_dir(self, path: str) -> None:
        self.qs.setValue("last_dir", path)
