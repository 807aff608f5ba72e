"""PyInstaller hook for torchvision (this project's, used instead of the contributed one).

torchvision 0.29 names its compiled operators ``_C_stable.so`` and ``image_stable.so`` and loads them
from its own folder by file name (``extension._load_library``); the contributed hook still asks for
the module ``torchvision._C``, so the operators were left out and ``import torchvision`` failed in
the bundle ("operator torchvision::nms does not exist").
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

module_collection_mode = "pyz+py"
binaries = collect_dynamic_libs("torchvision", search_patterns=["*.so", "*.so.*"])
