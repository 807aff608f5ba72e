#!/usr/bin/env bash
# Start the monitor in a real X server (Xvfb) on a video, let it run, and save a screenshot of the
# whole screen (imagemagick's `import -window root`), to look at what a user would see.
#
# usage: [SETTINGS=start.ini] packaging/xvfb_screenshot.sh VIDEO OUT.png [SECONDS=8] [WxH=1600x1000]
# needs: apt-get install -y xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 imagemagick
set -euo pipefail
cd "$(dirname "$0")/.."
VIDEO=${1:?usage: $0 VIDEO OUT.png [SECONDS] [WxH]}
OUT=${2:?usage: $0 VIDEO OUT.png [SECONDS] [WxH]}
SECS=${3:-8}
GEOM=${4:-1600x1000}
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
for cmd in Xvfb import; do
  command -v "$cmd" >/dev/null || { echo "error: $cmd is not installed (see the usage line)" >&2; exit 3; }
done
# A free display number: the first without an X lock file.
N=90
while [ -e "/tmp/.X${N}-lock" ] || [ -e "/tmp/.X11-unix/X${N}" ]; do N=$((N + 1)); done
WORK=$(mktemp -d)
Xvfb ":$N" -screen 0 "${GEOM}x24" -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XPID=$!
APID=""
cleanup() {
  [ -n "$APID" ] && kill "$APID" 2>/dev/null && wait "$APID" 2>/dev/null || true
  kill "$XPID" 2>/dev/null || true
  wait "$XPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${N}" ] && break; sleep 0.1; done
export DISPLAY=":$N" QT_QPA_PLATFORM=xcb OMP_WAIT_POLICY=PASSIVE
W=${GEOM%x*}; H=${GEOM#*x}
# Temporary settings and sessions: never the user's own.
# SETTINGS=file.ini starts from a copy of those settings (e.g. low alarm thresholds to see alarms).
if [ -n "${SETTINGS:-}" ]; then cp "$SETTINGS" "$WORK/settings.ini"; else printf '[window]\n' >"$WORK/settings.ini"; fi
"$PY" -m auepa_monitor --source "$VIDEO" --settings "$WORK/settings.ini" --session-dir "$WORK/sessions" \
  --mute --geometry "${W}x${H}" >"$WORK/app.log" 2>&1 &
APID=$!
# Wait (up to 90 s) until the window is on the screen, then let it run SECS seconds.
for _ in $(seq 90); do
  kill -0 "$APID" 2>/dev/null || break
  import -window root "$WORK/probe.png" 2>/dev/null || true
  if "$PY" -c "import cv2,sys; a=cv2.imread(sys.argv[1]); sys.exit(0 if a is not None and a.std() > 5 else 1)" \
      "$WORK/probe.png" 2>/dev/null; then break; fi
  sleep 1
done
sleep "$SECS"
if ! kill -0 "$APID" 2>/dev/null; then
  echo "error: the monitor exited early:" >&2; tail -5 "$WORK/app.log" >&2; exit 1
fi
mkdir -p "$(dirname "$OUT")"
import -window root "$OUT"
echo "saved $OUT ($GEOM, after ${SECS} s)"
