"""The end-to-end pain CNN (paper, Sec. III-B and Table III): a torchvision backbone with a pain-level head.

A checkpoint is one torch file (``weights_only`` loadable: plain dicts, lists, numbers,
strings and tensors) plus its model card ``<stem>.card.json`` beside it. The file holds the
architecture, the class names, the input normalisation and the crop definition, so a
model is always fed the same 224x224 aligned face crop (:func:`au_regions.align_face`)
it was trained on. Nothing is ever downloaded: ImageNet weights come from a local file.

Training metadata: ``extra["training"]`` given to :func:`save_checkpoint` must be a dict
with ``epochs`` (int >= 1) and ``train_samples`` (int >= 1); anything else may be added
(dataset, folds, seed, ...). Without it the checkpoint counts as untrained and
:func:`load_checkpoint` refuses it (unless ``allow_untrained=True``), because a Grad-CAM
of an untrained network would be shown as if it meant something.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchvision
from torch import nn

from ..errors import ModelFileError
from ..model_card import ModelCard, card_path

FORMAT = "auepa.pain_cnn/1"
KIND = "pain_cnn"

#: Backbones compared in the paper's Table III.
ARCHITECTURES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "vgg11", "vgg16", "vgg19",
                                  "vgg11_bn", "vgg16_bn", "vgg19_bn")
#: The four pain levels (paper, Table II), in class-index order.
PAIN_CLASSES: tuple[str, ...] = ("no pain", "weak pain", "mid pain", "strong pain")

#: Input normalisation: RGB, pixel/255, then (x - mean) / std per channel (ImageNet statistics).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
NORMALIZATION: dict[str, Any] = {"channel_order": "RGB", "scale": "pixel / 255",
                                 "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
#: The crop every pain CNN sees: :func:`auepa_monitor.core.au_regions.align_face` with its
#: ``CROP_SIZE``, ``EYE_Y`` and ``EYE_DIST`` (written here so ``nets`` imports nothing of the core;
#: tests/test_pain_cnn.py checks they are au_regions' values).
CROP: dict[str, Any] = {"method": "auepa_monitor.core.au_regions.align_face", "size": 224, "eye_y": 0.33,
                        "eye_dist": 0.28}
#: Keys that ``extra["training"]`` must hold (ints >= 1) for a checkpoint to count as trained.
TRAINING_KEYS: tuple[str, ...] = ("epochs", "train_samples")


def _check_arch(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ModelFileError(f"unknown architecture {arch!r}: expected one of {', '.join(ARCHITECTURES)}")


def _head(model: nn.Module, arch: str) -> tuple[nn.Module, str]:
    """The last classifier layer and its attribute path."""
    if arch.startswith("resnet"):
        return model.fc, "fc"
    return model.classifier[-1], f"classifier.{len(model.classifier) - 1}"


def build_pain_cnn(arch: str = "resnet18", num_classes: int = len(PAIN_CLASSES),
                   weights_path: str | Path | None = None) -> nn.Module:
    """A torchvision ``arch`` with its last classifier layer replaced by ``num_classes`` outputs.

    Args:
        arch: one of :data:`ARCHITECTURES`.
        num_classes: outputs of the new head (4 pain levels by default).
        weights_path: local ImageNet state-dict file for ``arch`` (torchvision's own ``.pth``),
            loaded before the head is replaced; None keeps torchvision's random initialisation.

    Input (B, 3, 224, 224) normalised RGB (see :data:`NORMALIZATION`); output (B, num_classes) logits.
    Raises :class:`ModelFileError` for an unknown arch or a weights file that does not fit.
    """
    _check_arch(arch)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    model = getattr(torchvision.models, arch)(weights=None)  # never download
    if weights_path is not None:
        wp = Path(weights_path)
        if not wp.is_file():
            raise ModelFileError(f"ImageNet weights file {wp} does not exist")
        try:
            sd = torch.load(wp, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated/foreign files raise many types
            raise ModelFileError(f"ImageNet weights {wp.name} cannot be read: {_first_line(e)}") from e
        if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
            sd = sd["state_dict"]
        try:
            model.load_state_dict(sd)
        except (RuntimeError, TypeError, AttributeError) as e:
            raise ModelFileError(f"ImageNet weights {wp.name} do not fit {arch}: {_first_line(e)}") from e
    old, _ = _head(model, arch)
    new = nn.Linear(old.in_features, num_classes)
    if arch.startswith("resnet"):
        model.fc = new
    else:
        model.classifier[-1] = new
    return model


def target_layer(model: nn.Module, arch: str) -> nn.Module:
    """The Grad-CAM layer: ``layer4`` for ResNets; for VGG the last ReLU of ``features``.

    For VGG the last ReLU (before the final max-pool) is the output of the last conv block at
    14x14, twice the resolution of the pooled 7x7 map, which suits 10x10 px AU regions.
    """
    _check_arch(arch)
    if arch.startswith("resnet"):
        return model.layer4
    relus = [m for m in model.features if isinstance(m, nn.ReLU)]
    return relus[-1]


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:160]


def is_trained(meta: Mapping[str, Any]) -> bool:
    """True when ``meta["training"]`` has every :data:`TRAINING_KEYS` entry as an int >= 1."""
    tr = meta.get("training")
    if not isinstance(tr, Mapping):
        return False
    for k in TRAINING_KEYS:
        v = tr.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            return False
    return True


def save_checkpoint(path: str | Path, model: nn.Module, arch: str, classes: Sequence[str],
                    card: ModelCard, extra: Mapping[str, Any] | None = None) -> None:
    """Write ``path`` (weights + metadata) and the card ``<stem>.card.json`` beside it.

    Args:
        model: a network built by :func:`build_pain_cnn` (any device/dtype; saved as float32 on CPU).
        arch: its architecture name.
        classes: class names in output order (``len(classes)`` outputs).
        card: the model card; ``kind`` must be ``"pain_cnn"``. Its ``extra`` gets the
            architecture, classes, normalisation and crop (the card says what the file holds).
        extra: more metadata stored in the file, e.g. ``{"training": {"epochs": 25,
            "train_samples": 3200, ...}}`` (required for the file to count as trained).
    """
    _check_arch(arch)
    if card.kind != KIND:
        raise ValueError(f"model card kind must be {KIND!r}, got {card.kind!r}")
    classes = [str(c) for c in classes]
    head, _ = _head(model, arch)
    if head.out_features != len(classes):
        raise ValueError(f"model has {head.out_features} outputs but {len(classes)} classes were given")
    extra = dict(extra or {})
    sd = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
          for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "arch": arch, "classes": classes, "normalization": dict(NORMALIZATION),
            "crop": dict(CROP), "saved": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    meta.update({k: v for k, v in extra.items() if k not in meta})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary name first so an interrupted save never leaves a half file under the real name.
    tmp = path.with_name(path.name + ".part")
    torch.save({**meta, "state_dict": sd}, tmp)
    card.extra = {**card.extra, "architecture": arch, "classes": classes, "normalization": dict(NORMALIZATION),
                  "crop": dict(CROP), "format": FORMAT}
    if "training" in extra:
        card.extra.setdefault("training", extra["training"])
    card.save(card_path(path))
    tmp.replace(path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu", *, allow_untrained: bool = False,
                    expect_arch: str | None = None, expect_classes: Sequence[str] | None = None,
                    ) -> tuple[nn.Module, dict[str, Any], ModelCard]:
    """Load a pain CNN checkpoint: (model in eval mode on ``device``, meta dict, card).

    ``meta`` holds ``format``, ``arch``, ``classes``, ``normalization``, ``crop``, ``saved`` and
    the ``extra`` given at save time (e.g. ``training``). Every failure is a one-line
    :class:`ModelFileError`: missing file or card, corrupt/truncated file, not a pain CNN,
    unknown or unexpected architecture, classes that disagree with the head / the card /
    ``expect_classes``, a state dict that does not fit, or (unless ``allow_untrained``) no
    training metadata (see :func:`is_trained`).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"pain CNN checkpoint {path} does not exist")
    card = ModelCard.load(card_path(path))
    if card.kind != KIND:
        raise ModelFileError(f"{card_path(path).name} describes a {card.kind!r} model, not a pain CNN")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a truncated or foreign file
        raise ModelFileError(f"pain CNN {path.name} cannot be read (corrupt, truncated or not a torch file): "
                             f"{_first_line(e)}") from e
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or "state_dict" not in blob:
        raise ModelFileError(f"{path.name} is not an AuE-IPA pain CNN checkpoint (format {FORMAT} expected)")
    arch = blob.get("arch")
    if not isinstance(arch, str):
        raise ModelFileError(f"{path.name} names no architecture")
    _check_arch(arch)
    if expect_arch is not None and arch != expect_arch:
        raise ModelFileError(f"{path.name} is a {arch}, but a {expect_arch} was expected")
    classes = blob.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ModelFileError(f"{path.name} has no valid class list")
    if expect_classes is not None and list(expect_classes) != classes:
        raise ModelFileError(f"{path.name} has classes {classes}, expected {list(expect_classes)}")
    card_arch = card.extra.get("architecture")
    card_classes = card.extra.get("classes")
    if card_arch is not None and card_arch != arch:
        raise ModelFileError(f"{path.name} is a {arch} but its model card says {card_arch}")
    if card_classes is not None and list(card_classes) != classes:
        raise ModelFileError(f"{path.name} has classes {classes} but its model card says {card_classes}")
    sd = blob["state_dict"]
    model = build_pain_cnn(arch, num_classes=len(classes))
    _, head_name = _head(model, arch)
    w = sd.get(f"{head_name}.weight") if isinstance(sd, dict) else None
    if isinstance(w, torch.Tensor) and w.ndim == 2 and w.shape[0] != len(classes):
        raise ModelFileError(f"{path.name} lists {len(classes)} classes but its head has {w.shape[0]} outputs")
    try:
        model.load_state_dict(sd)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{path.name}: weights do not fit a {arch} with {len(classes)} classes: "
                             f"{_first_line(e)}") from e
    meta = {k: v for k, v in blob.items() if k != "state_dict"}
    if not allow_untrained:
        if card.extra.get("trained") is False or not is_trained(meta):
            raise ModelFileError(f"{path.name} has no training record (untrained network): "
                                 "refusing to explain with it")
    model.to(device).eval()
    return model, meta, card


def crops_to_tensor(crops_bgr: Any, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                    channels_last: bool = False, augment: Callable[[torch.Tensor], torch.Tensor] | None = None
                    ) -> torch.Tensor:
    """(B, 224, 224, 3) uint8 BGR aligned crops -> (B, 3, 224, 224) normalised RGB tensor (see NORMALIZATION).

    The one preprocessing of the CNN, for serving (:func:`preprocess`) and training
    (``training.cnn.batch_tensor``), so the two cannot drift apart. ``augment`` (training only)
    acts on the RGB batch scaled to 0-1, before the normalisation.
    """
    arr = np.ascontiguousarray(np.asarray(crops_bgr)[..., ::-1])  # BGR -> RGB
    t = torch.from_numpy(arr).to(device).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    if augment is not None:
        t = augment(t)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    t = ((t - mean) / std).to(dtype)
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
    return t


def preprocess(crop_bgr: Any, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
               channels_last: bool = False) -> torch.Tensor:
    """(224, 224, 3) uint8 BGR aligned crop -> (1, 3, 224, 224) normalised RGB tensor (:func:`crops_to_tensor`)."""
    return crops_to_tensor(np.asarray(crop_bgr)[None], device, dtype, channels_last)
