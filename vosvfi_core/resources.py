"""Finding the project's own files (the profiles in ``configs/``, ``data_catalog.yaml``) wherever vosvfi is installed.

From a checkout or an editable install they sit beside the packages. A regular install
(``pip install .``) copies them to ``<prefix>/share/vosvfi/`` (``[tool.setuptools.data-files]``
in pyproject.toml), since they are not inside any package.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["resource_path"]

_CHECKOUT = Path(__file__).resolve().parents[1]
_INSTALLED = Path(sys.prefix) / "share" / "vosvfi"


def resource_path(name: str) -> Path:
    """``name`` (``configs``, ``data_catalog.yaml``) in the checkout, else in the installed share folder."""
    for base in (_CHECKOUT, _INSTALLED):
        if (base / name).exists():
            return base / name
    return _CHECKOUT / name  # absent everywhere: callers report the path they looked at
