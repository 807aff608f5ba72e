"""Model cards: the JSON file beside every model file, saying what the model is and was trained on."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelFileError


@dataclass
class ModelCard:
    """What a model is, what data it saw and how well it did.

    Attributes:
        name: short display name.
        kind: "pain_regressor", "pain_cnn" or "au_calibration".
        trained_on_infant_pain: False for anything not trained on infant pain labels; the UI
            then says so wherever the model's score is shown.
        training_data: plain description of the data.
        output_scale: e.g. "pain score 0-10 (FLACC-like)".
        created: ISO date.
        built_by: the script that made the file.
        intended_use: free text.
        metrics: name -> value (held-out metrics where there are any).
        extra: anything else specific to the kind (classes, normalisation, crop, ...).
    """

    name: str
    kind: str
    trained_on_infant_pain: bool
    training_data: str
    output_scale: str
    created: str
    built_by: str
    intended_use: str = "Research use. Not a medical device."
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def warning(self) -> str:
        """One line to show beside the model's score ('' when trained on infant pain data)."""
        if self.trained_on_infant_pain:
            return ""
        return "Not trained on infant pain data"

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"model card {path.name} is missing (expected beside the model file)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
            raise ModelFileError(f"model card {path.name} is not valid: {e}") from e


def card_path(model_path: Path) -> Path:
    """``models/foo.pt`` -> ``models/foo.card.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + ".card.json")


def models_dir() -> Path:
    """The shipped ``models/`` folder (repo root, beside the package)."""
    return Path(__file__).resolve().parent.parent / "models"
