"""Qt-free per-frame core: capture, face, AUs, scoring, explanation, alerts, recording."""
