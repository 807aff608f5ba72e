"""The regressor stage: input fusion (AU intensities x engagement), shapes, PSPI map, saved model loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from auepa_monitor.core.records import REPORTED_AUS
from auepa_monitor.core.scoring import PainScorer, pspi
from auepa_monitor.model_card import ModelCard
from auepa_monitor.nets.pain_regressor import PainRegressor
from training.regressor import (
    PspiMap,
    RegParams,
    au_matrix,
    fit_regressor,
    levels_of,
    predict_scores,
    pspi_values,
    smooth_l1,
)


def test_au_matrix_selects_columns_in_order() -> None:
    au = np.tile(np.array(REPORTED_AUS, dtype=np.float32), (3, 1))  # each column holds its AU number
    x = au_matrix(au, [27, 25, 10])
    assert x.shape == (3, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], [27, 25, 10])


def test_input_fusion_and_shapes() -> None:
    rng = np.random.default_rng(0)
    aus, w = [27, 25, 10, 12], [1.0, 0.8, 0.5, 0.25]
    x = rng.uniform(0, 5, size=(40, 4)).astype(np.float32)
    y = (x @ np.array(w, np.float32)).clip(0, 10)
    m = fit_regressor(x, y, aus, w, RegParams(epochs=5), seed=1)
    assert isinstance(m, PainRegressor) and m.core_aus == aus
    assert m.net[0].in_features == 4 and m.net[0].out_features == 3 and m.net[-1].out_features == 1
    xt = torch.from_numpy(x[:5])
    with torch.no_grad():
        fused = m.net(xt * torch.tensor(w)).squeeze(-1)  # the MLP sees intensity x engagement
        np.testing.assert_allclose(m(xt).numpy(), fused.numpy(), rtol=1e-6)
        # Scaling an AU's engagement by 2 is the same as doubling that AU's intensity.
        m2 = PainRegressor(aus, [2 * w[0], *w[1:]], hidden=3)
        m2.net.load_state_dict(m.net.state_dict())
        m2.eval()
        x_doubled = xt.clone()
        x_doubled[:, 0] *= 2
        np.testing.assert_allclose(m2(xt).numpy(), m(x_doubled).numpy(), rtol=1e-5)
    s = predict_scores(m, x)
    assert s.shape == (40,) and s.min() >= 0 and s.max() <= 10
    assert smooth_l1(m, x, y) >= 0


def test_training_is_seeded_and_learns() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 5, size=(200, 3)).astype(np.float32)
    y = np.clip(2.0 * x[:, 0], 0, 10).astype(np.float32)
    p = RegParams(epochs=40)
    a = fit_regressor(x, y, [1, 2, 4], [1, 1, 1], p, seed=5)
    b = fit_regressor(x, y, [1, 2, 4], [1, 1, 1], p, seed=5)
    np.testing.assert_array_equal(predict_scores(a, x), predict_scores(b, x))
    untrained = PainRegressor([1, 2, 4], [1, 1, 1]).eval()
    assert smooth_l1(a, x, y) < 0.5 * smooth_l1(untrained, x, y)


def test_levels_and_pspi() -> None:
    np.testing.assert_array_equal(levels_of(np.array([0, 2.49, 2.5, 5, 7.49, 7.5, 10])), [0, 0, 1, 2, 2, 3, 3])
    row = np.zeros((1, len(REPORTED_AUS)), np.float32)
    for au, v in {4: 2.0, 6: 1.0, 7: 3.0, 9: 0.5, 10: 1.5, 43: 4.0}.items():
        row[0, REPORTED_AUS.index(au)] = v
    assert pspi_values(row)[0] == pytest.approx(pspi({4: 2.0, 6: 1.0, 7: 3.0, 9: 0.5, 10: 1.5, 43: 4.0}))
    assert pspi_values(row)[0] == pytest.approx(2 + 3 + 1.5 + 1)
    pm = PspiMap.fit(np.array([0, 4, 8]), np.array([1, 5, 9]))
    assert (pm.slope, pm.intercept) == pytest.approx((1.0, 1.0))
    np.testing.assert_allclose(pm.scores(np.array([0, 20])), [1, 10])  # clipped to 0-10
    assert PspiMap.fit(np.array([3, 3]), np.array([2, 4])).scores(np.array([9]))[0] == pytest.approx(3)


def test_saved_regressor_loads_in_the_app(tmp_path: Path) -> None:
    m = fit_regressor(np.ones((16, 2), np.float32), np.full(16, 4, np.float32), [27, 25], [1.0, 0.5],
                      RegParams(epochs=2), seed=0)
    card = ModelCard(name="t", kind="pain_regressor", trained_on_infant_pain=False, training_data="test",
                     output_scale="0-10", created="2026-01-01", built_by="test")
    m.save(tmp_path / "r.pt", card)
    loaded, c = PainRegressor.load(tmp_path / "r.pt")
    assert loaded.core_aus == [27, 25] and c.warning == "Not trained on infant pain data"
    scorer = PainScorer(tmp_path / "r.pt", smoothing=False)
    assert scorer.fallback_reason == ""
    assert scorer.score({27: 1.0, 25: 1.0}, 0.0)[1] == pytest.approx(float(predict_scores(m, np.ones((1, 2)))[0]),
                                                                      abs=1e-5)
