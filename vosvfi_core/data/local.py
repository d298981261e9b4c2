"""Data sets the user already has: a folder named in the profile (``data.local``), read in place."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vosvfi_core.data.catalog import load_catalog
from vosvfi_core.data.layout import check_layout
from vosvfi_core.errors import VosvfiError

if TYPE_CHECKING:
    from vosvfi_core.config import Profile

__all__ = ["local_copy", "prepared_folder"]


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


def prepared_folder(profile: Profile, name: str, root: Path) -> Path | None:
    """The folder of data set ``name`` as the data stage leaves it: ``folder:PATH`` itself, ``data.local``,
    else its catalog folder under ``root``; None when that is not (completely) in place.
    """
    from vosvfi_core.data.datasets.folder import folder_root
    from vosvfi_core.data.download import marker_problem
    from vosvfi_core.data.sets import data_set  # data.sets imports the dataset classes, which import this package

    spec = data_set(name)
    if spec.local_folder:
        folder = folder_root(name)
        return folder if folder.is_dir() else None
    local = profile.data.local.get(name) or profile.data.local.get(spec.catalog)
    if local is not None:
        return local_copy(name, spec.catalog, local)
    entry = load_catalog().dataset(spec.catalog)
    problem = marker_problem(entry, root, generator=profile.data.synthetic if spec.generated else None)
    return None if problem else entry.directory_under(root)
