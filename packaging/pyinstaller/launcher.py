"""Entry point of the frozen application (PyInstaller): the same as ``auepa-monitor`` / ``python -m auepa_monitor``."""

import multiprocessing
import sys

if __name__ == "__main__":
    # `analyze --workers N` starts worker processes with the "spawn" method: in the bundle each one
    # is this program again, which must run the worker instead of the command line.
    multiprocessing.freeze_support()
    from auepa_monitor.cli import main

    sys.exit(main())
