"""Writing and reading the Parquet tables of ``runs/<run_id>/``, atomically and schema-checked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.provenance import is_partial_file
from vosvfi_core.results.schemas import SCHEMAS, TABLE_FILES

__all__ = [
    "FIGURES_FOLDER",
    "PICTURES_FOLDER",
    "check_run_id",
    "exclusive_run",
    "existing_tables",
    "pictures_dir",
    "read_all_runs",
    "read_table",
    "remove_partial_files",
    "run_dir",
    "runs_root",
    "table_path",
    "write_table",
]

_RUN_LOCK = ".run.lock"
# Beside the tables in a run's folder: example pictures, one folder per data set, and the downstream checks' plots.
PICTURES_FOLDER = "pictures"
FIGURES_FOLDER = "figures"

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def runs_root() -> Path:
    """``$VOSVFI_RUNS_ROOT``, else ``runs/`` under the working directory."""
    return Path(os.environ.get("VOSVFI_RUNS_ROOT") or Path.cwd() / "runs")


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise VosvfiError(f"run id {run_id!r} must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return run_id


def run_dir(run_id: str, root: Path | None = None) -> Path:
    return (root or runs_root()) / check_run_id(run_id)


def pictures_dir(run_folder: Path, dataset: str) -> Path:
    """The folder of a data set's example pictures in a run's folder (its name made a safe folder name)."""
    return Path(run_folder) / PICTURES_FOLDER / re.sub(r"[^A-Za-z0-9._-]+", "_", dataset)


def _schema(table: str) -> pa.Schema:
    if table not in SCHEMAS:
        raise VosvfiError(f"unknown table {table!r}; known tables: {', '.join(SCHEMAS)}")
    return SCHEMAS[table]


def table_path(run_folder: Path, table: str) -> Path:
    _schema(table)
    return run_folder / TABLE_FILES[table]


def write_table(run_folder: Path, table: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``rows`` (dicts with exactly the schema's columns) as ``<run_folder>/<table>.parquet``."""
    schema = _schema(table)
    expected = set(schema.names)
    for index, row in enumerate(rows):
        if set(row) != expected:
            missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
            raise ValueError(f"{table} row {index}: missing columns {missing}, unexpected columns {extra}")
    arrow = pa.Table.from_pylist(list(rows), schema=schema)
    target = table_path(run_folder, table)
    with atomic_path(target) as tmp:
        pq.write_table(arrow, tmp)
    return target


def read_table(path: Path, table: str) -> pd.DataFrame:
    schema = _schema(table)
    arrow = pq.read_table(path)
    if not arrow.schema.equals(schema, check_metadata=False):
        raise VosvfiError(f"{path} does not have the {table} schema (columns {arrow.schema.names})")
    return arrow.to_pandas()


def read_all_runs(table: str, root: Path | None = None) -> pd.DataFrame:
    """Every run's ``table`` in one DataFrame (empty, with the schema's columns, if there is none)."""
    schema = _schema(table)
    files = sorted(str(p) for p in (root or runs_root()).glob(f"*/{TABLE_FILES[table]}"))
    if not files:
        return schema.empty_table().to_pandas()
    return ds.dataset(files, schema=schema, format="parquet").to_table().to_pandas()


def existing_tables(run_folder: Path) -> dict[str, Path]:
    """The tables present in a run's folder, by name."""
    return {name: run_folder / file for name, file in TABLE_FILES.items() if (run_folder / file).is_file()}


def remove_partial_files(folder: Path) -> list[Path]:
    """Delete the temporary files that a killed writer left under ``folder``; returns them."""
    if not Path(folder).is_dir():
        return []
    partial = [p for p in Path(folder).rglob(".*") if p.is_file() and is_partial_file(p.name)]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


@contextlib.contextmanager
def exclusive_run(run_folder: Path) -> Iterator[None]:
    """Hold the run folder for one process at a time; a second run with the same id is refused.

    Two runs writing one folder would remove each other's in-flight temporary files and mix their
    tables. The lock is advisory (``flock``) and goes away with the process, killed or not.
    """
    run_folder = Path(run_folder)
    run_folder.mkdir(parents=True, exist_ok=True)
    with open(run_folder / _RUN_LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VosvfiError(f"run folder {run_folder} is in use by another vosvfi run; wait for it or pick another --run-id") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
