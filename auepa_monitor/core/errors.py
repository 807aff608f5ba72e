"""The program's user-facing errors: defined in :mod:`auepa_monitor.errors` (``nets`` and the
model cards raise them too without importing the core); kept importable from here."""

from ..errors import AuepaError, EngineUnavailable, ModelFileError, SourceError

__all__ = ["AuepaError", "EngineUnavailable", "ModelFileError", "SourceError"]
