"""Whether a process of this machine is gone, for cleaning up the scratch files a killed run left. No Qt."""

from __future__ import annotations

import os


def process_gone(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine. POSIX only: elsewhere always False
    (unknown), since ``os.kill(pid, 0)`` would end the process on Windows. A process of another
    account counts as running."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
