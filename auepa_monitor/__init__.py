"""AuE-IPA Monitor: infant pain estimation from facial Action Units.

Not a medical device. The per-frame core lives in :mod:`auepa_monitor.core` and imports no
Qt; the desktop UI lives in :mod:`auepa_monitor.ui`.
"""

__version__ = "0.1.0"

NOT_A_MEDICAL_DEVICE = (
    "AuE-IPA Monitor is a research tool, not a medical device. Its scores must not be used "
    "on their own to diagnose or treat a patient."
)
