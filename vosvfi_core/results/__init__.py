"""Result tables (Parquet, explicit schemas, one folder per run) and the Markdown report."""

from vosvfi_core.results.schemas import SCHEMAS, TABLE_FILES
from vosvfi_core.results.tables import read_all_runs, read_table, run_dir, runs_root, table_path, write_table

__all__ = ["SCHEMAS", "TABLE_FILES", "read_all_runs", "read_table", "run_dir", "runs_root", "table_path", "write_table"]
