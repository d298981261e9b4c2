"""Result tables (schemas, atomic writes, reading every run) and the Markdown report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from vosvfi_core.errors import VosvfiError
from vosvfi_core.results import SCHEMAS, read_all_runs, read_table, run_dir, write_table
from vosvfi_core.results.report import ReportInputs, build_report, load_baselines, markdown_table
from vosvfi_core.results.summaries import eval_summary, learning_curves
from vosvfi_core.results.tables import remove_partial_files


def _eval_row(run_id: str, sample: str, value: float | None, model: str = "adacof", metric: str = "psnr", note: str | None = None) -> dict:
    common = {"run_id": run_id, "model": model, "dataset": "synthetic", "split": "test", "sample": sample, "protocol": "float"}
    return {**common, "metric": metric, "value": value, "convention": "test", "note": note}


def test_feature_tables_have_the_declared_schema_and_read_back(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r1", "eval_results", [_eval_row("r1", "a", 30.0), _eval_row("r1", "b", 32.0)])
    assert pq.read_schema(path).equals(SCHEMAS["eval_results"], check_metadata=False)
    frame = read_table(path, "eval_results")
    assert list(frame["value"]) == [30.0, 32.0]
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_exception_rows_must_match_the_schema(tmp_path: Path) -> None:
    row = _eval_row("r1", "a", 30.0)
    with pytest.raises(ValueError, match="missing columns \\['value'\\]"):
        write_table(tmp_path, "eval_results", [{k: v for k, v in row.items() if k != "value"}])
    with pytest.raises(ValueError, match="unexpected columns \\['extra'\\]"):
        write_table(tmp_path, "eval_results", [{**row, "extra": 1}])
    with pytest.raises(VosvfiError, match="unknown table"):
        write_table(tmp_path, "nope", [])
    assert not list(tmp_path.glob("*.parquet"))


def test_exception_read_table_refuses_another_schema(tmp_path: Path) -> None:
    path = write_table(tmp_path, "train_history", [])
    with pytest.raises(VosvfiError, match="does not have the eval_results schema"):
        read_table(path, "eval_results")


def test_feature_read_all_runs_concatenates_runs(tmp_path: Path) -> None:
    write_table(tmp_path / "a", "eval_results", [_eval_row("a", "s1", 30.0)])
    write_table(tmp_path / "b", "eval_results", [_eval_row("b", "s1", 31.0), _eval_row("b", "s2", 33.0)])
    frame = read_all_runs("eval_results", tmp_path)
    assert sorted(frame["run_id"]) == ["a", "b", "b"]
    assert frame.groupby("run_id")["value"].mean().to_dict() == {"a": 30.0, "b": 32.0}
    assert list(read_all_runs("downstream_results", tmp_path).columns) == SCHEMAS["downstream_results"].names


def test_exception_run_ids_are_checked(tmp_path: Path) -> None:
    assert run_dir("demo-2", tmp_path) == tmp_path / "demo-2"
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(VosvfiError, match="run id"):
            run_dir(bad, tmp_path)


def test_feature_partial_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    partial = tmp_path / "checkpoints" / ".last.k2j3.tmp.pth"
    partial.write_bytes(b"half")
    keep = tmp_path / "checkpoints" / "last.pth"
    keep.write_bytes(b"whole")
    assert remove_partial_files(tmp_path) == [partial]
    assert keep.exists() and not partial.exists()


def test_feature_summary_and_report() -> None:
    rows = [
        _eval_row("r", "a", 30.0),
        _eval_row("r", "b", 34.0),
        _eval_row("r", "a", 20.0, "frame_average"),
        _eval_row("r", "b", float("inf"), "frame_average"),
    ]
    rows += [_eval_row("r", s, 0.9, model, "ssim") for s in "ab" for model in ("adacof", "frame_average")]
    rows += [_eval_row("r", s, None, "adacof", "lpips", note="no weights file") for s in "ab"]
    summary = eval_summary(pd.DataFrame(rows))
    by_key = {(r["model"], r["metric"]): r for r in summary}
    assert by_key["adacof", "psnr"]["mean"] == 32.0 and by_key["adacof", "psnr"]["samples"] == 2
    assert by_key["frame_average", "psnr"]["mean"] == 20.0  # identical frames (inf dB) are left out of the mean
    assert by_key["adacof", "lpips"]["samples"] == 0 and by_key["adacof", "lpips"]["note"] == "no weights file"
    baselines = load_baselines()
    assert {b.dataset for b in baselines} >= {"vimeo90k", "middlebury_other", "ucf101"}
    assert all("CDFI" in b.source for b in baselines)
    report = build_report(
        ReportInputs(run_id="r", profile="demo", run_folder=Path("/runs/r"), eval_summary=summary, tables=[Path("/runs/r/eval_results.parquet")])
    )
    assert "| synthetic | adacof | this run | 2 | — | 32.00 | 0.9 |" in report  # a column per metric, pivoted
    assert "- `lpips`: no weights file" in report
    assert "Source: Ding et al." in report
    assert "/runs/r/eval_results.parquet" in report
    assert markdown_table([]) == "_(no rows)_"


def test_exception_a_run_folder_in_use_is_refused(tmp_path) -> None:
    import subprocess
    import sys
    import textwrap

    from vosvfi_core.errors import VosvfiError
    from vosvfi_core.results.tables import exclusive_run

    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from vosvfi_core.results.tables import exclusive_run
            with exclusive_run({str(tmp_path)!r}):
                print("held", flush=True)
                sys.stdin.readline()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(VosvfiError, match="is in use by another vosvfi run"), exclusive_run(tmp_path):
            pass
    finally:
        holder.communicate("done\n", timeout=30)
    with exclusive_run(tmp_path):  # released when the holder finished
        pass


def test_feature_learning_curves_keep_the_psnr_rows_and_show_in_the_report(tmp_path: Path) -> None:
    history = pd.DataFrame(
        [
            {"model": "m", "step": step, "epoch": step // 2, "quantity": quantity, "value": value}
            for step, quantity, value in [(0, "psnr:middlebury_other", 28.0), (1, "loss", 0.2), (2, "val_psnr", 25.5), (2, "psnr:middlebury_other", 29.25)]
        ]
    )
    curves = learning_curves(history)
    assert curves == [
        {"model": "m", "curve": "psnr:middlebury_other", "step": 0, "value": 28.0},
        {"model": "m", "curve": "psnr:middlebury_other", "step": 2, "value": 29.25},
        {"model": "m", "curve": "val_psnr", "step": 2, "value": 25.5},
    ]
    report = build_report(ReportInputs(run_id="r", profile="p", run_folder=tmp_path, learning_curves=curves))
    assert "| curve | model | 0 | 2 |\n|---|---|---|---|\n| psnr:middlebury_other | m | 28.00 | 29.25 |\n| val_psnr | m |  | 25.50 |" in report
    shuffled = build_report(ReportInputs(run_id="r", profile="p", run_folder=tmp_path, learning_curves=curves[::-1]))
    assert "| curve | model | 0 | 2 |" in shuffled  # steps in order whatever the rows' order
