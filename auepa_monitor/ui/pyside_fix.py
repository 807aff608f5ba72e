"""Work-around for a reference-count bug of PySide6 6.12 on Python 3.11 (measured here).

Each call of many void ``QPainter`` methods from Python (``drawRect``, ``drawEllipse``,
``setPen``, ``setBrush``, ...) *decrements* the reference count of ``None`` once. On Python
< 3.12, where ``None`` is not immortal, painting a video with overlays and a pyqtgraph curve
drives it to zero within minutes and the interpreter aborts ("none_dealloc: deallocating None").
The fix here gives ``None`` a very large reference count at start and tops it up from a UI
timer: ``None`` is never freed anyway, so extra references cost nothing. Python >= 3.12
(immortal ``None``) needs nothing.
"""

from __future__ import annotations

import ctypes
import sys

_FLOOR = 1 << 40  # ~1e12: at 1e5 stray decrements per second this lasts for months


def needed() -> bool:
    """True on CPython < 3.12 with PySide6 6.12 (requirements.txt pins 6.11.1, which is not affected)."""
    import PySide6

    return (sys.implementation.name == "cpython" and sys.version_info < (3, 12)
            and PySide6.__version__.startswith("6.12"))


def none_refcount() -> int:
    return sys.getrefcount(None)


def protect_none() -> None:
    """Raise ``None``'s reference count to at least twice the floor (no-op where not needed)."""
    if not needed():
        return
    if sys.getrefcount(None) < _FLOOR:
        # ob_refcnt is the first field of every CPython object (Py_ssize_t at id(obj)).
        ctypes.c_ssize_t.from_address(id(None)).value += 2 * _FLOOR
