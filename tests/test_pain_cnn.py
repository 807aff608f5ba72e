"""The end-to-end pain CNN: backbones, local ImageNet weights, checkpoint round trip and bad checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision

from auepa_monitor.core import au_regions
from auepa_monitor.core.errors import ModelFileError
from auepa_monitor.model_card import ModelCard, card_path
from auepa_monitor.nets.pain_cnn import (
    ARCHITECTURES,
    FORMAT,
    PAIN_CLASSES,
    build_pain_cnn,
    is_trained,
    load_checkpoint,
    save_checkpoint,
    target_layer,
)

TRAINING = {"training": {"epochs": 1, "train_samples": 16, "data": "random tensors (test)"}}


def make_card(**kw) -> ModelCard:
    base = dict(name="test CNN", kind="pain_cnn", trained_on_infant_pain=False,
                training_data="random tensors, one optimiser step (test)", output_scale="4 pain levels",
                created="2026-11-26", built_by="tests/test_pain_cnn.py")
    base.update(kw)
    return ModelCard(**base)


def one_step(model: torch.nn.Module, classes: int = 4) -> None:
    """One real optimiser step, so the checkpoint's training record is true."""
    torch.manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 3, 64, 64)), torch.tensor([0, classes - 1]))
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    """A resnet18 checkpoint written by save_checkpoint, and the model it came from."""
    path = tmp_path_factory.mktemp("ckpt") / "cnn.pt"
    model = build_pain_cnn("resnet18")
    one_step(model)
    save_checkpoint(path, model, "resnet18", PAIN_CLASSES, make_card(), extra=TRAINING)
    return path, model


def rewrite(src: Path, dst: Path, **changes) -> Path:
    """Copy a checkpoint (and its card) with some top-level entries changed."""
    blob = torch.load(src, weights_only=True)
    blob.update(changes)
    torch.save(blob, dst)
    card_path(dst).write_text(card_path(src).read_text())
    return dst


def test_architectures_are_table_iii():
    assert set(ARCHITECTURES) == {"resnet18", "resnet34", "resnet50", "vgg11", "vgg16", "vgg19",
                                  "vgg11_bn", "vgg16_bn", "vgg19_bn"}
    assert PAIN_CLASSES == ("no pain", "weak pain", "mid pain", "strong pain")


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "vgg11", "vgg11_bn"])
def test_build_head_and_target_layer(arch):
    model = build_pain_cnn(arch).eval()
    feats = {}
    layer = target_layer(model, arch)

    def hook(module, inputs, output) -> None:
        feats["a"] = tuple(output.shape)

    h = layer.register_forward_hook(hook)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    h.remove()
    assert out.shape == (1, 4)
    channels = 2048 if arch == "resnet50" else 512
    side = 7 if arch.startswith("resnet") else 14
    assert feats["a"] == (1, channels, side, side)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["resnet34", "vgg16", "vgg19", "vgg16_bn", "vgg19_bn"])
def test_build_other_table_iii_backbones(arch):
    model = build_pain_cnn(arch, num_classes=2)
    head = model.fc if arch.startswith("resnet") else model.classifier[-1]
    assert head.out_features == 2
    assert isinstance(target_layer(model, arch), torch.nn.Module)


