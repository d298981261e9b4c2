"""Paired comparison of two runs (``vosvfi_core.results.compare``) and the ``vosvfi compare`` command."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from vosvfi_core.commands import compare as compare_command
from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation.metric_registry import METRICS, Metric
from vosvfi_core.results import write_table
from vosvfi_core.results.compare import COLUMNS, bootstrap_interval, compare_model_groups, compare_runs, downstream_scores, metric_direction, write_comparison


def _row(
    run: str, sample: str, value: float | None, *, model: str = "adacof", metric: str = "psnr", dataset: str = "synthetic", protocol: str = "float"
) -> dict:
    return {
        "run_id": run,
        "model": model,
        "dataset": dataset,
        "split": "test",
        "sample": sample,
        "protocol": protocol,
        "metric": metric,
        "value": value,
        "convention": "test",
        "note": None if value is not None else "no weights",
    }


def _run(root: Path, name: str, values: dict[str, float | None], **keys: str) -> Path:
    folder = root / name
    write_table(folder, "eval_results", [_row(name, sample, value, **keys) for sample, value in values.items()])
    return folder


def _write_rows(root: Path, name: str, rows: list[dict]) -> Path:
    write_table(root / name, "eval_results", [{**r, "run_id": name} for r in rows])
    return root / name


# ---- the bootstrap ---------------------------------------------------------------------------


def test_feature_known_delta_with_zero_variance_gives_a_zero_width_interval(tmp_path: Path) -> None:
    base = {f"s{i}": 20.0 + i for i in range(10)}
    a = _run(tmp_path, "a", base)
    b = _run(tmp_path, "b", {s: v + 0.5 for s, v in base.items()})
    (row,) = compare_runs(a, b).to_dict("records")
    assert row["samples"] == 10 and row["mean_a"] == 24.5 and row["mean_b"] == 25.0
    assert row["delta"] == 0.5 and row["ci_low"] == 0.5 and row["ci_high"] == 0.5
    assert row["better"] == "B" and row["significant"] is True and row["direction"] == "higher"


def test_feature_interval_contains_zero_for_symmetric_differences() -> None:
    low, high = bootstrap_interval(np.array([1.0, -1.0] * 10), resamples=4000, seed=3)
    assert low < 0 < high


def test_feature_interval_excludes_zero_for_consistent_gains(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {f"s{i}": 30.0 for i in range(8)})
    b = _run(tmp_path, "b", {f"s{i}": 30.0 + d for i, d in enumerate([0.1, 0.3, 0.2, 0.4, 0.1, 0.2, 0.3, 0.2])})
    (row,) = compare_runs(a, b).to_dict("records")
    assert 0.1 <= row["ci_low"] < row["delta"] < row["ci_high"] <= 0.4
    assert row["significant"] is True


def test_feature_interval_matches_the_normal_approximation() -> None:
    """For many samples the percentile interval is close to mean ± 1.96 s / sqrt(n)."""
    differences = np.random.default_rng(7).normal(1.0, 2.0, size=400)
    low, high = bootstrap_interval(differences, resamples=4000, seed=0)
    half = 1.96 * differences.std(ddof=1) / math.sqrt(len(differences))
    assert abs((high - low) / 2 - half) < 0.1 * half
    assert abs((low + high) / 2 - differences.mean()) < 0.1 * half


def test_feature_bootstrap_is_seeded_and_chunking_does_not_change_it(monkeypatch: pytest.MonkeyPatch) -> None:
    differences = np.random.default_rng(1).normal(size=50)
    first = bootstrap_interval(differences, resamples=500, seed=5)
    assert bootstrap_interval(differences, resamples=500, seed=5) == first
    assert bootstrap_interval(differences, resamples=500, seed=6) != first
    import vosvfi_core.results.compare as module

    monkeypatch.setattr(module, "_BOOTSTRAP_CELLS", 50 * 7)  # 7 resamples per chunk: the same draws, in pieces
    assert bootstrap_interval(differences, resamples=500, seed=5) == first


# ---- pairing, counting, directions -----------------------------------------------------------


def test_cardinality_unpaired_null_and_infinite_samples_are_left_out_and_counted(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"s1": 30.0, "s2": 31.0, "s3": math.inf, "s4": None, "s5": 33.0, "only_a": 40.0})
    b = _run(tmp_path, "b", {"s1": 31.0, "s2": 32.0, "s3": 35.0, "s4": 30.0, "s5": 34.0, "only_b1": 1.0, "only_b2": 2.0})
    (row,) = compare_runs(a, b).to_dict("records")
    assert (row["samples"], row["only_a"], row["only_b"], row["infinite"], row["null"]) == (3, 1, 2, 1, 1)
    assert row["mean_a"] == pytest.approx(94.0 / 3) and row["delta"] == pytest.approx(1.0)


def test_cardinality_one_row_per_dataset_and_metric(tmp_path: Path) -> None:
    rows = [_row("x", s, 30.0 + i, dataset=d, metric=m) for i, s in enumerate(["s1", "s2"]) for d in ("synthetic", "davis") for m in ("psnr", "ssim")]
    rows += [_row("x", "s1", 20.0, model="frame_average")]
    a, b = _write_rows(tmp_path, "a", rows), _write_rows(tmp_path, "b", rows)
    frame = compare_runs(a, b)
    assert list(frame.columns) == COLUMNS
    # adacof: 2 data sets x 2 metrics; frame_average: 1 — every model name both runs have.
    assert len(frame) == 5
    assert set(zip(frame["model_a"], frame["dataset"], frame["metric"])) >= {("adacof", "davis", "ssim"), ("frame_average", "synthetic", "psnr")}
    assert (frame["delta"] == 0).all() and (frame["better"] == "tie").all() and not frame["significant"].any()
    assert len(compare_runs(a, b, metric_filter=["ssim"])) == 2


def test_feature_direction_lower_is_better(tmp_path: Path) -> None:
    def toy_distance() -> Metric:
        return Metric("toy_distance", False, "test", lambda out, truth, item: 0.0)

    METRICS.register("toy_distance")(toy_distance)
    try:
        assert metric_direction("toy_distance") == "lower"
        a = _run(tmp_path, "a", {"s1": 0.3, "s2": 0.4}, metric="toy_distance")
        b = _run(tmp_path, "b", {"s1": 0.2, "s2": 0.3}, metric="toy_distance")
        (row,) = compare_runs(a, b).to_dict("records")
    finally:
        METRICS.unregister("toy_distance")
    assert row["delta"] == pytest.approx(-0.1) and row["direction"] == "lower"
    assert row["better"] == "B"  # B's distance is lower


def test_feature_direction_of_registered_and_unknown_metrics() -> None:
    assert metric_direction("psnr") == "higher" and metric_direction("ssim") == "higher"
    assert metric_direction("never_registered_metric") == "higher"


def test_exception_direction_of_a_metric_that_needs_an_argument_is_an_error() -> None:
    def toy_scaled(*, scale: float) -> Metric:
        return Metric("toy_scaled", False, "test", lambda out, truth, item: 0.0)

    METRICS.register("toy_scaled")(toy_scaled)
    try:
        with pytest.raises(
            VosvfiError, match=r"^metric 'toy_scaled': cannot tell whether higher or lower is better \(metric toy_scaled: scale: Field required\)$"
        ):
            metric_direction("toy_scaled")
    finally:
        METRICS.unregister("toy_scaled")


def test_feature_worse_b_on_a_higher_metric(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"s1": 30.0, "s2": 32.0})
    b = _run(tmp_path, "b", {"s1": 29.0, "s2": 31.0})
    (row,) = compare_runs(a, b).to_dict("records")
    assert row["better"] == "A" and row["delta"] == -1.0


def test_feature_models_picked_in_each_run(tmp_path: Path) -> None:
    rows = [_row("x", "s1", 30.0), _row("x", "s2", 32.0), _row("x", "s1", 28.0, model="frame_average"), _row("x", "s2", 29.0, model="frame_average")]
    run = _write_rows(tmp_path, "one", rows)
    (row,) = compare_runs(run, run, model_a="frame_average", model_b="adacof").to_dict("records")
    assert (row["model_a"], row["model_b"], row["delta"]) == ("frame_average", "adacof", 2.5)
    (row,) = compare_runs(run, run, model_a="frame_average").to_dict("records")  # one name alone: the same in both
    assert row["model_b"] == "frame_average"


def test_feature_protocol_picks_rows(tmp_path: Path) -> None:
    rows = [_row("x", "s1", 30.0), _row("x", "s1", 10.0, protocol="uint8")]
    a = _write_rows(tmp_path, "a", rows)
    b = _write_rows(tmp_path, "b", [_row("x", "s1", 31.0), _row("x", "s1", 15.0, protocol="uint8")])
    assert compare_runs(a, b, protocol="uint8")["delta"].tolist() == [5.0]


def test_exception_bad_requests(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"s1": 30.0})
    b = _run(tmp_path, "b", {"s1": 30.0}, model="other")
    with pytest.raises(VosvfiError, match="share no model name .*--model-a"):
        compare_runs(a, b)
    with pytest.raises(VosvfiError, match="has no model 'nope'; its models: adacof"):
        compare_runs(a, b, model_a="nope", model_b="other")
    with pytest.raises(VosvfiError, match="no results for protocol 'uint8'; it has: float"):
        compare_runs(a, b, model_a="adacof", model_b="other", protocol="uint8")
    with pytest.raises(VosvfiError, match="metric 'lpips' is in neither run"):
        compare_runs(a, b, model_a="adacof", model_b="other", metric_filter=["lpips"])
    with pytest.raises(VosvfiError, match="has no evaluation results"):
        compare_runs(a, tmp_path / "missing")


# ---- writing -----------------------------------------------------------------------------------


def test_feature_write_comparison_parquet_and_markdown(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"s1": 30.0, "s2": 31.0, "s3": 32.0})
    b = _run(tmp_path, "b", {"s1": 31.0, "s2": 32.5, "s3": 33.0, "extra": 1.0})
    frame = compare_runs(a, b, resamples=300)
    parquet, markdown = write_comparison(frame, tmp_path / "out")
    back = pq.read_table(parquet).to_pandas()
    pd.testing.assert_frame_equal(back, frame, check_like=False)
    assert pq.read_schema(parquet).metadata[b"vosvfi.resamples"] == b"300"
    text = markdown.read_text()
    assert "A = run `a`, B = run `b`" in text and "300 resamples" in text
    assert "| adacof | synthetic | psnr | 3 | 31.00 | 32.17 | 1.17 |" in text
    assert "1 in B only" in text
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["comparison.md", "comparison.parquet"]


# ---- the command -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vosvfi")
    compare_command.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return args.handler(args)


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("VOSVFI_RUNS_ROOT", str(root))
    _run(root, "plain-s0", {"s1": 30.0, "s2": 31.0})
    _run(root, "vos-s0", {"s1": 30.5, "s2": 31.5})
    return root


def test_smoke_command_by_run_id_prints_and_writes(runs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(["compare", "plain-s0", "vos-s0", "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "A = run `plain-s0`, B = run `vos-s0`" in out and "| adacof | synthetic | psnr | 2 |" in out
    folder = runs / "compare-plain-s0-vs-vos-s0"
    assert (folder / "comparison.parquet").is_file() and (folder / "comparison.md").read_text() in out


def test_feature_command_by_folder_and_output(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    assert _main(["compare", str(runs / "plain-s0"), str(runs / "vos-s0"), "-o", str(out), "--metric", "psnr"]) == 0
    assert pq.read_table(out / "comparison.parquet").num_rows == 1


def test_exception_command_refuses_existing_output_before_work(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _main(["compare", "plain-s0", "vos-s0"]) == 0
    md = runs / "compare-plain-s0-vs-vos-s0" / "comparison.md"
    md.write_text("edited")

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("compared before checking the output")

    monkeypatch.setattr(compare_command, "compare_runs", no_work)
    with pytest.raises(VosvfiError, match=r"output folder .*compare-plain-s0-vs-vos-s0 exists; pass --overwrite"):
        _main(["compare", "plain-s0", "vos-s0"])
    assert md.read_text() == "edited"
    monkeypatch.undo()
    monkeypatch.setenv("VOSVFI_RUNS_ROOT", str(runs))
    assert _main(["compare", "plain-s0", "vos-s0", "--overwrite"]) == 0
    assert md.read_text() != "edited"


def test_exception_command_bad_runs(runs: Path, tmp_path: Path) -> None:
    with pytest.raises(VosvfiError, match="run 'nope' not found"):
        _main(["compare", "plain-s0", "nope"])
    with pytest.raises(VosvfiError, match="run folder not found"):
        _main(["compare", "plain-s0", str(tmp_path / "no" / "where")])
    (runs / "empty").mkdir()
    with pytest.raises(VosvfiError, match="has no evaluation results"):
        _main(["compare", "plain-s0", "empty"])
    with pytest.raises(VosvfiError, match="same run"):
        _main(["compare", "plain-s0", str(runs / "plain-s0")])
    with pytest.raises(VosvfiError, match="--resamples must be at least 1"):
        _main(["compare", "plain-s0", "vos-s0", "--resamples", "0"])


def test_feature_downstream_sequences_pair_like_samples() -> None:
    """Per-sequence J&F rows join the comparison; per-frame rows do not. Sequence s gains exactly 0.01 + 0.01·s."""
    rows = []
    for model, gain in (("plain", 0.0), ("vos", 1.0)):
        for s in range(3):
            rows.append(
                {
                    "model": model,
                    "dataset": "davis",
                    "sample": f"s{s}",
                    "frame": None,
                    "check": "davis_jf",
                    "metric": "JF_mean",
                    "value": 0.5 + gain * (0.01 + 0.01 * s),
                }
            )
            rows.append({"model": model, "dataset": "davis", "sample": f"s{s}", "frame": 1, "check": "davis_jf", "metric": "J", "value": 0.1})
    scores = downstream_scores(pd.DataFrame(rows))
    assert sorted(scores["metric"].unique()) == ["davis_jf.JF_mean"] and len(scores) == 6
    frame = compare_model_groups(scores, ["plain"], ["vos"])
    (row,) = frame.itertuples()
    assert row.samples == 3 and row.delta == pytest.approx(0.02) and row.significant
    assert 0.01 - 1e-12 <= row.ci_low <= row.ci_high <= 0.03 + 1e-12  # the bootstrap means of {0.01, 0.02, 0.03}
