#!/usr/bin/env bash
# Build the self-contained AuE-IPA Monitor application folder with PyInstaller (one folder).
#   bash packaging/build_app.sh [DEST=dist] [--prefix /opt/auepa-monitor]
# makes DEST/auepa-monitor/ (the program auepa-monitor, _internal/ with Python, Qt and its plugins,
# torch, LiteRT, the models and their cards, face_landmarker.task and the alarm sounds), with a
# launcher auepa-monitor.desktop (Exec/Icon under --prefix, where IT puts the folder), its icon and
# SHA256SUMS (every file's checksum).
# Needs the development environment: bash packaging/setup.sh --dev (PyInstaller is pinned in
# requirements-dev.txt). Build files go to DEST/.build (removed at the end; AUEPA_KEEP_BUILD=1 keeps them).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=dist
PREFIX=/opt/auepa-monitor
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) DEST=$1; shift ;;
  esac
done
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || { echo "error: $PY not found: run bash packaging/setup.sh --dev first" >&2; exit 2; }
"$PY" -c "import PyInstaller" 2>/dev/null \
  || { echo "error: PyInstaller is not installed in $PY's environment (bash packaging/setup.sh --dev)" >&2; exit 2; }
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
APP="$DEST/auepa-monitor"
WORK="$DEST/.build"
start=$(date +%s)
# Nothing in the build may come from the user's own Python settings.
PYTHONNOUSERSITE=1 "$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$DEST" --workpath "$WORK" \
  packaging/auepa-monitor.spec
sed -e "s|/opt/auepa-monitor/|${PREFIX%/}/|g" packaging/auepa-monitor.desktop >"$APP/auepa-monitor.desktop"
cp assets/auepa-monitor.png assets/auepa-monitor.svg "$APP/"
[ -n "${AUEPA_KEEP_BUILD:-}" ] || rm -rf "$WORK"
# A checksum of every file, for IT to check a copied install: cd DIR && sha256sum -c --quiet SHA256SUMS
(cd "$APP" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
# A first check: the program starts and says its version.
version=$(env -i HOME="${HOME:-/tmp}" PATH=/usr/bin:/bin "$APP/auepa-monitor" --version)
size=$(du -sm "$APP" | cut -f1)
echo "built $APP: AuE-IPA Monitor $version, ${size} MB, in $(( $(date +%s) - start )) s"
