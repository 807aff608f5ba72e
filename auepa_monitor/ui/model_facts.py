"""What the panels show of the pain model in use: its card (name, warning, facts, tooltip) and core AUs."""

from __future__ import annotations

import json
from typing import Any

from .panels import AUPanel, PainPanel


def card_tooltip(card: Any) -> str:
    """Training data, output scale, intended use and metrics of a model card, one a line."""
    return (f"Trained on: {card.training_data}\nOutput: {card.output_scale}\nIntended use: {card.intended_use}"
            f"\nMetrics: {json.dumps(card.metrics, default=str)}")


def show_scorer(pain: PainPanel, au_panel: AUPanel, scorer: Any) -> None:
    """Show ``scorer``'s model card in the pain panel and its core AUs with their engagement in the AU bars."""
    card = scorer.card
    facts = [f"Output: {card.output_scale.split(';')[0]}", f"Built {card.created} by {card.built_by}"]
    pain.set_card(card.name, card.warning, "\n".join(facts))
    for w in (pain.facts, pain.model, pain.warning):
        w.setToolTip(card_tooltip(card))
    au_panel.set_core(scorer.model.core_aus, [float(v) for v in scorer.model.engagement])
