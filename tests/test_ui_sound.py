"""Alarm sounds: the synthesised WAVs and the repeat pattern per priority."""

from __future__ import annotations

import wave

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from auepa_monitor.core.alerts import Priority  # noqa: E402
from auepa_monitor.ui.sound import PATTERNS, RATE, AlarmSound, sound_file, synth_burst  # noqa: E402


def test_synth_burst_is_a_tone_train(tmp_path):
    p = synth_burst(tmp_path / "t.wav", 880.0, tones=5, gap=0.1, tone_s=0.15)
    with wave.open(str(p)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
    assert len(x) == int(RATE * 0.15) * 5 + int(RATE * 0.1) * 4
    spec = np.abs(np.fft.rfft(x[: int(RATE * 0.15)]))
    assert abs(np.argmax(spec) * RATE / int(RATE * 0.15) - 880.0) < 10  # fundamental at 880 Hz
    assert np.abs(x[int(RATE * 0.15) + 10: int(RATE * 0.25) - 10]).max() == 0  # silence between tones


def test_shipped_sounds_exist():
    for pr in PATTERNS:
        assert sound_file(pr).stat().st_size > 1000


def test_repeat_pattern(qapp):
    s = AlarmSound(enabled=True)
    assert s.backend in ("QSoundEffect", "beep")
    s.update(Priority.HIGH, now=100.0)
    s.update(Priority.HIGH, now=102.0)
    assert s.plays == 1  # once per burst period (5 s for high)
    s.update(Priority.HIGH, now=105.1)
    assert s.plays == 2
    s.update(Priority.MEDIUM, now=105.2)  # a change of priority sounds at once
    assert s.plays == 3
    s.update(Priority.NONE, now=106.0)
    s.update(Priority.NONE, now=200.0)
    assert s.plays == 3
    muted = AlarmSound(enabled=False)
    muted.update(Priority.HIGH, now=0.0)
    assert muted.plays == 0
