"""End to end: the example manifest through every stage, every table and figure written (with the
spread over folds, confusion matrices, degenerate-model warnings, per-epoch logs and TensorBoard
events, the run's environment), models that the app loads as they are, and a rerun that resumes
from the finished stages and the cache."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from auepa_monitor.nets.pain_cnn import PAIN_CLASSES, load_checkpoint
from auepa_monitor.nets.pain_regressor import PainRegressor
from training.run import main

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "examples" / "sample_manifest.csv"
FACES = REPO.parent / "shared" / "data" / "faces"  # what the example manifest points at


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not FACES.is_dir():
        pytest.skip(f"sample media not available: {FACES} is absent")
    out = tmp_path_factory.mktemp("example_run")
    assert main(["--manifest", str(MANIFEST), "--out", str(out), "--quick", "--no-progress"]) == 0
    return out


@pytest.mark.slow
@pytest.mark.timeout(1800)  # one quick pipeline run; a few minutes on 2 idle cores, more when they are busy
def test_every_table_figure_and_model(example_run: Path) -> None:
    rep = example_run / "report"
    text = (rep / "README.md").read_text()
    for heading in ("## Data", "## Table III", "## Fig. 5", "## Fig. 6", "## Table IV", "## Table V:", "## Table VI:",
                    "## Models", "## Stage timings", "not declared as infant pain labels", "mean ± std over folds",
                    "Best epoch per fold", "Environment (`config.json`)"):
        assert heading in text, heading
    assert re.search(r"\| PSPI \| [\d.]+ ± [\d.]+ \|", text)  # table cells with their spread over folds
    for name in ("data.csv", "table3_backbones.csv", "fig5_engagement.csv", "fig6_topk_loss.csv",
                 "table4_methods.csv", "tableV_cross_demo_nfcs.csv", "tableVI_cross_demo_binary.csv", "timings.csv",
                 "confusion_table4.csv", "confusion_tableV_demo_nfcs.csv", "confusion_tableVI_demo_binary.csv"):
        assert (rep / "tables" / name).stat().st_size > 0, name
    for name in ("fig5_engagement.png", "fig6_topk_loss.png", "confusion_table4.png", "gradcam_examples.png",
                 "confusion_tableV_demo_nfcs.png", "confusion_tableVI_demo_binary.png"):
        assert (rep / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    t4csv = list(csv.DictReader((rep / "tables" / "table4_methods.csv").open()))
    assert {"WA(%)", "WA_std", "F1_std"} <= set(t4csv[0])
    res = json.loads((rep / "results.json").read_text())
    assert set(res["table3"]) == {"resnet18"}  # --quick drops the slow vgg11_bn
    t4 = res["table4"]
    assert {"PSPI", "resnet18", "all 12 AUs", f"top-{res['best_k']} AUs"} <= set(t4)
    assert set(res["table4_std"]) == set(t4)
    cm = res["table4_confusion"]["PSPI"]
    assert len(cm) == 4 and sum(map(sum, cm)) == t4["PSPI"]["n"]
    # Degenerate models (2 epochs on 5 adults with stand-in labels) are named in the report and the log.
    if res["warnings"]:
        assert "## Warnings: degenerate models" in text and res["warnings"][0] in text
    # Per-epoch logs and TensorBoard events of every trained model; the run's environment.
    for k in range(5):
        rows = list(csv.DictReader((example_run / "logs" / "cnn" / "resnet18" / f"fold{k}" / "epochs.csv").open()))
        assert [r["epoch"] for r in rows] == ["1", "2"] and {"train_loss", "val_loss", "val_ua", "lr"} <= set(rows[0])
        assert list((example_run / "logs" / "cnn" / "resnet18" / f"fold{k}").glob("events.out.tfevents.*"))
        assert (example_run / "logs" / "aue_ipa" / f"fold{k}" / "epochs.csv").is_file()
    assert (example_run / "logs" / "final" / "aue_ipa" / "epochs.csv").is_file()
    cfg = json.loads((example_run / "config.json").read_text())
    env = cfg["environment"]
    assert env["packages"]["torch"] and env["device"]["torch_device"] == "cpu" and env["seeds"]["base"] == 0
    assert "commit" in env["git"] and cfg["val_frac"] == 0.2 and cfg["augment"] is True
    assert any(k.endswith("with weight (AuE-IPA)") for k in t4)
    for s in t4.values():
        assert 0 <= s["wa"] <= 100 and 0 <= s["ua"] <= 100 and 0 <= s["f1"] <= 1
    assert set(res["cross"]) == {"demo_nfcs", "demo_binary"}
    assert len(res["engagement"]) == 12  # every Table I AU ranked
    assert 1 <= res["best_k"] <= 12
    # Models load with the app's own loaders and say they were not trained on pain labels.
    reg, card = PainRegressor.load(example_run / "models" / "pain_regressor.pt")
    assert len(reg.core_aus) == res["best_k"] and card.trained_on_infant_pain is False
    model, meta, ccard = load_checkpoint(example_run / "models" / "pain_cnn_resnet18.pt", "cpu")
    assert meta["arch"] == "resnet18" and meta["classes"] == list(PAIN_CLASSES)
    assert ccard.trained_on_infant_pain is False and "from scratch" in ccard.training_data
    folds = json.loads((example_run / "folds.json").read_text())
    tested = [s for f in folds for s in f["test_subjects"]]
    assert sorted(tested) == ["s01", "s02", "s03", "s04", "s05"]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # one quick pipeline run; a few minutes on 2 idle cores, more when they are busy
def test_rerun_resumes_and_reuses_cache(example_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "rerun"
    shutil.copytree(example_run, out)
    # As if the run had been killed while training resnet18's third fold:
    for p in (out / "state").glob("*.json"):
        if p.name not in ("engagement.json", "topk.json", "final_cnn.json"):
            p.unlink()
    (out / "cnn" / "resnet18" / "fold2.json").unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / "cnn").glob("*/fold?.json")}  # fold results (not cards)
    assert len(kept) == 4
    assert main(["--manifest", str(MANIFEST), "--out", str(out), "--quick", "--no-progress"]) == 0
    timings = json.loads((out / "report" / "results.json").read_text())["timings"]
    for stage in ("engagement", "topk", "final_cnn"):
        assert timings[stage]["resumed"] is True, stage
    for stage in ("cnn", "compare", "final_regressor"):
        assert timings[stage]["resumed"] is False, stage
    # Only the missing fold was trained again; the others were read back.
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert (out / "cnn" / "resnet18" / "fold2.json").is_file()
    assert timings["final_regressor"]["resumed"] is False
    assert timings["extract"]["resumed"] is True  # every row from the cache
