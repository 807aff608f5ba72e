"""The core's test suite runs where Qt is not installed (issue 12).

Every test file that touches no window (found by what it mentions, so a new core test is covered
without editing this list) is run by pytest in a subprocess where ``import PySide6`` and
``import pyqtgraph`` fail, as on a headless server without the GUI stack. The fast tests only
(``-m "not slow"``): the slow ones exercise the same modules on longer real data.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from test_monitor_session import QT_BLOCKER

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: What a test file that needs Qt mentions.
QT_WORDS = re.compile(r"PySide6|qtbot|pyqtgraph|auepa_monitor\.ui|main_window|mark\.gui|xvfb", re.IGNORECASE)


def core_test_files() -> list[Path]:
    """The test files that need no Qt (this file excluded)."""
    me = Path(__file__).name
    return [p for p in sorted(TESTS.glob("test_*.py"))
            if p.name != me and not QT_WORDS.search(p.read_text(encoding="utf-8"))]


def test_core_test_suite_passes_without_qt(tmp_path):
    files = core_test_files()
    names = {p.name for p in files}
    assert {"test_alerts.py", "test_scoring.py", "test_session.py", "test_frame_loop.py"} <= names
    assert "test_ui_window.py" not in names and "test_ward.py" not in names
    code = QT_BLOCKER + textwrap.dedent(f"""
        import pytest
        rc = pytest.main(["-q", "-m", "not slow", "-p", "no:pytest-qt", "-p", "no:cacheprovider",
                          "--rootdir", {str(REPO)!r}, "--basetemp", {str(tmp_path / "t")!r},
                          *{[str(p) for p in files]!r}])
        import sys
        assert not any(m.split(".")[0] in ("PySide6", "pyqtgraph") for m in sys.modules), "Qt was imported"
        sys.exit(int(rc))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS, timeout=1200)
    tail = (r.stdout + r.stderr)[-4000:]
    assert r.returncode == 0, tail
    passed = re.search(r"(\d+) passed", r.stdout)
    assert passed and int(passed.group(1)) >= 100, tail
    assert "blocked in this test" not in r.stdout, tail  # no test needed Qt after all
