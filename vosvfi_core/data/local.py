"""Data sets the user already has: a folder named in the profile (``data.local``), read in place."""

from __future__ import annotations

from pathlib import Path

from vosvfi_core.data.catalog import load_catalog
from vosvfi_core.data.layout import check_layout
from vosvfi_core.errors import VosvfiError

__all__ = ["local_copy"]


def local_copy(name: str, catalog_entry: str, folder: Path) -> Path:
    """``folder`` as the data set ``name`` (catalog entry ``catalog_entry``), after checking its layout."""
    folder = Path(folder).expanduser().absolute()
    if not folder.is_dir():
        raise VosvfiError(f"data.local.{name}: folder not found: {folder}")
    problems = check_layout(folder, load_catalog().dataset(catalog_entry).layout)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VosvfiError(f"data.local.{name}: {folder} is not laid out as the catalog's {catalog_entry}: {problems[0]}{more}")
    return folder
