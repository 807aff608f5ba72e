"""PSPI, pain levels, smoothing and the AuE-IPA regressor against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.core.records import PAPER_CORE_AUS, PainLevel
from auepa_monitor.core.scoring import DEFAULT_MODEL, PainScorer, Smoother, pspi
from auepa_monitor.model_card import ModelCard, card_path, models_dir
from auepa_monitor.nets.pain_regressor import PainRegressor


def test_pspi_by_hand():
    au = {4: 1.5, 6: 2.0, 7: 3.0, 9: 0.5, 10: 1.0, 43: 0.0}
    assert pspi(au) == pytest.approx(1.5 + 3.0 + 1.0 + 0)
    au[43] = 4.0  # eyes closed counts 1, whatever the intensity
    assert pspi(au) == pytest.approx(6.5)
    assert pspi({}) == 0.0
    assert pspi({4: 5, 6: 5, 7: 5, 9: 5, 10: 5, 43: 5}) == 16.0


@pytest.mark.parametrize("score,level", [(0, 0), (2.49, 0), (2.5, 1), (4.99, 1), (5.0, 2), (7.49, 2),
                                         (7.5, 3), (10, 3)])
def test_pain_levels(score, level):
    assert PainLevel.from_score(score) == PainLevel(level)


def test_smoother_time_constant_and_seek():
    s = Smoother(tau=1.0)
    assert s(0.0, 0.0) == 0.0
    v = s(10.0, 1.0)  # a step, one time constant later: 1 - e^-1 of the way
    assert v == pytest.approx(10 * (1 - np.exp(-1)))
    assert s(3.0, 0.5) == 3.0  # time went backwards (seek): restart at the new value
    off = Smoother(enabled=False)
    assert off(7.0, 0.0) == 7.0 and off(1.0, 0.1) == 1.0


def test_regressor_matches_hand_computation():
    m = PainRegressor([27, 25], [1.0, 0.5], hidden=3, dropout=0.5)
    with torch.no_grad():
        m.net[0].weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 0.0], [0.5, -0.5]]))
        m.net[0].bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
        m.net[3].weight.copy_(torch.tensor([[1.0, 1.0, 2.0]]))
        m.net[3].bias.copy_(torch.tensor([0.5]))
    m.eval()  # dropout off
    au = {27: 2.0, 25: 4.0}
    x = np.array([2.0 * 1.0, 4.0 * 0.5])  # intensities times engagement
    h = np.maximum(0, np.array([[1, 2], [-1, 0], [0.5, -0.5]]) @ x + [0, 1, 0])
    expected = float(np.array([1, 1, 2]) @ h + 0.5)
    assert m.score(au) == pytest.approx(min(10.0, expected))
    out = m(torch.tensor([[2.0, 4.0], [0.0, 0.0]]))
    assert out.shape == (2,)


def test_regressor_save_load_round_trip(tmp_path):
    m = PainRegressor(PAPER_CORE_AUS, [1.0] * 7)
    card = ModelCard(name="t", kind="pain_regressor", trained_on_infant_pain=False, training_data="x",
                     output_scale="0-10", created="2026-01-01", built_by="test")
    m.save(tmp_path / "m.pt", card)
    m2, card2 = PainRegressor.load(tmp_path / "m.pt")
    x = torch.rand(5, 7) * 5
    m.eval()
    assert torch.allclose(m(x), m2(x))
    assert card2.warning == "Not trained on infant pain data"


def test_bad_regressor_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        PainRegressor.load(tmp_path / "nope.pt")
    good = models_dir() / DEFAULT_MODEL
    # Truncated copy with its card.
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(good.read_bytes()[:200])
    card_path(bad).write_text(card_path(good).read_text())
    with pytest.raises(ModelFileError, match="cannot be read"):
        PainRegressor.load(bad)
    # Missing card.
    nocard = tmp_path / "nocard.pt"
    nocard.write_bytes(good.read_bytes())
    with pytest.raises(ModelFileError, match="card"):
        PainRegressor.load(nocard)
    # Wrong architecture: a hidden size the state dict does not have.
    blob = torch.load(good, weights_only=True)
    blob["hidden"] = 5
    wrong = tmp_path / "wrong.pt"
    torch.save(blob, wrong)
    card_path(wrong).write_text(card_path(good).read_text())
    with pytest.raises(ModelFileError, match="does not fit"):
        PainRegressor.load(wrong)


def test_scorer_with_a_bad_user_model_is_an_error(tmp_path):
    # Issue 12, defect 4: no silent fallback to the prior for a model the user names.
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    with pytest.raises(ModelFileError, match="bad.card.json is missing"):
        PainScorer(bad)


def test_shipped_prior_is_honest_and_sane():
    s = PainScorer(smoothing=False)
    assert s.card.trained_on_infant_pain is False
    assert "not trained on infant pain" in s.name.lower()
    assert s.card.built_by == "training/build_prior.py"
    neutral, _, lvl0 = s.score({a: 0.0 for a in PAPER_CORE_AUS}, 0.0)
    pained, _, lvl3 = s.score({a: 4.0 for a in PAPER_CORE_AUS}, 0.1)
    assert neutral < 2.5 and lvl0 == PainLevel.NO_PAIN
    assert pained >= 7.5 and lvl3 == PainLevel.STRONG
    mid, _, _ = s.score({a: 1.5 for a in PAPER_CORE_AUS}, 0.2)
    assert neutral < mid < pained


def test_served_without_torch_equals_the_torch_module(tmp_path):
    # The shipped prior is served by the numpy forward pass (no torch import at start-up); it must
    # give the torch module's scores, for the prior and for a trained-like random model.
    from auepa_monitor.nets.pain_mlp import load_weights, read_model_file

    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    m = PainRegressor(PAPER_CORE_AUS, list(rng.uniform(0.2, 1.0, 7)), hidden=3, dropout=0.2).eval()
    card = ModelCard(name="t", kind="pain_regressor", trained_on_infant_pain=False, training_data="x",
                     output_scale="0-10", created="2026-01-01", built_by="test")
    m.save(tmp_path / "m.pt", card)
    prior, _ = PainRegressor.load(models_dir() / DEFAULT_MODEL)
    for path, module in ((models_dir() / DEFAULT_MODEL, prior), (tmp_path / "m.pt", m)):
        w = load_weights(path)
        assert w.core_aus == tuple(module.core_aus)
        for _ in range(300):
            au = {a: float(v) for a, v in zip(module.core_aus, rng.uniform(0, 5, 7), strict=True)}
            assert w.score(au) == pytest.approx(module.score(au), abs=1e-5)
    blob = read_model_file(tmp_path / "m.pt")
    ref = torch.load(tmp_path / "m.pt", weights_only=True)
    for k, v in ref["state_dict"].items():
        np.testing.assert_array_equal(blob["state_dict"][k], v.numpy())
    # A pickle that names any other class is refused, as torch.load(weights_only=True) refuses it.
    evil = tmp_path / "evil.pt"
    torch.save({"format": "x", "f": torch.nn.Linear(1, 1)}, evil)
    with pytest.raises(ModelFileError, match="cannot be read"):
        read_model_file(evil)


def test_analyze_does_not_import_torch_for_the_shipped_prior(tmp_path, faces_dir):
    import subprocess
    import sys

    code = ("import sys; from auepa_monitor.cli import main; "
            f"rc = main(['analyze', {str(faces_dir / 'sample1.jpg')!r}, '--out', {str(tmp_path)!r}, '--quiet']); "
            "print('torch' in sys.modules, rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-2:] == ["False", "0"], out.stdout + out.stderr
