"""Build the shipped default pain regressor, ``models/aue_ipa_prior.pt``: a documented prior.

No infant pain data is available to this project, so this model is NOT trained on infant
pain labels. It is the paper's regressor architecture (7 core AUs x engagement -> 3 -> 1,
Sec. III-D) trained with the paper's hyperparameters on synthetic AU vectors whose target
is a stated rule:

    target = 10 * clip(weighted mean of the core AU intensities / 3, 0, 1)

with weights = the engagement levels below. So a face whose core AUs average 3 of 5
(a clearly pained infant face by FACS) scores 10, a neutral face ~0. Engagement levels follow
the paper's core-AU ranking (Fig. 5: AU27, AU25, AU10, AU12, AU9, AU6, AU20); the figure's
bar heights are not given in the text, so the levels fall linearly with rank from 1.0 to 0.52.

Rerun: ``python -m training.build_prior`` (seeded, a few seconds on a CPU).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import torch
from torch import nn

from auepa_monitor.core.records import PAPER_CORE_AUS
from auepa_monitor.model_card import ModelCard, models_dir
from auepa_monitor.nets.pain_regressor import PainRegressor

ENGAGEMENT = tuple(round(1.0 - 0.08 * i, 2) for i in range(len(PAPER_CORE_AUS)))


def rule(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The prior's target for (N, k) AU intensities: 0-10."""
    return 10.0 * np.clip((x * w).sum(1) / w.sum() / 3.0, 0.0, 1.0)


def synthetic_aus(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """(n, k) AU intensities 0-5: a third near-neutral, a third partial, a third strong expressions."""
    third = n // 3
    neutral = rng.gamma(1.0, 0.3, size=(third, k))
    partial = rng.uniform(0, 3.5, size=(third, k)) * (rng.random((third, k)) < 0.6)
    strong = rng.uniform(1.5, 5.0, size=(n - 2 * third, k))
    return np.clip(np.vstack([neutral, partial, strong]), 0, 5).astype(np.float32)


def train(seed: int = 0, n: int = 3000, epochs: int = 100) -> tuple[PainRegressor, dict[str, float]]:
    """Paper's hyperparameters: Adam lr 0.01, SmoothL1Loss, batch 8, 100 epochs."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    k = len(PAPER_CORE_AUS)
    w = np.array(ENGAGEMENT, dtype=np.float32)
    x = synthetic_aus(n, k, rng)
    y = rule(x, w).astype(np.float32)
    xt = synthetic_aus(1000, k, rng)
    yt = rule(xt, w)
    model = PainRegressor(PAPER_CORE_AUS, ENGAGEMENT, hidden=3, dropout=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.SmoothL1Loss()
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 8):
            idx = perm[i:i + 8]
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xt)).clamp(0, 10).numpy()
    mae = float(np.abs(pred - yt).mean())
    agree = float((np.digitize(pred, [2.5, 5, 7.5]) == np.digitize(yt, [2.5, 5, 7.5])).mean())
    return model, {"rule_mae_0_10": round(mae, 3), "rule_level_agreement": round(agree, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(models_dir() / "aue_ipa_prior.pt"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model, metrics = train(args.seed)
    card = ModelCard(
        name="AuE-IPA prior (not trained on infant pain)",
        kind="pain_regressor",
        trained_on_infant_pain=False,
        training_data=("Synthetic AU vectors labelled by a stated rule: 10 x clip(engagement-weighted mean "
                       "of the 7 core AU intensities / 3, 0, 1). No infant pain data was used."),
        output_scale="pain score 0-10 (FLACC-like); levels [0,2.5) no, [2.5,5) weak, [5,7.5) mid, [7.5,10] strong",
        created=dt.date.today().isoformat(),
        built_by="training/build_prior.py",
        intended_use=("Default until a user trains the regressor on labelled infant data with the training "
                      "pipeline. Research use only; not a medical device."),
        metrics={**metrics, "note": "agreement with the rule on 1000 held-out synthetic vectors, not with pain"},
        extra={"core_aus": list(PAPER_CORE_AUS), "engagement": list(ENGAGEMENT),
               "engagement_source": "rank order of the paper's Fig. 5, linear 1.0 to 0.52",
               "architecture": "Linear(7,3) ReLU Dropout(0.1) Linear(3,1)",
               "hyperparameters": "Adam lr 0.01, SmoothL1Loss, batch 8, 100 epochs, seed 0"},
    )
    model.save(Path(args.out), card)
    print(f"wrote {args.out}: {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
