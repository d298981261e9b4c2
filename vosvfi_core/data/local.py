"""Where each data set of a run comes from, and data sets the user already has, read in place.

A data set is one of four kinds of source (:func:`data_source`): a user's folder of triplets
(``folder:PATH``), the generated demo tree, a copy named in the profile (``data.local``), or a
catalog entry downloaded under the data root. The data stage, ``vosvfi train`` and the run plan
all ask this module, so the four never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from vosvfi_core.data.catalog import load_catalog
from vosvfi_core.data.datasets.folder import FolderTriplets
from vosvfi_core.data.download import marker_problem
from vosvfi_core.data.layout import check_layout
from vosvfi_core.data.sets import data_set, folder_root
from vosvfi_core.errors import VosvfiError

if TYPE_CHECKING:
    from vosvfi_core.config import Profile

__all__ = ["DataSource", "check_source", "data_source", "local_copy", "prepared_folder"]


@dataclass(frozen=True)
class DataSource:
    name: str  # the data set's name (vosvfi_core.data.sets)
    kind: Literal["folder", "generated", "local", "catalog"]
    catalog: str  # the catalog entry that holds its files ("folder" for a folder of triplets)
    folder: Path | None = None  # the folder read in place (folder and local sources)


def data_source(profile: Profile, name: str) -> DataSource:
    """Where the data set ``name`` comes from under ``profile``."""
    spec = data_set(name)
    if spec.local_folder:
        return DataSource(name, "folder", spec.catalog, folder_root(name))
    if spec.generated:
        return DataSource(name, "generated", spec.catalog)
    local = profile.data.local.get(name) or profile.data.local.get(spec.catalog)
    if local is not None:
        return DataSource(name, "local", spec.catalog, Path(local).expanduser().absolute())
    return DataSource(name, "catalog", spec.catalog)


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


def check_source(source: DataSource) -> None:
    """Refuse a source read in place that is not there or not laid out as it should be (one line naming it).

    Cheap: file names and image headers only. Generated and catalog sources are made by the
    data stage, so there is nothing to check before it runs.
    """
    if source.kind == "folder" and source.folder is not None:
        FolderTriplets(source.folder)
    elif source.kind == "local" and source.folder is not None:
        local_copy(source.name, source.catalog, source.folder)


def prepared_folder(profile: Profile, name: str, root: Path) -> Path | None:
    """The folder of data set ``name`` as the data stage leaves it: ``folder:PATH`` itself, ``data.local``,
    else its catalog folder under ``root``; None when that is not (completely) in place.
    """
    source = data_source(profile, name)
    if source.kind == "folder":
        return source.folder if source.folder is not None and source.folder.is_dir() else None
    if source.kind == "local":
        return local_copy(name, source.catalog, source.folder)  # type: ignore[arg-type]
    entry = load_catalog().dataset(source.catalog)
    problem = marker_problem(entry, root, generator=profile.data.synthetic if source.kind == "generated" else None)
    return None if problem else entry.directory_under(root)
