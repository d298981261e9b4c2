"""The project's own files, shipped inside this package: the profiles (``configs/*.yaml``) and ``data_catalog.yaml``.

They are package data, so every kind of install finds them where it finds the code: a checkout,
an editable install, a virtual environment, ``pip install --user`` (which puts the package under
the user base, not under ``sys.prefix``). The checkout's top-level ``configs`` and
``data_catalog.yaml`` are links to these files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["resource_path"]


def resource_path(name: str) -> Path:
    """``name`` (``configs``, ``data_catalog.yaml``) in this package's folder."""
    return Path(str(files(__name__) / name))
