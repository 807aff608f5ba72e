"""Audible alarm signals: synthesised tone bursts played with QSoundEffect (QApplication.beep fallback).

Patterns loosely follow IEC 60601-1-8: high priority = a fast burst of 5 tones repeated every
~5 s, medium = 3 slower tones every ~10 s, low (technical) = 1 tone every ~20 s.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from ..core.alerts import Priority

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
RATE = 22050
#: priority -> (tone Hz, tones per burst, gap between tones s, burst repeat period s)
PATTERNS = {Priority.HIGH: (880.0, 5, 0.10, 5.0), Priority.MEDIUM: (660.0, 3, 0.20, 10.0),
            Priority.LOW: (520.0, 1, 0.0, 20.0)}


def synth_burst(path: Path, freq: float, tones: int, gap: float, tone_s: float = 0.15) -> Path:
    """Write a 16-bit mono WAV of ``tones`` sine tones (with harmonics, soft edges) at ``freq`` Hz."""
    t = np.arange(int(RATE * tone_s)) / RATE
    tone = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))  # harmonics: easier to localise
    ramp = min(len(t) // 6, int(0.015 * RATE))
    env = np.ones_like(t)
    env[:ramp] = np.linspace(0, 1, ramp)
    env[-ramp:] = np.linspace(1, 0, ramp)
    tone = tone / np.max(np.abs(tone)) * env * 0.6
    silence = np.zeros(int(RATE * gap))
    parts = []
    for i in range(tones):
        parts.append(tone)
        if i < tones - 1:
            parts.append(silence)
    data = (np.concatenate(parts) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data.tobytes())
    return path


def sound_file(priority: Priority) -> Path:
    """The shipped WAV for a priority (``assets/alarm_<level>.wav``), synthesised if absent."""
    path = ASSETS / f"alarm_{priority.label}.wav"
    if not path.is_file():
        freq, tones, gap, _ = PATTERNS[priority]
        synth_burst(path, freq, tones, gap)
    return path


class AlarmSound:
    """Plays the burst of the sounding priority on its repeat period; ``update`` is called by a UI timer."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.backend = "off"
        self._effects = {}
        self._last: tuple[Priority, float] = (Priority.NONE, 0.0)
        self.plays = 0
        if not enabled:
            return
        try:
            from PySide6.QtCore import QLoggingCategory, QUrl

            # Qt Multimedia lists every optional library it could not load; that is not news here.
            QLoggingCategory.setFilterRules("qt.multimedia.symbolsresolver=false")
            from PySide6.QtMultimedia import QMediaDevices, QSoundEffect

            if not QMediaDevices.audioOutputs():
                self.backend = "beep"  # no audio output device: the system beep is all there is
                return
            for pr in PATTERNS:
                e = QSoundEffect()
                e.setSource(QUrl.fromLocalFile(str(sound_file(pr))))
                e.setVolume(0.8)
                self._effects[pr] = e
            self.backend = "QSoundEffect"
        except (ImportError, OSError):  # no QtMultimedia / no audio library: the system beep
            self.backend = "beep"

    def update(self, priority: Priority, now: float | None = None) -> None:
        """Sound ``priority`` now if it just started or its period elapsed (NONE: stay silent)."""
        now = time.monotonic() if now is None else now
        if not self.enabled or priority == Priority.NONE:
            self._last = (Priority.NONE, 0.0)
            return
        last_p, last_t = self._last
        period = PATTERNS[priority][3]
        if priority != last_p or now - last_t >= period:
            self._last = (priority, now)
            self.plays += 1
            if self.backend == "QSoundEffect":
                for pr, e in self._effects.items():
                    if pr != priority:
                        e.stop()
                self._effects[priority].play()
            else:
                from PySide6.QtWidgets import QApplication

                QApplication.beep()
