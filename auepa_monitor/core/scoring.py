"""PSPI (paper, Eq. 1), the regressor's pain score with light temporal smoothing, and pain levels."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..model_card import ModelCard, card_path, models_dir
from ..nets.pain_mlp import load_weights
from .records import PAPER_SCALE, PainLevel, PainScale

#: AU43 counts as 1 in PSPI (eyes closed) at or above this intensity (0-5 scale).
AU43_CLOSED = 2.5
DEFAULT_MODEL = "aue_ipa_prior.pt"


def pspi(au: Mapping[int, float]) -> float:
    """PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, with AU43 as 0/1. Range 0-16."""
    g = lambda a: float(au.get(a, 0.0))  # noqa: E731
    closed = 1.0 if g(43) >= AU43_CLOSED else 0.0
    return g(4) + max(g(6), g(7)) + max(g(9), g(10)) + closed


@dataclass
class Smoother:
    """Exponential smoothing of the pain score over time (variable frame rate safe).

    ``tau`` is the time constant in seconds (default 1 s: a one-frame spike moves the
    displayed score by a few percent at 30 fps, a sustained change shows within ~2 s).
    ``enabled=False`` passes values through unchanged.
    """

    tau: float = 1.0
    enabled: bool = True
    _value: float | None = None
    _t: float | None = None

    def reset(self) -> None:
        self._value = None
        self._t = None

    def __call__(self, value: float, t: float) -> float:
        """Smoothed value at time ``t`` (seconds); time going backwards (a seek) restarts it."""
        if not self.enabled or self.tau <= 0:
            return value
        if self._value is None or self._t is None or t < self._t:
            self._value, self._t = value, t
            return value
        alpha = 1.0 - math.exp(-(t - self._t) / self.tau)
        self._value += alpha * (value - self._value)
        self._t = t
        return self._value


class PainScorer:
    """Loads a pain regressor model file (default: the shipped prior) and scores frames.

    Raises :class:`ModelFileError` when the file cannot be loaded, whether named by the user or
    the shipped default.

    The regressor runs on the CPU whatever ``--device`` says: k inputs, 3 hidden units, about
    0.08 ms a frame there, less than one copy to a GPU and back would cost.
    """

    def __init__(self, model_path: str | Path | None = None, smoothing: bool = True, tau: float = 1.0):
        #: Kept for callers that show it; always '' now: a model the user names that cannot be
        #: loaded raises :class:`ModelFileError` (never a silent switch to the prior), and the
        #: default prior failing raises too.
        self.fallback_reason = ""
        path = Path(model_path) if model_path else models_dir() / DEFAULT_MODEL
        self._model = None
        if model_path:
            # A model the user names goes through torch's own loader, whose messages say exactly
            # what does not fit; then it is served like the prior.
            from ..nets.pain_regressor import PainRegressor

            self._model, self.card = PainRegressor.load(path)
            self.weights = self._model.weights()
        else:
            # The shipped prior is served without importing torch (about 1.2 s of start-up).
            self.weights = load_weights(path)
            self.card = ModelCard.load(card_path(path))
        self.path = path
        self.smoother = Smoother(tau=tau, enabled=smoothing)
        #: Where the pain levels start (the monitor sets its alarm settings' scale here, so the
        #: record's ``pain_level``, the CSV and the window name a score alike).
        self.scale: PainScale = PAPER_SCALE

    @property
    def model(self):  # noqa: ANN201 (PainRegressor; torch is imported only when asked for)
        """The torch module (for the explanation's occlusion pass), loaded on first use."""
        if self._model is None:
            from ..nets.pain_regressor import PainRegressor

            self._model = PainRegressor.load(self.path)[0]
        return self._model

    @property
    def name(self) -> str:
        return self.card.name

    def reset(self) -> None:
        self.smoother.reset()

    def score(self, au: Mapping[int, float], t: float) -> tuple[float, float, PainLevel]:
        """(smoothed score 0-10, raw score 0-10, level of the smoothed score) at time ``t`` seconds."""
        raw = self.weights.score(au)
        smooth = min(10.0, max(0.0, self.smoother(raw, t)))
        return smooth, raw, self.scale.level(smooth)


__all__ = ["pspi", "Smoother", "PainScorer", "PainLevel", "PainScale", "ModelCard"]
