"""The experiment record: per-epoch CSV and TensorBoard logs, the run's environment, spread over
folds, confusion figures, and the degenerate-model warning on a model built to be constant."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from training import report as R
from training.degenerate import check_predictions
from training.logs import EpochLog, environment
from training.metrics import Scores, scores, std_scores
from training.regressor import RegParams, levels_of, predict_scores, train_regressor


def test_epoch_log_writes_csv_and_tensorboard_events(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 5, size=(40, 2)).astype(np.float32)
    y = (x[:, 0] * 2).clip(0, 10).astype(np.float32)
    log = EpochLog(tmp_path / "logs" / "reg" / "fold0")
    _, res = train_regressor(x[:30], y[:30], [4, 6], [1.0, 1.0], RegParams(epochs=7), 0, (x[30:], y[30:]), log)
    log.close()
    rows = list(csv.DictReader((tmp_path / "logs" / "reg" / "fold0" / "epochs.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 8))
    assert {"train_loss", "val_loss", "lr"} <= set(rows[0])
    assert float(rows[0]["lr"]) > float(rows[-1]["lr"])  # cosine schedule
    ev = list((tmp_path / "logs" / "reg" / "fold0").glob("events.out.tfevents.*"))
    assert len(ev) == 1 and ev[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(ev[0]))
    acc.Reload()
    assert {"train_loss", "val_loss", "lr"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("val_loss")] == list(range(1, 8))
    assert [e.value for e in acc.Scalars("val_loss")] == [np.float32(h["val_loss"]) for h in res.history]
    # No folder: nothing is written.
    EpochLog(None)(1, loss=1.0)


def test_environment_records_versions_commit_device_seeds() -> None:
    env = environment("cpu", {"base": 7})
    assert env["packages"]["torch"] and env["packages"]["numpy"] and env["packages"]["tensorboard"]
    assert env["device"]["torch_device"] == "cpu" and env["device"]["cpu_count"] >= 1
    assert env["seeds"] == {"base": 7}
    assert env["git"]["commit"] is None or len(env["git"]["commit"]) == 40


def test_degenerate_warning_fires_on_a_constant_model() -> None:
    """A regressor trained on one constant target answers the same score for any face: both warnings fire."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 5, size=(48, 3)).astype(np.float32)
    m, _ = train_regressor(x, np.full(48, 1.0, np.float32), [4, 6, 7], [1, 1, 1],
                           RegParams(epochs=60, hidden=3, dropout=0.0, lr=0.05), seed=0)
    xt = rng.uniform(0, 5, size=(20, 3)).astype(np.float32)
    truth = [0] * 10 + [1] * 10  # no pain / pain
    raw = predict_scores(m, xt)
    pred = [1 if v > 0 else 0 for v in levels_of(raw)]
    w = check_predictions("flat regressor", [truth], [pred], ["no pain", "pain"], [raw.tolist()])
    assert len(w) == 2
    assert w[0].startswith("flat regressor: constant output on the held-out folds: fold 0")
    assert "never predicted 'pain'" in w[1]
    # A CNN-like model without raw outputs: one class every time on a fold is caught too.
    w2 = check_predictions("cnn", [[0, 1, 2], [3, 0]], [[2, 2, 2], [0, 3]], ["no", "weak", "mid", "strong"])
    assert w2 == ["cnn: constant output on the held-out folds: fold 0 (always 'mid')",
                  "cnn: never predicted 'weak' on the held-out folds (present in the truth)"]
    # A healthy model: no warning.
    assert check_predictions("ok", [[0, 1, 0, 1]], [[0, 1, 1, 1]], ["no pain", "pain"], [[0.1, 3, 4, 5]]) == []


def test_spread_tables_and_confusion_figure(tmp_path: Path) -> None:
    folds = [scores([0, 1, 1, 0], [0, 1, 0, 0], 2), scores([0, 1, 1, 0], [0, 1, 1, 0], 2)]
    sd = std_scores(folds)
    assert sd.wa == np.std([75.0, 100.0]) and sd.n == 2
    mean = Scores(87.5, 87.5, 90.0, 87.5, 0.87, 8)
    h, rows = R.metric_rows_pm({"m": (mean, sd)})
    assert rows[0][1] == "87.5 ± 12.5" and h[0] == "Method"
    h3, r3 = R.table_iii_rows({"resnet18": mean}, {"resnet18": sd})
    assert r3[0] == ["Weighted Accuracy(%)", "87.5 ± 12.5"]
    cms = {f"method {i}": np.array([[3, 1], [0, 4]]) for i in range(5)}
    R.confusion_figure(tmp_path / "c.png", cms, {n: ["no pain", "pain"] for n in cms}, title="t")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
