"""Issue 12, defect 10: changing --archs on a resumed run must not retrain the backbones already done.

Each CNN fold model is resumed by its own key (``Pipeline._cnn_fold_fp``); before the fix that key
held the whole --archs list, so adding a backbone changed every fold's key and retrained them all.
"""

from __future__ import annotations

from pathlib import Path

from training.run import Pipeline, RunConfig


def _pipeline(tmp_path: Path, archs: tuple[str, ...], **kw) -> Pipeline:
    p = Pipeline(RunConfig(manifest=tmp_path / "m.csv", out=tmp_path / "out", archs=archs, **kw))
    # What the earlier stages set before the CNN stage runs.
    p.fold_fp, p.others = "folds-abc", ["demo_nfcs"]
    return p


def test_fold_key_ignores_the_other_backbones(tmp_path: Path) -> None:
    one = _pipeline(tmp_path, ("resnet18",))
    two = _pipeline(tmp_path, ("resnet18", "vgg11"), engagement_arch="resnet18")
    assert one._cnn_fold_fp("resnet18", 0) == two._cnn_fold_fp("resnet18", 0)
    assert one._cnn_fold_fp("resnet18", 0) != one._cnn_fold_fp("resnet18", 1)
    assert two._cnn_fold_fp("vgg11", 0) != two._cnn_fold_fp("resnet18", 0)
    # What the fold model does depend on still changes its key.
    assert _pipeline(tmp_path, ("resnet18",), cnn_epochs=3)._cnn_fold_fp("resnet18", 0) != \
        one._cnn_fold_fp("resnet18", 0)
    assert _pipeline(tmp_path, ("resnet18",), val_frac=0.0)._cnn_fold_fp("resnet18", 0) != \
        one._cnn_fold_fp("resnet18", 0)
