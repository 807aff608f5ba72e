"""CNN stage helpers: local ImageNet weights are found by name and loaded; crops are normalised as the app does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision

from auepa_monitor.nets.pain_cnn import build_pain_cnn, preprocess
from training.cnn import weights_file


def test_weights_file_lookup_and_load(tmp_path: Path) -> None:
    assert weights_file(None, "resnet18") is None
    assert weights_file(tmp_path, "resnet18") is None  # no file: train from scratch
    torch.manual_seed(3)
    ref = torchvision.models.resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "resnet18.pth")
    wp = weights_file(tmp_path, "resnet18")
    assert wp == tmp_path / "resnet18.pth"
    m = build_pain_cnn("resnet18", weights_path=wp)
    torch.testing.assert_close(m.conv1.weight, ref.conv1.weight)  # the file's weights, not a fresh init
    assert m.fc.out_features == 4


def test_batch_tensor_matches_app_preprocess() -> None:
    from training.cnn import batch_tensor

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8) for _ in range(2)]

    class Two:
        def crop(self, i: int) -> np.ndarray:
            return crops[i]

    t = batch_tensor(Two(), [1, 0], "cpu")  # type: ignore[arg-type]
    assert t.shape == (2, 3, 224, 224)
    torch.testing.assert_close(t[0:1], preprocess(crops[1]))
    torch.testing.assert_close(t[1:2], preprocess(crops[0]))
