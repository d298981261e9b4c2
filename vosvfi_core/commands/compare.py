"""``vosvfi compare RUN_A RUN_B``: paired comparison of two runs' evaluation results, printed and written.

RUN_A and RUN_B are run folders or run ids under the runs root (``$VOSVFI_RUNS_ROOT``, else
``./runs``). The table goes to ``-o`` (default ``compare-<a>-vs-<b>/`` beside RUN_A, which for run
ids is the runs root) as ``comparison.parquet`` and ``comparison.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vosvfi_core.commands.outputs import add_overwrite_flag, check_output
from vosvfi_core.errors import VosvfiError
from vosvfi_core.results.compare import compare_runs, comparison_markdown, write_comparison
from vosvfi_core.results.schemas import TABLE_FILES
from vosvfi_core.results.tables import check_run_id, runs_root

__all__ = ["register", "resolve_run"]


def resolve_run(text: str) -> Path:
    """A run folder given as a path, else the run id's folder under the runs root; either must hold eval_results."""
    path = Path(text).expanduser()
    if not path.is_dir():
        if Path(text).name != text:  # a path, not a run id
            raise VosvfiError(f"run folder not found: {path}")
        path = runs_root() / check_run_id(text)
        if not path.is_dir():
            raise VosvfiError(f"run {text!r} not found: no folder {text} here and no run {path}")
    if not (path / TABLE_FILES["eval_results"]).is_file():
        raise VosvfiError(f"run {path} has no evaluation results ({path / TABLE_FILES['eval_results']} is missing); run its evaluate stage first")
    return path


def _compare(args: argparse.Namespace) -> int:
    run_a, run_b = resolve_run(args.run_a), resolve_run(args.run_b)
    if run_a.resolve() == run_b.resolve() and (args.model_a or args.model_b) == (args.model_b or args.model_a):
        raise VosvfiError(f"RUN_A and RUN_B are the same run ({run_a}); compare two models of it with --model-a and --model-b")
    if args.resamples < 1:
        raise VosvfiError(f"--resamples must be at least 1, got {args.resamples}")
    out_dir = Path(args.output) if args.output else run_a.parent / f"compare-{run_a.name}-vs-{run_b.name}"
    check_output(out_dir, overwrite=args.overwrite, what="output folder")
    frame = compare_runs(
        run_a,
        run_b,
        model_a=args.model_a,
        model_b=args.model_b,
        metric_filter=args.metric,
        protocol=args.protocol,
        resamples=args.resamples,
        seed=args.seed,
    )
    parquet, markdown = write_comparison(frame, out_dir)
    print(comparison_markdown(frame))
    print(f"written: {parquet}, {markdown}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        "compare",
        help="paired comparison of two runs: per data set and metric, means, delta B - A and a bootstrap 95%% interval",
    )
    compare.add_argument("run_a", metavar="RUN_A", help="run folder or run id under $VOSVFI_RUNS_ROOT (A, the reference)")
    compare.add_argument("run_b", metavar="RUN_B", help="run folder or run id (B; delta is B - A)")
    compare.add_argument("-o", "--output", help="output folder (default: compare-<a>-vs-<b>/ beside RUN_A)")
    compare.add_argument("--model-a", help="the model of RUN_A to compare (default: every model name both runs have)")
    compare.add_argument("--model-b", help="the model of RUN_B to compare (default: --model-a's name)")
    compare.add_argument("--metric", action="append", default=None, metavar="NAME", help="compare this metric only (repeatable; default: all)")
    compare.add_argument("--protocol", default="float", help="which output protocol's rows: float (unclamped) or uint8 (default: float)")
    compare.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    compare.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    add_overwrite_flag(compare)
    compare.set_defaults(handler=_compare)
