"""Data stage tasks: generate the demo tree, download and verify catalog data sets, adopt local copies."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from tasks.caching import CACHED
from vosvfi_core.data.datasets.folder import FolderTriplets
from vosvfi_core.data.download import ensure_dataset
from vosvfi_core.data.local import local_copy
from vosvfi_core.data.sets import DEMO_CATALOG_ENTRY, folder_root
from vosvfi_core.data.synthetic import DemoDataConfig
from vosvfi_core.masks import MASKS_FOLDER
from vosvfi_core.provenance import DataRef, Produced, Snapshot

__all__ = ["fetch_dataset", "generate_demo_data", "use_local_copy", "use_local_folder"]


def _data_snapshot(folder: Path) -> Snapshot:
    """The data set's files, less the masks folder that the masks stage writes into later."""
    return Snapshot.of(*sorted(p for p in Path(folder).iterdir() if p.name != MASKS_FOLDER))


@task(name="generate-demo-data", **CACHED)
def generate_demo_data(config: DemoDataConfig, data_root: Path) -> Produced:
    folder = ensure_dataset(DEMO_CATALOG_ENTRY, data_root, generator=config, progress=False)
    get_run_logger().info("demo data in %s", folder)
    return Produced(DataRef(DEMO_CATALOG_ENTRY, Path(folder)), _data_snapshot(Path(folder)))


# No Prefect retries: the downloader is the one layer that retries, and only transient errors.
@task(name="fetch-dataset", task_run_name="fetch-{name}", **CACHED)
def fetch_dataset(name: str, data_root: Path) -> Produced:
    folder = ensure_dataset(name, data_root, progress=False)
    get_run_logger().info("data set %s verified in %s", name, folder)
    return Produced(DataRef(name, Path(folder)), _data_snapshot(Path(folder)))


@task(name="local-dataset", task_run_name="local-{name}", **CACHED)
def use_local_copy(name: str, catalog_entry: str, folder: Path) -> Produced:
    """A copy the user already has (``data.local``): its layout checked, read in place."""
    checked = local_copy(name, catalog_entry, folder)
    get_run_logger().info("data set %s: using the local copy %s", name, checked)
    return Produced(DataRef(catalog_entry, checked), _data_snapshot(checked))


@task(name="local-folder", task_run_name="folder-{name}", **CACHED)
def use_local_folder(name: str) -> Produced:
    """A user's own folder of triplets (``folder:PATH``): its layout checked, read in place."""
    folder = folder_root(name)
    FolderTriplets(folder)  # the layout check: one line naming the first missing file
    get_run_logger().info("data set %s: triplets in %s", name, folder)
    return Produced(DataRef(name, folder), Snapshot.of(folder))
