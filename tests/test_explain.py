"""CnnExplainer on real faces (real FaceTracker, a ResNet18 trained here) and the regressor-weights overlay."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from auepa_monitor.core.au_regions import AU_REGION_NAMES, align_face, au_centers
from auepa_monitor.core.engagement import normalize, region_engagement
from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.core.explain import CnnExplainer, regressor_contributions
from auepa_monitor.core.records import TABLE_I_AUS
from auepa_monitor.core.scoring import PainScorer
from auepa_monitor.model_card import ModelCard
from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, build_pain_cnn, save_checkpoint

STEPS, BATCH, SIZE = 12, 16, 64


def _card() -> ModelCard:
    return ModelCard(name="patch-detector ResNet18 (test)", kind="pain_cnn", trained_on_infant_pain=False,
                     training_data=f"{STEPS * BATCH} synthetic {SIZE}x{SIZE} noise images, a bright square "
                                   "in the 'strong pain' ones (test)",
                     output_scale="4 pain levels", created="2026-11-26", built_by="tests/test_explain.py")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A ResNet18 really trained here (a few Adam steps on a bright-square task), saved with its record."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = build_pain_cnn("resnet18")
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    for _ in range(STEPS):
        x = torch.randn(BATCH, 3, SIZE, SIZE, generator=gen) * 0.5
        y = torch.randint(0, 2, (BATCH,), generator=gen) * 3  # "no pain" or "strong pain"
        for i in torch.nonzero(y).flatten().tolist():
            cx, cy = torch.randint(0, SIZE - 24, (2,), generator=gen).tolist()
            x[i, :, cy:cy + 24, cx:cx + 24] += 2.0
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = tmp_path_factory.mktemp("cnn") / "patch_resnet18.pt"
    save_checkpoint(path, model, "resnet18", PAIN_CLASSES, _card(),
                    extra={"training": {"epochs": 1, "train_samples": STEPS * BATCH, "steps": STEPS}})
    return path


@pytest.fixture
def face(faces_dir, tracker):
    img = cv2.imread(str(faces_dir / "sample1.jpg"))
    tracker.reset()
    fit, _ = tracker.process(img)
    assert fit is not None, "sample1.jpg: no face found"
    return img, fit


@pytest.fixture(scope="module")
def explainer(checkpoint):
    e = CnnExplainer(checkpoint, device="cpu")
    yield e
    e.close()


@pytest.mark.slow
def test_heatmap_in_frame_space_only_around_the_face(explainer, face):
    img, fit = face
    ex = explainer.explain(img, fit, frame_index=7)
    h, w = img.shape[:2]
    assert ex.frame_index == 7
    assert ex.heatmap.shape == (h, w) and ex.heatmap.dtype == np.float32
    assert ex.crop_cam.shape == (224, 224) and ex.crop_cam.max() == pytest.approx(1.0)
    assert 0.0 <= ex.heatmap.min() and ex.heatmap.max() <= 1.0
    assert not ex.heatmap.flags.writeable
    ys, xs = np.nonzero(ex.heatmap)
    assert len(xs) > 0.5 * (fit.box[2] * fit.box[3])  # the crop covers more than the face box
    bx, by, bw, bh = fit.box
    assert xs.min() >= bx - bw and xs.max() <= bx + 2 * bw  # within one face size of the face box
    assert ys.min() >= by - bh and ys.max() <= by + 2 * bh
    far = np.ones((h, w), bool)
    far[max(0, int(by - bh)):int(by + 2 * bh), max(0, int(bx - bw)):int(bx + 2 * bw)] = False
    assert far.any() and ex.heatmap[far].max() == 0.0
    # The crop's hottest pixel lands on the frame at the same value (inverse alignment).
    cy, cx = np.unravel_index(int(ex.crop_cam.argmax()), ex.crop_cam.shape)
    inv = cv2.invertAffineTransform(ex.matrix)
    fx, fy = inv @ np.array([cx, cy, 1.0])
    assert ex.heatmap[int(round(fy)), int(round(fx))] == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
def test_engagement_is_eq2_on_this_frame(explainer, face):
    img, fit = face
    ex = explainer.explain(img, fit, frame_index=1, accumulate=False)
    aligned = align_face(img, fit.landmarks)
    expected = region_engagement(ex.crop_cam, au_centers(aligned.landmarks))
    assert dict(ex.engagement_raw) == pytest.approx(expected)
    assert dict(ex.engagement) == pytest.approx(normalize(expected))
    assert tuple(ex.engagement) == TABLE_I_AUS
    assert max(ex.engagement.values()) == pytest.approx(1.0)


@pytest.mark.slow
def test_session_ranking_and_class_choice(explainer, face):
    img, fit = face
    explainer.reset_session()
    raws = [explainer.explain(img, fit, i).engagement_raw for i in (1, 2)]
    last = explainer.explain(img, fit, 3, class_idx=0)
    assert last.session_frames == 3
    mean = {au: (raws[0][au] + raws[1][au] + last.engagement_raw[au]) / 3 for au in raws[0]}
    assert dict(last.session_engagement) == pytest.approx(normalize(mean))
    assert last.class_idx == 0 and last.explained_class == "no pain"
    assert last.predicted_class in PAIN_CLASSES
    assert last.probs.shape == (4,) and last.probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert last.ms > 0
    assert explainer.explain(img, fit, 4, accumulate=False).session_frames == 3
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(img, fit, 5, class_idx=4)
    explainer.reset_session()
    assert explainer.session.count == 0


@pytest.mark.slow
def test_channels_last_gives_the_same_map(checkpoint, face):
    img, fit = face
    a = CnnExplainer(checkpoint, device="cpu", channels_last=True).explain(img, fit, 1)
    b = CnnExplainer(checkpoint, device="cpu", channels_last=False).explain(img, fit, 1)
    np.testing.assert_allclose(a.crop_cam, b.crop_cam, atol=1e-3)


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cuda_half_close_to_cpu(checkpoint, face):
    img, fit = face
    gpu = CnnExplainer(checkpoint)
    assert gpu.device.type == "cuda" and gpu.half and gpu.channels_last
    a = gpu.explain(img, fit, 1)
    b = CnnExplainer(checkpoint, device="cpu").explain(img, fit, 1)
    assert np.abs(a.crop_cam - b.crop_cam).mean() < 0.02


def test_untrained_checkpoint_is_refused(tmp_path):
    path = tmp_path / "fresh.pt"
    save_checkpoint(path, build_pain_cnn("resnet18"), "resnet18", PAIN_CLASSES, _card())
    with pytest.raises(ModelFileError, match="untrained"):
        CnnExplainer(path, device="cpu")


# -- regressor weights (overlay without a CNN) -------------------------------------------------
ALL_REGIONS = {name: (0.0, 0.0) for names in AU_REGION_NAMES.values() for name in names}


@pytest.fixture(scope="module")
def scorer() -> PainScorer:
    return PainScorer()  # the shipped prior


def test_contributions_cover_core_au_regions(scorer):
    core = scorer.model.core_aus
    au = {a: 2.0 for a in TABLE_I_AUS}
    w = regressor_contributions(scorer, au, ALL_REGIONS)
    expected = {n for a in core for n in AU_REGION_NAMES[a]}
    assert set(w) == expected
    assert all(0.0 <= v <= 1.0 for v in w.values())
    assert max(w.values()) == pytest.approx(1.0)
    assert w["AU6_R"] == w["AU6_L"]
    only = regressor_contributions(scorer, au, {"AU27": (1, 1), "AU1_R": (2, 2)})
    assert set(only) == {"AU27"}  # only regions that exist, only core AUs


def test_contributions_follow_occlusion(scorer):
    au = {27: 3.0, 25: 2.0, 10: 1.0, 12: 0.5, 9: 0.0, 6: 1.5, 20: 0.2}
    base = scorer.model.score(au)
    assert 0.0 < base < 10.0  # unclamped here, so the clamped score shows the same drops
    drops = {a: max(0.0, base - scorer.model.score({**au, a: 0.0})) for a in au}
    top = max(drops.values())
    w = regressor_contributions(scorer, au, ALL_REGIONS)
    for a, d in drops.items():
        assert w[AU_REGION_NAMES[a][0]] == pytest.approx(d / top, abs=1e-4)
    assert w["AU9_R"] == 0.0  # an absent AU weighs nothing


def test_contributions_single_au_and_no_au(scorer):
    w = regressor_contributions(scorer, {27: 4.0}, ALL_REGIONS)
    assert w["AU27"] == pytest.approx(1.0)
    assert all(v == 0.0 for k, v in w.items() if k != "AU27")
    assert all(v == 0.0 for v in regressor_contributions(scorer, {}, ALL_REGIONS).values())
