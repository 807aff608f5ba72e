"""What the models look at, per frame: the CNN's Grad-CAM and engagement, or the regressor's weights. No Qt.

:class:`CnnExplainer` loads a trained pain CNN checkpoint and explains one frame: align the
target face into the 224x224 crop (the same :func:`au_regions.align_face` the network was
trained on), Grad-CAM on the target layer (:class:`gradcam.GradCam`), per-frame engagement
(Eq. 2 with N = 1) and a running session ranking, and the CAM warped back onto the frame.
It is meant for a worker thread that takes the newest frame whenever the previous
explanation is done, so the video never waits for it; :attr:`Explanation.frame_index` tells
the view how old the overlay is.

:func:`regressor_contributions` is the overlay when no CNN is loaded: what the AuE-IPA
regressor weighs for the current score, per core AU region. It is not a Grad-CAM and must be
labelled as regressor weights.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from ..nets.device import requested_device, resolve_device
from ..nets.pain_cnn import load_checkpoint, preprocess, target_layer
from .au_regions import AU_REGION_NAMES, align_face, au_centers
from .engagement import EngagementAccumulator, normalize, region_engagement
from .errors import ModelFileError
from .gradcam import GradCam
from .records import FaceFit, frozen_array

if TYPE_CHECKING:
    from .scoring import PainScorer

#: channels_last on the CPU: benchmarks/bench_gradcam.py measured ResNet18 Grad-CAM at 0.55-0.7x
#: the time of the contiguous layout in 4 of 5 runs (1 and 2 torch threads, 2-core machine shared
#: with other work), 1.13x in one (1 thread).
CPU_CHANNELS_LAST = True


@dataclass(frozen=True)
class Explanation:
    """One frame's CNN explanation (arrays read-only).

    Attributes:
        frame_index: the frame explained (1-based, as in FrameResult.frame).
        heatmap: (H, W) float32 0-1 in frame pixels: the crop's CAM warped back through the
            inverse alignment; 0 outside the crop.
        crop_cam: (224, 224) float32 0-1 Grad-CAM in crop pixels.
        predicted_class: name of the most probable class.
        explained_class: name of the class the CAM explains.
        class_idx: index of the class explained (the predicted one unless one was asked for).
        probs: (C,) float32 class probabilities.
        engagement: AU -> this frame's engagement, normalised so the top AU is 1 (N = 1).
        engagement_raw: AU -> this frame's mean CAM (0-1) in the AU's region(s), unnormalised.
        session_engagement: AU -> running engagement over the frames explained since the last
            reset (mean of ``engagement_raw``, normalised so the top AU is 1), a snapshot.
        session_frames: how many frames ``session_engagement`` covers.
        matrix: (2, 3) affine from frame pixels to crop pixels (AlignedFace.matrix).
        ms: milliseconds spent on this explanation (align, forward, Grad-CAM, warp).
    """

    frame_index: int
    heatmap: np.ndarray
    crop_cam: np.ndarray
    predicted_class: str
    class_idx: int
    probs: np.ndarray
    engagement: Mapping[int, float]
    engagement_raw: Mapping[int, float]
    session_engagement: Mapping[int, float]
    session_frames: int
    matrix: np.ndarray
    ms: float
    explained_class: str = ""


class CnnExplainer:
    """Grad-CAM explanations of a trained pain CNN checkpoint, frame by frame.

    Args:
        checkpoint_path: a file written by ``pain_cnn.save_checkpoint`` (card beside it).
            Untrained checkpoints are refused (:class:`ModelFileError`).
        device: "cuda[:N]", "cpu" or None (the run's ``--device``, i.e. ``$AUEPA_DEVICE``;
            unset: CUDA when available, else CPU).
        channels_last: memory format; None = on for CUDA, :data:`CPU_CHANNELS_LAST` on the CPU.
        half: float16 weights and input; None = on for CUDA, off on the CPU.

    :meth:`explain` serves one thread at a time; :meth:`reset_session` may be called from another.
    """

    def __init__(self, checkpoint_path: str | Path, device: str | None = None,
                 channels_last: bool | None = None, half: bool | None = None) -> None:
        if device is None:  # --device / $AUEPA_DEVICE, else CUDA when available
            try:
                device = resolve_device(requested_device() or "auto")
            except ValueError as e:
                raise ModelFileError(f"Grad-CAM: {e}") from e
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        self.path = Path(checkpoint_path)
        model, self.meta, self.card = load_checkpoint(self.path, self.device)
        self.arch: str = self.meta["arch"]
        self.classes: tuple[str, ...] = tuple(self.meta["classes"])
        self.channels_last = (cuda or CPU_CHANNELS_LAST) if channels_last is None else bool(channels_last)
        self.half = cuda if half is None else bool(half)
        if self.half:
            model = model.half()
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model.eval()
        self._dtype = torch.float16 if self.half else torch.float32
        self._cam = GradCam(self.model, target_layer(self.model, self.arch))
        self.session = EngagementAccumulator()
        self._session_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.card.name

    def reset_session(self) -> None:
        """Start a new running engagement ranking (new source, seek)."""
        with self._session_lock:
            self.session.reset()

    def explain(self, image_bgr: np.ndarray, fit: FaceFit, frame_index: int, class_idx: int | None = None,
                accumulate: bool = True) -> Explanation:
        """Explain the target face ``fit`` in frame ``image_bgr`` ((H, W, 3) uint8 BGR).

        ``class_idx`` picks the class to explain (default: the predicted one). ``accumulate``
        adds this frame to the session ranking.
        """
        t0 = time.perf_counter()
        if class_idx is not None and not 0 <= class_idx < len(self.classes):
            raise ValueError(f"class index {class_idx} out of range (classes: {', '.join(self.classes)})")
        aligned = align_face(image_bgr, fit.image_landmarks)
        x = preprocess(aligned.image, self.device, self._dtype, self.channels_last)
        res = self._cam(x, class_idx)
        centers = au_centers(aligned.landmarks)
        raw = region_engagement(res.cam, centers)
        with self._session_lock:
            if accumulate:
                self.session.add_values(raw)
            session, session_frames = self.session.normalized(), self.session.count
        h, w = image_bgr.shape[:2]
        # WARP_INVERSE_MAP: each frame pixel samples the crop at matrix @ (x, y); outside the crop -> 0.
        heat = cv2.warpAffine(res.cam, aligned.matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        pred = int(np.argmax(res.probs))
        return Explanation(
            frame_index=int(frame_index), heatmap=frozen_array(np.clip(heat, 0.0, 1.0).astype(np.float32)),
            crop_cam=frozen_array(res.cam), predicted_class=self.classes[pred], class_idx=res.class_idx,
            probs=frozen_array(res.probs), engagement=MappingProxyType(normalize(raw)),
            engagement_raw=MappingProxyType(raw), session_engagement=MappingProxyType(session),
            session_frames=session_frames, matrix=frozen_array(aligned.matrix),
            ms=(time.perf_counter() - t0) * 1000.0, explained_class=self.classes[res.class_idx],
        )

    def close(self) -> None:
        self._cam.remove()


def regressor_contributions(scorer: PainScorer, au: Mapping[int, float],
                            regions: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    """What the AuE-IPA regressor weighs for this frame's score, per core AU region, 0-1.

    Method: occlusion. For each core AU, the drop of the regressor's unclamped output when
    that AU's intensity is set to 0 (the rest unchanged); negative drops (the AU lowers the
    score) count 0. Values are scaled so that the heaviest AU is 1; all 0 when no AU raises
    the score. Occlusion rather than gradient x input because the regressor's ReLU hidden
    layer has only 3 units: a gradient is 0 on a dead unit although removing the AU can
    change the score.

    Args:
        scorer: the loaded :class:`PainScorer` (its regressor and core AUs).
        au: AU number -> intensity 0-5 for the current frame.
        regions: region name -> center (any pixel space); only the names present get a value.

    Returns region name -> weight 0-1 (both sides of a bilateral AU get the AU's weight).
    Not a Grad-CAM: label it as the regressor's weights.
    """
    model = scorer.model
    core = list(model.core_aus)
    base = torch.tensor([float(au.get(a, 0.0)) for a in core], dtype=torch.float32)
    batch = base.repeat(len(core) + 1, 1)
    for i in range(len(core)):
        batch[i + 1, i] = 0.0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(batch)
    model.train(was_training)
    drops = {a: max(0.0, float(out[0] - out[i + 1])) for i, a in enumerate(core)}
    weights = normalize(drops)
    result: dict[str, float] = {}
    for a in core:
        for name in AU_REGION_NAMES.get(a, ()):
            if name in regions:
                result[name] = weights[a]
    return result

