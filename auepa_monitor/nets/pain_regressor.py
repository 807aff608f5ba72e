"""The AuE-IPA pain intensity regressor (paper, Sec. III-D): a 3-layer MLP on weighted core AUs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelFileError
from ..model_card import ModelCard, card_path
from .pain_mlp import FORMAT, MLPWeights


class PainRegressor(nn.Module):
    """MLP: k core-AU intensities times their engagement levels -> hidden 3 (ReLU, dropout) -> 1.

    Args:
        core_aus: the k AU numbers, in input order.
        engagement: k engagement levels (normalised, 0-1) multiplied element-wise with the input.
        hidden: hidden layer size (paper: 3).
        dropout: dropout probability after the hidden ReLU.

    Shapes: input (B, k) AU intensities on the 0-5 scale; output (B,) pain score, which
    training targets on the FLACC 0-10 scale (not clamped here; :meth:`score` clamps).
    """

    def __init__(self, core_aus: Sequence[int], engagement: Sequence[float], hidden: int = 3,
                 dropout: float = 0.2) -> None:
        super().__init__()
        if len(core_aus) != len(engagement):
            raise ValueError("core_aus and engagement must have the same length")
        self.core_aus = [int(a) for a in core_aus]
        self.hidden_size = hidden
        self.dropout_p = dropout
        self.register_buffer("engagement", torch.tensor(list(engagement), dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(len(core_aus), hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))

    def forward(self, au: torch.Tensor) -> torch.Tensor:
        return self.net(au * self.engagement).squeeze(-1)

    @torch.no_grad()
    def score(self, au: dict[int, float]) -> float:
        """Pain score 0-10 for one frame's AU intensities (AU number -> 0-5)."""
        x = torch.tensor([[float(au.get(a, 0.0)) for a in self.core_aus]], dtype=torch.float32)
        return float(self(x).clamp(0.0, 10.0)[0])

    def weights(self) -> MLPWeights:
        """The parameters for serving without torch (:class:`MLPWeights`, the same forward pass in numpy)."""
        return MLPWeights.from_state(self.core_aus, {k: v.detach().cpu().numpy() for k, v in self.state_dict().items()})

    def save(self, path: Path, card: ModelCard) -> None:
        """Write the model file and its card (``<stem>.card.json``) beside it."""
        path = Path(path)
        torch.save({"format": FORMAT, "core_aus": self.core_aus,
                    "engagement": self.engagement.tolist(), "hidden": self.hidden_size,
                    "dropout": self.dropout_p, "state_dict": self.state_dict()}, path)
        card.save(card_path(path))

    @classmethod
    def load(cls, path: Path) -> tuple[PainRegressor, ModelCard]:
        """Load a regressor and its card; a clear :class:`ModelFileError` when they do not fit."""
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"pain model {path} does not exist")
        card = ModelCard.load(card_path(path))
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many types for a truncated or foreign file
            raise ModelFileError(f"pain model {path.name} cannot be read (corrupt or not a torch file): "
                                 f"{str(e).splitlines()[0][:160]}") from e
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise ModelFileError(f"{path.name} is not an AuE-IPA pain regressor (format {FORMAT} expected)")
        try:
            model = cls(blob["core_aus"], blob["engagement"], int(blob["hidden"]), float(blob["dropout"]))
            model.load_state_dict(blob["state_dict"])
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            # load_state_dict puts the useful part (which tensors differ) after the first line.
            detail = " ".join(str(e).split())[:240]
            raise ModelFileError(f"{path.name} does not fit the regressor architecture: {detail}") from e
        model.eval()
        return model, card
