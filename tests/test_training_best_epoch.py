"""Best-epoch keeping on a validation split by subject, augmentation, learning-rate schedules:
real torch training on tiny data built to overfit (the training data pull the model past the point
the validation data like best)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from training.cnn import CnnParams, augment_batch, make_scheduler, predict, train_cnn
from training.extract import RowSamples, SampleSet
from training.manifest import Row
from training.regressor import RegParams, smooth_l1, train_regressor
from training.topk import split_val


def test_regressor_keeps_the_best_validation_epoch() -> None:
    """Training targets 10 x, validation targets 5 x: the model walks from ~0 to 10 x and passes the
    validation optimum on the way; the kept weights are that epoch's, not the last's."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(128, 1)).astype(np.float32)
    xv = rng.uniform(0, 1, size=(32, 1)).astype(np.float32)
    p = RegParams(epochs=30, lr=0.03, batch=8, hidden=3, dropout=0.0, schedule="none")
    m, res = train_regressor(x, 10 * x[:, 0], [12], [1.0], p, seed=3, val=(xv, 5 * xv[:, 0]))
    val = [h["val_loss"] for h in res.history]
    assert len(val) == 30 and res.selected_by == "validation loss"
    assert res.best_epoch == int(np.argmin(val)) + 1
    assert res.best_epoch < 30 and val[-1] > min(val) + 0.5  # overfit: the last epoch is clearly worse
    assert smooth_l1(m, xv, 5 * xv[:, 0]) == pytest.approx(min(val), rel=1e-5)  # the kept weights are the best's
    # Without validation data the last epoch is kept.
    _, last = train_regressor(x, 10 * x[:, 0], [12], [1.0], RegParams(epochs=5, schedule="none"), seed=3)
    assert last.best_epoch == 5 and last.selected_by == "last epoch"


def _tiny_set(faces_dir: Path) -> tuple[SampleSet, np.ndarray, np.ndarray]:
    """12 real face pictures (224 x 224): 8 training ones all 'strong pain', 4 validation ones half 'no pain'."""
    imgs = []
    for n in ("sample1", "sample3", "sample4", "sample5", "sample6", "sample2"):
        im = cv2.resize(cv2.imread(str(faces_dir / f"{n}.jpg")), (224, 224))
        imgs += [im, cv2.flip(im, 1)]
    rows = []
    for i, im in enumerate(imgs):
        score = 10.0 if i < 8 or i in (8, 9) else 0.0
        row = Row(i + 2, f"s{i // 2}", "d", Path("x.jpg"), 0.0, score, "flacc")
        rows.append(RowSamples(row, im[None], np.zeros((1, 1, 2), np.float32), np.array([1]),
                               np.zeros((1, 14), np.float32), 1))
    s = SampleSet(rows)
    return s, np.arange(8), np.arange(8, 12)


@pytest.mark.slow
def test_cnn_keeps_the_best_validation_epoch(faces_dir: Path) -> None:
    s, tr, val = _tiny_set(faces_dir)
    assert s.levels[tr].tolist() == [3] * 8 and s.levels[val].tolist() == [3, 3, 0, 0]
    torch.set_num_threads(2)
    p = CnnParams(epochs=5, lr=1e-3, batch=8, augment=False, schedule="none", select="loss")
    model, res = train_cnn("resnet18", s, tr, p, "cpu", seed=0, val_idx=val, progress=False)
    val_loss = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(val_loss)) + 1 and res.best_epoch < 5
    assert val_loss[-1] > min(val_loss)
    _, probs = predict(model, s, val, "cpu")
    kept = float(-np.log(probs[np.arange(4), s.levels[val]]).mean())
    assert kept == pytest.approx(min(val_loss), rel=1e-4)  # the returned model is the best epoch's


def test_augmentation_and_schedules() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.rand(4, 3, 64, 64)
    a = augment_batch(t.clone(), g)
    assert a.shape == t.shape and 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.allclose(a, t)  # changed ...
    assert float((a - t).abs().mean()) < 0.35  # ... but still the same picture, roughly
    b = augment_batch(t.clone(), torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)  # seeded
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sch = make_scheduler(opt, "cosine", 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sch.step()
    assert lrs[0] == 1.0 and all(x > y for x, y in zip(lrs, lrs[1:], strict=False)) and lrs[-1] > 0.01
    assert make_scheduler(opt, "none", 10) is None
    with pytest.raises(ValueError):
        make_scheduler(opt, "warp", 10)


def test_validation_split_is_by_subject() -> None:
    subj = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["d"] * 3 + ["e"] * 3)
    idx = np.arange(15)
    fit, val = split_val(subj, idx, 0.2, seed=1)
    assert len(set(subj[val])) == 1 and not set(subj[fit]) & set(subj[val])
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(15))
    fit, val = split_val(subj, idx[:3], 0.5, seed=1)  # one subject: nothing to hold out
    assert len(val) == 0 and len(fit) == 3
    assert len(split_val(subj, idx, 0.0, 0)[1]) == 0


def test_any_cuda_device_name_counts_as_cuda():
    """`--device cuda:0` keeps bf16 and channels_last (issue 12 defect 10: it compared with "cuda")."""
    from training.cnn import _is_cuda

    assert _is_cuda("cuda") and _is_cuda("cuda:0") and _is_cuda("cuda:1")
    assert not _is_cuda("cpu") and not _is_cuda("mps")
