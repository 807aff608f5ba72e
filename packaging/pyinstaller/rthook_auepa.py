"""PyInstaller run-time hook of the AuE-IPA Monitor bundle: runs before the program's own code.

- The bundle carries only the CUDA libraries that the PyPI build of torch cannot be loaded without
  (not cuDNN's kernels, not triton): it runs its networks on the CPU. CUDA is hidden from torch,
  so a workstation with an NVIDIA GPU takes the CPU path too instead of failing on a missing library.
- The bootloader points LD_LIBRARY_PATH at the bundle's libraries (libstdc++, OpenSSL, zlib, ...);
  programs the monitor starts (OpenFace's FeatureExtraction) get the machine's own value back.
- Qt's plugins come from the bundle, never from another Qt install's QT_PLUGIN_PATH.
"""

import os
import sys

if getattr(sys, "frozen", False):
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    _orig = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if _orig is not None:
        os.environ["LD_LIBRARY_PATH"] = _orig
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
    os.environ.pop("QT_PLUGIN_PATH", None)
    os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
