#!/usr/bin/env bash
# Set up (with test tools) and run the whole test suite, slow real-data tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup.sh --dev --cluster  # --cluster: Ray, for the analyze --ray / training --ray tests
export QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
