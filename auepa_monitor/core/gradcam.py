"""Grad-CAM (Selvaraju et al.) on one conv layer, computed with ``torch.autograd.grad``. No Qt.

Why our own ~40 lines and not the ``grad-cam`` package: the package calls
``score.backward()``, which back-propagates through the whole network down to the input
(and into every parameter that requires grad). Grad-CAM only needs d(score)/d(activation)
of the target layer, so :class:`GradCam` freezes the parameters, makes the captured
activation the only leaf that requires grad and asks ``torch.autograd.grad`` for that
gradient: the backward pass then covers only the head after the layer (avgpool + fc for a
ResNet) and costs almost nothing next to the forward pass. Measured by
``benchmarks/bench_gradcam.py`` (ResNet18, 224x224, 2-core CPU shared with other work): ours
about one plain forward pass (0.5-1.1x across runs), the package 1.8-5.8x, the full ``backward()`` 2-4x; the
package's map differs from ours by at most 1.2e-6 (the tests check ours against a classic
backward-hook Grad-CAM). The package is kept only as a benchmark comparison.

CAM definition (as the paper and the ``grad-cam`` package): weights = spatial mean of the
gradient per channel; map = ReLU(sum_k weight_k * activation_k); bilinearly upsampled to the
input size (half-pixel centers, like ``cv2.resize``); then min-max scaled to 0-1 (all zeros
when the map is flat).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GradCamResult:
    """One Grad-CAM.

    Attributes:
        cam: (H, W) float32 in 0-1, the input's pixel grid (224x224 for the pain CNN).
        class_idx: the class explained.
        probs: (C,) float32 softmax probabilities of the forward pass.
        low_res: (h, w) float32 ReLU'd map at the layer's resolution, before scaling (7x7 for layer4).
    """

    cam: np.ndarray
    class_idx: int
    probs: np.ndarray
    low_res: np.ndarray


def _scale(cam_low: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, 1, h, w) non-negative map -> (H, W) float32 upsampled, min-max scaled to 0-1."""
    up = F.interpolate(cam_low.float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    lo, hi = up.min(), up.max()
    if float(hi - lo) <= 1e-12:
        return torch.zeros_like(up)
    return (up - lo) / (hi - lo)


def cam_from(activation: torch.Tensor, grad: torch.Tensor, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM from one image's layer activation and gradient, both (1, K, h, w).

    Returns (cam (H, W) float32 0-1, low_res (h, w) float32 >= 0).
    """
    weights = grad.float().mean(dim=(2, 3), keepdim=True)
    low = F.relu((weights * activation.float()).sum(dim=1, keepdim=True))
    cam = _scale(low, size)
    return cam.cpu().numpy().astype(np.float32), low[0, 0].detach().cpu().numpy().astype(np.float32)


class GradCam:
    """Grad-CAM of ``model`` at ``layer`` for one image at a time.

    Args:
        model: a classifier in eval mode; its parameters are frozen (``requires_grad=False``)
            when ``freeze`` is True, so only the head after ``layer`` is differentiated.
        layer: the module whose output is explained (``pain_cnn.target_layer``).
        freeze: set False to leave the parameters alone (correct, but the forward then
            records the whole graph and is slower).

    Not thread-safe: one instance per thread. Call :meth:`remove` (or use ``with``) to
    detach the hook when done; plain forwards of the model are unaffected meanwhile.
    """

    def __init__(self, model: nn.Module, layer: nn.Module, freeze: bool = True) -> None:
        self.model = model
        self.layer = layer
        if freeze:
            for p in model.parameters():
                p.requires_grad_(False)
        self._capture = False
        self._act: torch.Tensor | None = None
        self._handle = layer.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if not self._capture:
            return
        if not output.requires_grad:
            # With frozen parameters the activation has no history: make it the graph's only leaf.
            output.requires_grad_(True)
        self._act = output

    def __call__(self, x: torch.Tensor, class_idx: int | None = None) -> GradCamResult:
        """Explain ``class_idx`` (default: the predicted class) for ``x`` of shape (1, 3, H, W)."""
        if x.ndim != 4 or x.shape[0] != 1:
            raise ValueError(f"expected one image (1, 3, H, W), got shape {tuple(x.shape)}")
        return self.many(x, None if class_idx is None else [class_idx])[0]

    def many(self, x: torch.Tensor, class_idx: Sequence[int] | None = None) -> list[GradCamResult]:
        """Grad-CAMs of a batch (B, 3, H, W) in one forward pass (e.g. engagement over a data set).

        ``class_idx``: one class per image (default: each image's predicted class). The model
        must treat images independently (eval mode: BatchNorm uses its running statistics),
        so the summed score's gradient at each image is that image's own gradient.
        """
        if x.ndim != 4:
            raise ValueError(f"expected images (B, 3, H, W), got shape {tuple(x.shape)}")
        self._capture = True
        try:
            with torch.enable_grad():
                logits = self.model(x)
        finally:
            self._capture = False
        act, self._act = self._act, None
        if act is None:
            raise RuntimeError("the target layer was not run by the model's forward pass")
        b, n = logits.shape
        if class_idx is None:
            idx = logits.detach().argmax(dim=1)
        else:
            idx = torch.as_tensor(list(class_idx), dtype=torch.long, device=logits.device)
            if idx.shape != (b,):
                raise ValueError(f"need one class index per image ({b}), got {len(class_idx)}")
            bad = [int(i) for i in idx if not 0 <= int(i) < n]
            if bad:
                raise ValueError(f"class index {bad[0]} out of range (model has {n} classes)")
        score = logits.gather(1, idx.view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(score, act)
        probs = torch.softmax(logits.detach().float(), dim=1).cpu().numpy().astype(np.float32)
        out = []
        for i in range(b):
            cam, low = cam_from(act[i:i + 1].detach(), grad[i:i + 1], (x.shape[2], x.shape[3]))
            out.append(GradCamResult(cam=cam, class_idx=int(idx[i]), probs=probs[i], low_res=low))
        return out

    def remove(self) -> None:
        """Detach the forward hook from the layer."""
        self._handle.remove()

    def __enter__(self) -> GradCam:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def backward_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor,
                 class_idx: int | None = None) -> GradCamResult:
    """Reference Grad-CAM the classic way: hook the layer, ``score.backward()`` through the whole net.

    The input is made to require grad, so the backward pass runs down to the image, as in the
    ``grad-cam`` package. Kept as an independent check of :class:`GradCam` (tests) and as the
    slow baseline of the benchmark; the program uses :class:`GradCam`.
    """
    store: dict[str, torch.Tensor] = {}

    def fwd(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        store["act"] = output
        output.register_hook(lambda g: store.__setitem__("grad", g))

    h = layer.register_forward_hook(fwd)
    try:
        xi = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = model(xi)
            idx = int(logits[0].argmax()) if class_idx is None else int(class_idx)
            logits[0, idx].backward()
    finally:
        h.remove()
    cam, low = cam_from(store["act"].detach(), store["grad"], (x.shape[2], x.shape[3]))
    probs = torch.softmax(logits[0].detach().float(), dim=0).cpu().numpy().astype(np.float32)
    return GradCamResult(cam=cam, class_idx=idx, probs=probs, low_res=low)
