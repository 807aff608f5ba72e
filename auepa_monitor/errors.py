"""Exceptions with messages meant for the user (one line, says what and why).

A leaf: it imports nothing of the program, so the core, the networks and the model cards all use it."""


class AuepaError(Exception):
    """Base class for errors the program reports to the user as they are."""


class SourceError(AuepaError):
    """A video, image or camera source cannot be opened or read."""


class ModelFileError(AuepaError):
    """A model file is missing, corrupt or does not fit what the program expects."""


class EngineUnavailable(AuepaError):
    """An AU engine (e.g. OpenFace) is not installed or does not work."""
