"""``vosvfi data list | download NAME | verify NAME | generate-demo``.

Output goes through :func:`_print_lines`, so a reader that stops early (``vosvfi data list | head``)
ends the command quietly instead of with a ``BrokenPipeError`` traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from vosvfi_core.data.catalog import Catalog, DatasetEntry, data_root, load_catalog
from vosvfi_core.data.download import dataset_status, ensure_dataset, verify_dataset
from vosvfi_core.data.lockfile import read_lock
from vosvfi_core.errors import VosvfiError

__all__ = ["register"]


def _print_lines(lines: Iterable[str]) -> None:
    """Print ``lines`` to stdout; if the reader has gone away, stop printing without an error."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null: what is left in its buffer would fail again at the interpreter's final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _catalog(args: argparse.Namespace) -> Catalog:
    return load_catalog(args.catalog)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.data_root).absolute() if args.data_root else data_root()


def _size_text(entry: DatasetEntry, catalog: Catalog) -> str:
    if entry.generated:
        return "generated"
    lock = read_lock(catalog.lock_path)
    total = 0
    for source in entry.sources:
        locked = lock.get(entry.name, source.name)
        size = source.size or (locked.size if locked else None)
        if size is None:
            return "?"
        total += size
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if total >= scale:
            return f"{total / scale:.1f} {unit}"
    return f"{total} B"


def _first_sentence(text: str, limit: int = 70) -> str:
    sentence = " ".join(text.split()).split(": ")[0].split(". ")[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1] + "…"


def _list(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    root = _root(args)
    rows = [(name, dataset_status(entry, root), _size_text(entry, catalog), _first_sentence(entry.description)) for name, entry in catalog.datasets.items()]
    widths = [max(len(row[i]) for row in [*rows, ("NAME", "STATUS", "SIZE", "")]) for i in range(3)]
    lines = [f"{'NAME':<{widths[0]}}  {'STATUS':<{widths[1]}}  {'SIZE':<{widths[2]}}  DESCRIPTION"]
    lines += [f"{name:<{widths[0]}}  {status:<{widths[1]}}  {size:<{widths[2]}}  {description}" for name, status, size, description in rows]
    _print_lines([*lines, f"data root: {root}"])
    return 0


def _download(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    directory = ensure_dataset(args.name, _root(args), catalog=catalog, progress=not args.quiet, keep_archives=args.keep_archives, force=args.force)
    _print_lines([str(directory)])
    return 0


def _verify(args: argparse.Namespace) -> int:
    report = verify_dataset(args.name, _root(args), catalog=_catalog(args), adopt=args.adopt)
    if report.ok:
        adopted = " (adopted: marker written for a tree placed by hand)" if report.adopted else ""
        _print_lines([f"{report.name}: ok, {report.directory}: layout as expected, {report.archives_checked} kept archive(s) re-hashed{adopted}"])
        return 0
    _print_lines(f"{report.name}: {problem}" for problem in report.problems)
    return 1


def _generate_demo(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    entry = catalog.dataset("demo")
    assert entry.generator is not None  # a generated entry always has one (catalog validation)
    overrides = {key: getattr(args, key) for key in ("seed", "height", "width", "train_count", "test_count") if getattr(args, key) is not None}
    try:
        config = entry.generator.model_validate({**entry.generator.model_dump(), **overrides})
    except ValidationError as error:
        first = error.errors()[0]
        raise VosvfiError(f"generate-demo --{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    directory = ensure_dataset(entry, _root(args), generator=config, force=True, progress=False)
    _print_lines(
        [
            f"{directory}: {config.train_count}+{config.test_count} triplets, {config.davis_count} DAVIS-style and "
            f"{config.tracking_count} tracking sequences at {config.width}x{config.height} (seed {config.seed})"
        ]
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="data sets: list, download, verify, generate the demo data")
    commands = data.add_subparsers(dest="data_command", required=True, parser_class=type(data))

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--catalog", type=Path, help="catalog file (default: $VOSVFI_CATALOG, else the shipped data_catalog.yaml)")
    common.add_argument("--data-root", help="where data sets live (default: $VOSVFI_DATA_ROOT, else ./data)")

    listing = commands.add_parser("list", parents=[common], help="the catalog's data sets and whether each is in place")
    listing.set_defaults(handler=_list)

    download = commands.add_parser("download", parents=[common], help="download, verify, extract and check one data set")
    download.add_argument("name", help="a data set name from `vosvfi data list`")
    download.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives (default: delete once complete)")
    download.add_argument("--force", action="store_true", help="redo it even if it is marked complete")
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(handler=_download)

    verify = commands.add_parser("verify", parents=[common], help="check one data set's marker, full layout and kept archives")
    verify.add_argument("name", help="a data set name from `vosvfi data list`")
    verify.add_argument("--adopt", action="store_true", help="mark a tree placed by hand complete when its layout checks out")
    verify.set_defaults(handler=_verify)

    demo = commands.add_parser("generate-demo", parents=[common], help="write the synthetic demo data under the data root")
    demo.add_argument("--seed", type=int, help="random seed (default: the catalog's)")
    demo.add_argument("--height", type=int, help="frame height in pixels")
    demo.add_argument("--width", type=int, help="frame width in pixels")
    demo.add_argument("--train-count", type=int, help="training triplets")
    demo.add_argument("--test-count", type=int, help="test triplets")
    demo.set_defaults(handler=_generate_demo)
