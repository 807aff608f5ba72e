"""The heatmap slot of the window: Grad-CAM of a loaded CNN in its own worker, else the regressor's weights."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ..core.errors import AuepaError
from ..core.player import LatestWorker, Player, Processed
from ..core.records import FrameResult
from .overlay import heat_to_qimage


def explain_module():
    """``core.explain`` when it is installed (Grad-CAM and regressor weights), else None."""
    try:
        from ..core import explain
    except ImportError:
        return None
    return explain


class Explanations:
    """Grad-CAM runs on the newest frame in a :class:`LatestWorker`; without a CNN each AU region
    is shaded by its share of the regressor's score, computed in the processing thread.

    Args:
        view, engagement, heat_label: the video view, the engagement panel and the heatmap label.
        player: the player whose processing thread computes the regressor's weights.
    """

    def __init__(self, view: Any, engagement: Any, heat_label: Any, player: Player) -> None:
        self.view, self.engagement, self.heat_label, self.player = view, engagement, heat_label, player
        self.explainer: Any = None
        self.worker: LatestWorker | None = None
        self.explanation: Any = None
        self.count = 0
        self._cam_walls: dict[int, float] = {}  # frame -> capture time, to show the heatmap's age

    def load_cnn(self, path: str) -> str:
        """Load an end-to-end CNN checkpoint; '' on success, else the one-line error."""
        mod = explain_module()
        if mod is None:
            return "Grad-CAM is not available in this build (auepa_monitor.core.explain is missing)"
        try:
            explainer = mod.CnnExplainer(path, device=None)
        except AuepaError as e:
            return str(e)
        self.close()
        if (os.cpu_count() or 1) <= 2:
            import torch

            # On 2 cores Grad-CAM takes one, so MediaPipe keeps the other and the video its pace.
            torch.set_num_threads(1)
        self.explainer = explainer
        self.explanation = None
        card = explainer.card
        self.engagement.set_model(card.name, card.warning, card.training_data, explainer.classes,
                                  f"Output: {card.output_scale}\nMetrics: {json.dumps(card.metrics, default=str)}")
        self.worker = LatestWorker(lambda item: explainer.explain(*item), name="auepa-gradcam")
        self.update_post_process()
        return ""

    def new_source(self) -> None:
        self.explanation = None
        if self.explainer is not None:
            self.explainer.reset_session()
        self.engagement.reset()

    def submit(self, p: Processed) -> None:
        if not self.view.options.heatmap or p.result.face is None:
            if p.result.face is None:
                self.view.set_explanation(None, None)
            return
        if self.worker is not None:
            self.worker.submit((p.image, p.result.face, p.result.frame))
            self._cam_walls[p.result.frame] = p.captured_wall
            while len(self._cam_walls) > 300:
                self._cam_walls.pop(next(iter(self._cam_walls)))
            return
        # No CNN: the weights were computed in the processing thread (post_process), which owns the scorer.
        w = p.extra
        if isinstance(w, Exception):
            self.heat_label.setText(f"AU regressor weights unavailable: {w}")
            return
        if w is None:
            self.heat_label.setText("Heatmap: load a CNN checkpoint for Grad-CAM")
            return
        self.view.set_explanation(None, w)
        note = "" if any(v > 0 for v in w.values()) else " – none raise the score now"
        self.heat_label.setText(f"Heatmap: AU regressor weights (no CNN loaded){note}")

    def update_post_process(self) -> None:
        """Regressor weights per frame in the processing thread while they are shown (no CNN, heatmap on)."""
        mod = explain_module()
        if self.worker is None and self.view.options.heatmap and mod is not None \
                and hasattr(mod, "regressor_contributions"):
            fn = mod.regressor_contributions

            def weights(pipe, r: FrameResult):
                return fn(pipe.scorer, r.au, r.au_regions) if r.face is not None else None

            self.player.post_process = weights
        else:
            self.player.post_process = None

    def poll(self, current: Processed | None) -> None:
        if self.worker is None:
            return
        ex = self.worker.take()
        if self.worker.error:
            self.heat_label.setText(f"Grad-CAM failed: {self.worker.error}")
        if ex is None:
            return
        self.explanation = ex
        self.count += 1
        self.view.set_explanation(heat_to_qimage(ex.heatmap), None)
        self.engagement.set_explanation(ex.frame_index, ex.predicted_class, [float(v) for v in ex.probs],
                                        ex.engagement, ex.session_engagement, ex.session_frames)
        self.update_label(current)

    def update_label(self, current: Processed | None) -> None:
        ex = self.explanation
        if ex is None or current is None or self.worker is None:
            return
        behind = max(0, current.result.frame - ex.frame_index)
        wall = self._cam_walls.get(ex.frame_index)
        age = f", {1000 * (time.monotonic() - wall):.0f} ms old" if wall is not None else ""
        # The CNN's class is a model output: its card's warning goes with it wherever it is shown.
        card = self.explainer.card if self.explainer is not None else None
        warn = card is not None and not card.trained_on_infant_pain
        cls = f"{ex.predicted_class}; not trained on infant pain" if warn else ex.predicted_class
        # Compute time in the tooltip: with the warning the line must still fit a 1024-pixel window.
        self.heat_label.setText(f"Grad-CAM ({cls}): {behind} frames behind{age}")
        self.heat_label.setToolTip(f"Grad-CAM of frame {ex.frame_index}, computed in {ex.ms:.0f} ms")

    def sidecar(self) -> dict[str, Any] | None:
        """The shown Grad-CAM explanation: its CNN's card facts, prediction and AU engagement (0-1)."""
        ex = self.explanation
        if ex is None:
            return None
        card = self.explainer.card if self.explainer is not None else None
        return {"predicted_class": ex.predicted_class, "frame_index": ex.frame_index,
                "name": None if card is None else card.name,
                "trained_on_infant_pain": None if card is None else card.trained_on_infant_pain,
                "warning": None if card is None else card.warning,
                "probs": {c: round(float(p), 4) for c, p in zip(self.explainer.classes if self.explainer else (),
                                                                ex.probs, strict=False)},
                "engagement": {f"AU{a}": round(v, 4) for a, v in ex.engagement.items()},
                "session_engagement": {f"AU{a}": round(v, 4) for a, v in ex.session_engagement.items()},
                "session_frames": ex.session_frames}

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        if self.explainer is not None:
            self.explainer.close()
            self.explainer = None