def test_local_imagenet_weights_are_loaded_before_the_head(tmp_path):
    torch.manual_seed(1)
    ref = torchvision.models.resnet18(weights=None)  # stands for the ImageNet file (1000 classes)
    weights = tmp_path / "resnet18-imagenet.pth"
    torch.save(ref.state_dict(), weights)
    model = build_pain_cnn("resnet18", weights_path=weights)
    torch.testing.assert_close(model.conv1.weight, ref.conv1.weight)
    torch.testing.assert_close(model.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    assert model.fc.out_features == 4
    with pytest.raises(ModelFileError, match="do not fit resnet34"):
        build_pain_cnn("resnet34", weights_path=weights)
    with pytest.raises(ModelFileError, match="does not exist"):
        build_pain_cnn("resnet18", weights_path=tmp_path / "none.pth")
    with pytest.raises(ModelFileError, match="unknown architecture"):
        build_pain_cnn("alexnet")


def test_round_trip_same_outputs_and_metadata(good):
    path, model = good
    loaded, meta, card = load_checkpoint(path)
    assert not loaded.training
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert meta["format"] == FORMAT and meta["arch"] == "resnet18"
    assert meta["classes"] == list(PAIN_CLASSES)
    assert meta["normalization"]["mean"] == [0.485, 0.456, 0.406]
    assert meta["normalization"]["std"] == [0.229, 0.224, 0.225]
    assert meta["normalization"]["channel_order"] == "RGB"
    assert meta["crop"] == {"method": "auepa_monitor.core.au_regions.align_face", "size": au_regions.CROP_SIZE,
                            "eye_y": au_regions.EYE_Y, "eye_dist": au_regions.EYE_DIST}
    assert meta["training"]["epochs"] == 1 and is_trained(meta)
    assert card.kind == "pain_cnn" and card.extra["architecture"] == "resnet18"
    assert card.extra["classes"] == list(PAIN_CLASSES)
    assert card.warning == "Not trained on infant pain data"
    assert not path.with_name(path.name + ".part").exists()


@pytest.mark.slow
def test_two_class_vgg_round_trip(tmp_path):
    model = build_pain_cnn("vgg11", num_classes=2)
    one_step(model, classes=2)
    save_checkpoint(tmp_path / "bt.pt", model, "vgg11", ["no pain", "pain"], make_card(), extra=TRAINING)
    loaded, meta, _ = load_checkpoint(tmp_path / "bt.pt", expect_arch="vgg11", expect_classes=["no pain", "pain"])
    assert meta["classes"] == ["no pain", "pain"] and loaded.classifier[-1].out_features == 2


def test_truncated_file(good, tmp_path):
    path, _ = good
    bad = tmp_path / "cut.pt"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    card_path(bad).write_text(card_path(path).read_text())
    with pytest.raises(ModelFileError, match="cannot be read") as e:
        load_checkpoint(bad)
    assert "\n" not in str(e.value)


def test_not_a_torch_file(tmp_path, good):
    bad = tmp_path / "text.pt"
    bad.write_text("hello")
    card_path(bad).write_text(card_path(good[0]).read_text())
    with pytest.raises(ModelFileError, match="cannot be read"):
        load_checkpoint(bad)


def test_other_torch_file_is_not_a_pain_cnn(tmp_path, good):
    bad = tmp_path / "sd.pt"
    torch.save(build_pain_cnn("resnet18").state_dict(), bad)
    card_path(bad).write_text(card_path(good[0]).read_text())
    with pytest.raises(ModelFileError, match="not an AuE-IPA pain CNN"):
        load_checkpoint(bad)


def test_missing_file_and_missing_card(good, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")
    lone = tmp_path / "lone.pt"
    lone.write_bytes(good[0].read_bytes())
    with pytest.raises(ModelFileError, match="model card lone.card.json is missing"):
        load_checkpoint(lone)


def test_wrong_architecture(good, tmp_path):
    path, _ = good
    with pytest.raises(ModelFileError, match="unknown architecture 'resnet99'"):
        load_checkpoint(rewrite(path, tmp_path / "a.pt", arch="resnet99"))
    # A resnet18's weights labelled resnet34 (card too): weights do not fit.
    relabelled = rewrite(path, tmp_path / "b.pt", arch="resnet34")
    card = json.loads(card_path(relabelled).read_text())
    card["extra"]["architecture"] = "resnet34"
    card_path(relabelled).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="weights do not fit a resnet34"):
        load_checkpoint(relabelled)
    # File and card disagree.
    with pytest.raises(ModelFileError, match="its model card says resnet18"):
        load_checkpoint(rewrite(path, tmp_path / "c.pt", arch="resnet34"))
    with pytest.raises(ModelFileError, match="is a resnet18, but a vgg16 was expected"):
        load_checkpoint(path, expect_arch="vgg16")


def test_mismatched_classes(good, tmp_path):
    path, _ = good
    three = rewrite(path, tmp_path / "three.pt", classes=["a", "b", "c"])
    card = json.loads(card_path(three).read_text())
    card["extra"]["classes"] = ["a", "b", "c"]
    card_path(three).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="lists 3 classes but its head has 4 outputs"):
        load_checkpoint(three)
    renamed = rewrite(path, tmp_path / "renamed.pt", classes=["0", "1", "2", "3"])
    with pytest.raises(ModelFileError, match="but its model card says"):
        load_checkpoint(renamed)
    with pytest.raises(ModelFileError, match="expected"):
        load_checkpoint(path, expect_classes=["no pain", "pain"])


def test_untrained_is_refused(good, tmp_path):
    path, model = good
    bare = tmp_path / "bare.pt"
    save_checkpoint(bare, build_pain_cnn("resnet18"), "resnet18", PAIN_CLASSES, make_card())
    with pytest.raises(ModelFileError, match="untrained"):
        load_checkpoint(bare)
    loaded, meta, _ = load_checkpoint(bare, allow_untrained=True)  # e.g. for a training pipeline to resume
    assert not is_trained(meta)
    zero = tmp_path / "zero.pt"
    save_checkpoint(zero, model, "resnet18", PAIN_CLASSES, make_card(),
                    extra={"training": {"epochs": 0, "train_samples": 10}})
    with pytest.raises(ModelFileError, match="untrained"):
        load_checkpoint(zero)
    said = tmp_path / "said.pt"
    save_checkpoint(said, model, "resnet18", PAIN_CLASSES, make_card(extra={"trained": False}), extra=TRAINING)
    with pytest.raises(ModelFileError, match="untrained"):
        load_checkpoint(said)


def test_card_of_another_kind(good, tmp_path):
    path, _ = good
    other = tmp_path / "other.pt"
    other.write_bytes(path.read_bytes())
    make_card(kind="pain_regressor").save(card_path(other))
    with pytest.raises(ModelFileError, match="not a pain CNN"):
        load_checkpoint(other)


def test_save_checks_its_arguments(tmp_path):
    model = build_pain_cnn("resnet18")
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "x.pt", model, "resnet18", PAIN_CLASSES, make_card(kind="au_calibration"))
    with pytest.raises(ValueError, match="4 outputs but 2 classes"):
        save_checkpoint(tmp_path / "x.pt", model, "resnet18", ["a", "b"], make_card())
    assert not (tmp_path / "x.pt").exists()
