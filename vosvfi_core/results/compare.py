"""Paired comparison of two runs' evaluation results: mean per (data set, metric), delta B − A and its bootstrap interval.

Both runs score the same samples, so the comparison pairs them: each sample gives one difference
B − A, and the uncertainty of the mean difference comes from resampling the samples (a paired
bootstrap: draw n samples with replacement, take the mean difference, repeat; the 2.5th and
97.5th percentiles are the 95 % interval). Pairing removes the spread between easy and hard
samples, which both runs share, so it sees differences an unpaired comparison of means would not.

Left out, and counted in the table: samples scored in one run only, values that are null (the
metric could not be computed) and infinite values (PSNR of identical frames).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.results.schemas import TABLE_FILES
from vosvfi_core.results.tables import read_table

__all__ = [
    "COLUMNS",
    "bootstrap_interval",
    "compare_model_groups",
    "compare_runs",
    "comparison_markdown",
    "downstream_scores",
    "metric_direction",
    "write_comparison",
]

COLUMNS = [
    "run_a",
    "model_a",
    "run_b",
    "model_b",
    "dataset",
    "split",
    "protocol",
    "metric",
    "direction",  # "higher" or "lower" is better
    "samples",  # pairs with a finite value in both runs
    "mean_a",
    "mean_b",
    "delta",  # mean_b - mean_a over the pairs
    "ci_low",  # paired bootstrap 95 % interval of the mean delta
    "ci_high",
    "better",  # "A", "B" or "tie", by the mean delta and the direction
    "significant",  # the interval excludes 0
    "only_a",  # samples scored in run A only (left out)
    "only_b",  # samples scored in run B only (left out)
    "infinite",  # pairs left out for an infinite value in either run
    "null",  # pairs left out for a null value in either run
]
_KEYS = ["dataset", "split", "protocol", "metric", "sample"]
_BOOTSTRAP_CELLS = 4_000_000  # resampled indices held at once (memory bound for large data sets)


def metric_direction(metric: str) -> str:
    """``"higher"`` or ``"lower"`` is better: the registered metric's, else ``"higher"`` (like PSNR).

    A registered metric that cannot be built from its name alone (a required argument) is an
    error naming it: its direction is unknown, and guessing could call the worse model better.
    """
    from vosvfi_core.evaluation.metric_registry import METRICS  # the registry imports torch; only needed here

    if metric not in METRICS:
        return "higher"
    try:
        return METRICS.build({"type": metric}).direction
    except VosvfiError as error:
        raise VosvfiError(f"metric {metric!r}: cannot tell whether higher or lower is better ({error})") from None


def bootstrap_interval(differences: np.ndarray, *, resamples: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``differences`` over ``resamples`` resamplings with replacement."""
    n = len(differences)
    if n == 0:
        return math.nan, math.nan
    if resamples < 1:
        raise VosvfiError(f"bootstrap resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = differences[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _results(run: Path) -> pd.DataFrame:
    path = Path(run) / TABLE_FILES["eval_results"]
    if not path.is_file():
        raise VosvfiError(f"run {run} has no evaluation results ({path} is missing); run its evaluate stage first")
    return read_table(path, "eval_results")


def _models(frame: pd.DataFrame, run: Path, model: str | None) -> list[str]:
    present = sorted(frame["model"].unique())
    if model is not None and model not in present:
        raise VosvfiError(f"run {run} has no model {model!r}; its models: {', '.join(present) or 'none'}")
    return [model] if model is not None else present


def _model_pairs(a: pd.DataFrame, b: pd.DataFrame, run_a: Path, run_b: Path, model_a: str | None, model_b: str | None) -> list[tuple[str, str]]:
    if model_a is None and model_b is None:
        common = sorted(set(_models(a, run_a, None)) & set(_models(b, run_b, None)))
        if not common:
            raise VosvfiError(
                f"runs {run_a.name} and {run_b.name} share no model name (A: {', '.join(_models(a, run_a, None))}; "
                f"B: {', '.join(_models(b, run_b, None))}); pick one in each with --model-a and --model-b"
            )
        return [(m, m) for m in common]
    # One model named: the other run's model of the same name.
    name_a, name_b = model_a or model_b, model_b or model_a
    return [(_models(a, run_a, name_a)[0], _models(b, run_b, name_b)[0])]


def _values(frame: pd.DataFrame, run: Path, model: str) -> pd.Series:
    rows = frame[frame["model"] == model]
    duplicated = rows.duplicated(_KEYS)
    if duplicated.any():
        first = rows[duplicated].iloc[0]
        raise VosvfiError(f"run {run}: model {model!r} has several {first['metric']} rows for sample {first['sample']!r} of {first['dataset']}")
    return rows.set_index(_KEYS)["value"].astype(float)


def _by_group(values: pd.Series) -> dict[tuple[str, ...], pd.Series]:
    """(data set, split, protocol, metric) → that group's values indexed by sample."""
    return {key: group.droplevel(_KEYS[:-1]) for key, group in values.groupby(level=_KEYS[:-1], sort=False)}


def _group_row(a: pd.Series, b: pd.Series, *, resamples: int, seed: int) -> dict[str, Any]:
    """Statistics of one (data set, split, protocol, metric): ``a`` and ``b`` indexed by sample."""
    paired = a.index.intersection(b.index)
    va, vb = a.loc[paired].to_numpy(), b.loc[paired].to_numpy()
    null = np.isnan(va) | np.isnan(vb)
    infinite = ~null & (np.isinf(va) | np.isinf(vb))
    keep = ~null & ~infinite
    va, vb = va[keep], vb[keep]
    low, high = bootstrap_interval(vb - va, resamples=resamples, seed=seed)
    n = int(keep.sum())
    return {
        "samples": n,
        "mean_a": float(va.mean()) if n else math.nan,
        "mean_b": float(vb.mean()) if n else math.nan,
        "delta": float((vb - va).mean()) if n else math.nan,
        "ci_low": low,
        "ci_high": high,
        "only_a": len(a.index.difference(b.index)),
        "only_b": len(b.index.difference(a.index)),
        "infinite": int(infinite.sum()),
        "null": int(null.sum()),
    }


def _better(delta: float, direction: str) -> str:
    if math.isnan(delta) or delta == 0:
        return "tie"
    return "B" if (delta > 0) == (direction == "higher") else "A"


def _compared(
    groups_a: dict[tuple[str, ...], pd.Series], groups_b: dict[tuple[str, ...], pd.Series], identity: dict[str, str], *, resamples: int, seed: int
) -> list[dict[str, Any]]:
    """One row of :data:`COLUMNS` per (data set, split, protocol, metric) either side has; ``identity`` fills the run and model columns."""
    empty = pd.Series([], dtype=float)
    rows = []
    for key in sorted(set(groups_a) | set(groups_b)):
        dataset, split, protocol, metric = key
        direction = metric_direction(metric)
        stats = _group_row(groups_a.get(key, empty), groups_b.get(key, empty), resamples=resamples, seed=seed)
        significant = bool(stats["samples"] and not (stats["ci_low"] <= 0 <= stats["ci_high"]))
        group = {"dataset": dataset, "split": split, "protocol": protocol, "metric": metric, "direction": direction}
        rows.append({**identity, **group, **stats, "better": _better(stats["delta"], direction), "significant": significant})
    return rows


def _frame(rows: list[dict[str, Any]], *, resamples: int, seed: int) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update({"resamples": resamples, "seed": seed, "level": 0.95})
    return frame


def compare_runs(
    run_a: Path,
    run_b: Path,
    *,
    model_a: str | None = None,
    model_b: str | None = None,
    metric_filter: Sequence[str] | None = None,
    protocol: str = "float",
    resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (model pair, data set, split, metric) of ``protocol``, with the columns :data:`COLUMNS`.

    By default every model name present in both runs is compared with its namesake; ``model_a``
    and ``model_b`` pick one model in each run (naming one alone picks the same name in both).
    ``metric_filter`` keeps those metrics only. Each group's bootstrap starts from ``seed``, so a
    row does not depend on which other rows are computed.
    """
    run_a, run_b = Path(run_a), Path(run_b)
    if resamples < 1:
        raise VosvfiError(f"bootstrap resamples must be at least 1, got {resamples}")
    a, b = _results(run_a), _results(run_b)
    pairs = _model_pairs(a, b, run_a, run_b, model_a, model_b)
    for frame, run in ((a, run_a), (b, run_b)):
        if not (frame["protocol"] == protocol).any():
            raise VosvfiError(f"run {run} has no results for protocol {protocol!r}; it has: {', '.join(sorted(frame['protocol'].unique())) or 'none'}")
    a, b = a[a["protocol"] == protocol], b[b["protocol"] == protocol]
    if metric_filter is not None:
        known = set(a["metric"]) | set(b["metric"])
        unknown = [m for m in metric_filter if m not in known]
        if unknown:
            raise VosvfiError(f"metric {unknown[0]!r} is in neither run; their metrics: {', '.join(sorted(known))}")
        a, b = a[a["metric"].isin(metric_filter)], b[b["metric"].isin(metric_filter)]

    rows: list[dict[str, Any]] = []
    for name_a, name_b in pairs:
        groups_a, groups_b = _by_group(_values(a, run_a, name_a)), _by_group(_values(b, run_b, name_b))
        identity = {"run_a": run_a.name, "model_a": name_a, "run_b": run_b.name, "model_b": name_b}
        rows += _compared(groups_a, groups_b, identity, resamples=resamples, seed=seed)
    return _frame(rows, resamples=resamples, seed=seed)


def downstream_scores(downstream_results: pd.DataFrame, protocol: str = "float") -> pd.DataFrame:
    """The per-sequence rows of the downstream checks as ``eval_results``-like rows, so comparisons pair them too.

    The metric becomes ``<check>.<metric>`` (e.g. ``davis_jf.JF_mean``, ``tracking_accuracy.auc``)
    and the split the check's name; per-frame rows are left out (a sequence is the sample).
    The checks have a protocol of their own (rebuilt frames held as uint8, as a video holds them);
    ``protocol`` only labels the rows, so that they pair under the comparison's protocol.
    """
    rows = downstream_results[downstream_results["frame"].isna()]
    return pd.DataFrame(
        {
            "model": rows["model"],
            "dataset": rows["dataset"],
            "split": rows["check"],
            "sample": rows["sample"],
            "protocol": protocol,
            "metric": rows["check"] + "." + rows["metric"],
            "value": rows["value"].astype(float),
        }
    )


def compare_model_groups(
    eval_results: pd.DataFrame,
    models_a: Sequence[str],
    models_b: Sequence[str],
    *,
    run_id: str = "",
    protocol: str = "float",
    resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Two groups of models of one run (e.g. one variant over several seeds) compared as :func:`compare_runs` does.

    Each group's value of a sample is the mean over the group's models, so the bootstrap resamples
    samples with the seeds' average held together, and a single lucky seed cannot decide it.
    """
    present = set(eval_results["model"])
    for model in (*models_a, *models_b):
        if model not in present:
            raise VosvfiError(f"comparison: run {run_id or '?'} has no model {model!r}; its models: {', '.join(sorted(present))}")
    scored = eval_results[eval_results["protocol"] == protocol]

    def group_values(models: Sequence[str]) -> pd.Series:
        rows = scored[scored["model"].isin(models)].assign(value=lambda f: f["value"].astype(float))
        return rows.groupby(_KEYS)["value"].mean()

    groups_a, groups_b = _by_group(group_values(models_a)), _by_group(group_values(models_b))
    identity = {"run_a": run_id, "model_a": "+".join(models_a), "run_b": run_id, "model_b": "+".join(models_b)}
    return _frame(_compared(groups_a, groups_b, identity, resamples=resamples, seed=seed), resamples=resamples, seed=seed)


def _number(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"


def comparison_markdown(frame: pd.DataFrame) -> str:
    """The comparison as a Markdown section: which run is A and B, then one table row per data set and metric."""
    if frame.empty:
        return "_(nothing to compare)_\n"
    first = frame.iloc[0]
    pairs = frame[["model_a", "model_b"]].drop_duplicates()
    resamples = frame.attrs.get("resamples")
    lines = [
        f"# Comparison: A = run `{first['run_a']}`, B = run `{first['run_b']}` (protocol `{first['protocol']}`)",
        "",
        "Delta is B − A over the samples both runs scored; the interval is a paired bootstrap 95 % interval of the mean delta"
        + (f" ({resamples} resamples, seed {frame.attrs.get('seed')})." if resamples else "."),
        "",
    ]
    two_models = bool((pairs["model_a"] != pairs["model_b"]).any())
    columns = ["model A", "model B"] if two_models else ["model"]
    columns += ["dataset", "metric", "n", "A", "B", "delta", "95 % interval", "better"]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        models = [row.model_a, row.model_b] if two_models else [row.model_a]
        better = f"{row.better} ({row.direction} is better)" if row.significant else "—"
        interval = f"[{_number(row.ci_low)}, {_number(row.ci_high)}]"
        cells = [*models, row.dataset, row.metric, str(row.samples), _number(row.mean_a), _number(row.mean_b), _number(row.delta), interval, better]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lines += ["", "better: the run whose mean is better by the metric's direction, where the interval excludes 0; — where it does not."]
    dropped = frame[["only_a", "only_b", "infinite", "null"]].sum()
    if dropped.any():
        lines.append(
            f"Left out: {int(dropped['only_a'])} sample(s) scored in A only, {int(dropped['only_b'])} in B only, "
            f"{int(dropped['infinite'])} pair(s) with an infinite value (identical frames), {int(dropped['null'])} with a null value."
        )
    return "\n".join(lines) + "\n"


def write_comparison(frame: pd.DataFrame, out_dir: Path) -> tuple[Path, Path]:
    """``out_dir/comparison.parquet`` and ``out_dir/comparison.md``, each written atomically.

    The bootstrap settings (``frame.attrs``) go into the Parquet file's metadata as ``vosvfi.<name>``.
    """
    out_dir = Path(out_dir)
    parquet, markdown = out_dir / "comparison.parquet", out_dir / "comparison.md"
    table = pa.Table.from_pandas(frame[COLUMNS], preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{f"vosvfi.{k}".encode(): str(v).encode() for k, v in frame.attrs.items()}})
    with atomic_path(parquet) as tmp:
        pq.write_table(table, tmp)
    with atomic_path(markdown) as tmp:
        tmp.write_text(comparison_markdown(frame), encoding="utf-8")
    return parquet, markdown
