"""``vosvfi train --profile P``: train a profile's model(s) with the library trainer, resuming when rerun.

No Prefect: the data must already be in place (``vosvfi run data``, and ``vosvfi run masks`` for a
VOS-aware model on a set without shipped masks). Everything is checked before a network is built:
the profile and overrides, the run id, the training settings, the training and validation folders.
Checkpoints go to ``runs/<run-id>/train/<model>/`` (run id by default ``<profile>-train``) (see :mod:`vosvfi_core.training.checkpoints`),
the history to ``runs/<run-id>/tables/train_history.parquet``. Rerunning continues from the latest
checkpoint; ``--overwrite`` starts over. Validation reads Middlebury "other" when it is in place,
else the synthetic test split.

Under ``torchrun --nproc_per_node N -m flows.cli train …`` every process runs this command; rank 0
alone shows progress and writes files.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset
from tqdm import tqdm

from vosvfi_core.config import Profile
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.local import prepared_folder
from vosvfi_core.data.sets import PAPER_VALIDATION_SET, data_set
from vosvfi_core.errors import VosvfiError
from vosvfi_core.plan import plan_run
from vosvfi_core.results.tables import check_run_id, exclusive_run, run_dir, write_table
from vosvfi_core.training import CHECKPOINT_NAME, TrainProgress, TrainResult, needs_masks, train
from vosvfi_core.training.config import TrainConfig

__all__ = ["register", "validation_set"]

# Validation sets in order of preference: the paper's Middlebury "other", else the demo's test split.
_VALIDATION_SETS = (PAPER_VALIDATION_SET, "synthetic")


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def validation_set(profile: Profile, root: Path) -> tuple[str, Dataset] | None:
    """``(name, dataset)`` of the first validation set in place (Middlebury other, else the synthetic test split), or None."""
    for name in _VALIDATION_SETS:
        if data_set(name).generated and profile.data.synthetic is None:
            continue
        folder = prepared_folder(profile, name, root)
        if folder is not None:
            return name, data_set(name).open_triplets(folder)
    return None


def _training_set(profile: Profile, config: TrainConfig, root: Path, profile_ref: str) -> Dataset:
    folder = prepared_folder(profile, config.dataset, root)
    if folder is None:
        raise VosvfiError(f"training set {config.dataset} is not in place under {root}; prepare it first: vosvfi run data --profile {profile_ref}")
    masks = needs_masks(config)
    try:
        return data_set(config.dataset).open_triplets(folder, with_masks=masks, train=True, crop=config.crop, augment=config.augment)
    except VosvfiError as error:
        if not masks:
            raise
        raise VosvfiError(f"{error} (the VOS loss terms read masks: vosvfi run masks --profile {profile_ref})") from None


def _progress_bar(label: str, quiet: bool) -> tuple[Callable[[TrainProgress], None], Callable[[], None]]:
    """A progress callback drawing a tqdm bar (steps, rate, time left; off when stderr is not a terminal), and its closer."""
    bars: list[tqdm] = []

    def update(p: TrainProgress) -> None:
        if not bars:  # made at the first step: only then is the resumed-from step known
            bars.append(tqdm(total=p.total_steps, initial=p.step - 1, unit="step", desc=label, disable=True if quiet else None, dynamic_ncols=True))
        bars[0].set_postfix(epoch=p.epoch, loss=f"{p.loss:.4f}", lr=f"{p.lr:.2g}", refresh=False)
        bars[0].update(1)

    return update, lambda: [bar.close() for bar in bars]


def _summary(name: str, result: TrainResult) -> str:
    rows = [row for row in result.history if row["step"] == result.steps]
    values = {row["quantity"]: row["value"] for row in rows}
    scores = " ".join(f"{key} {values[key]:.4f}" for key in ("loss", "val_psnr") if key in values)
    resumed = f" (resumed at step {result.start_step})" if result.start_step else ""
    return f"{name}: {result.steps} steps{resumed}; {scores}; weights {result.model}"


def _run(args: argparse.Namespace) -> int:
    plan = plan_run(args.profile, ["train"], args.set, run_id=args.run_id)
    profile, main = plan.profile, _is_main_process()
    run_id = args.run_id or check_run_id(f"{profile.name}-train")  # not the pipeline's default: its tables stay its own
    trainings = profile.trainings()
    if args.model is not None:
        if args.model not in trainings:
            raise VosvfiError(f"--model {args.model!r}: the profile trains {', '.join(trainings)}")
        trainings = {args.model: trainings[args.model]}
    root = Path(args.data_root).absolute() if args.data_root else data_root()
    datasets = {name: _training_set(profile, config, root, args.profile) for name, config in trainings.items()}
    validation = validation_set(profile, root)
    folder = run_dir(run_id)
    if main:
        for name in trainings:
            existing = folder / "train" / name / CHECKPOINT_NAME
            if existing.is_file():
                print(f"{name}: {'--overwrite: starting over, replacing' if args.overwrite else 'resuming from'} {existing}")
        print(f"validation: {validation[0]}" if validation else "validation: none in place (middlebury_other or the synthetic test split); no best.pth")
    # Everything is checked: now the networks, the teachers and the steps. Ranks other than 0 write nothing.
    rows: list[dict] = []
    table = None
    with exclusive_run(folder) if main else contextlib.nullcontext():
        for name, config in trainings.items():
            update, close = _progress_bar(name, args.quiet)
            try:
                result = train(
                    config, profile.model, datasets[name], folder / "train" / name,
                    validation=validation[1] if validation else None, progress=update, restart=args.overwrite,
                )  # fmt: skip
            finally:
                close()
            if main:
                rows += [{"run_id": run_id, "model": name, **row} for row in result.history]
                table = write_table(folder, "train_history", rows)
                print(_summary(name, result))
    if table is not None:
        print(f"history: {table}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train the profile's model(s) with a progress bar; a rerun resumes from the latest checkpoint")
    parser.add_argument("--profile", default="demo", help="demo, paper, paper_baseline or a path to a profile .yaml (default: demo)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a profile value (repeatable)")
    parser.add_argument("--run-id", default=None, help="checkpoints go to runs/<run-id>/train/<model>/ (default: <profile name>-train)")
    parser.add_argument("--model", default=None, help="train only this one of the profile's variants (default: all, one after another)")
    parser.add_argument("--overwrite", action="store_true", help="start over, replacing the checkpoints of an earlier run (default: resume from them)")
    parser.add_argument("--data-root", default=None, help="where the prepared data sets are (default: $VOSVFI_DATA_ROOT or ./data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    parser.set_defaults(handler=_run)
