"""``vosvfi train --profile P``: train a profile's model(s) with the library trainer, resuming when rerun.

No Prefect: the data must already be in place (``vosvfi run data``, and ``vosvfi run masks`` for a
VOS-aware model on a set without shipped masks). Everything is checked before a network is built:
the profile and overrides, the run id, the training settings, the training and validation folders.
Checkpoints go to ``runs/<run-id>/checkpoints/<model>-<identity>/`` (run id by default
``<profile>-train``), named as the pipeline names them (:func:`vosvfi_core.training.checkpoint_folder.training_folder`),
the history to ``runs/<run-id>/tables/train_history.parquet``. Rerunning with the same settings
and data continues from the latest checkpoint; ``--overwrite`` starts over. What is validated on, and which learning curves are
logged, is :mod:`vosvfi_core.training.inputs`' decision, shared with the pipeline.

Under ``torchrun --nproc_per_node N -m flows.cli train …`` every process runs this command; rank 0
alone shows progress and writes files.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from vosvfi_core.config import Profile, profile_names
from vosvfi_core.data.catalog import data_root
from vosvfi_core.data.download import MARKER_NAME
from vosvfi_core.data.local import prepared_folder
from vosvfi_core.errors import VosvfiError
from vosvfi_core.plan import plan_run
from vosvfi_core.results.tables import check_run_id, exclusive_run, run_dir, write_table
from vosvfi_core.training import CHECKPOINT_NAME, TrainProgress, TrainResult, train
from vosvfi_core.training.checkpoint_folder import training_folder
from vosvfi_core.training.config import TrainConfig
from vosvfi_core.training.inputs import TrainingInputs, open_training_inputs, scoring_folders

__all__ = ["register"]


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _inputs(profile: Profile, config: TrainConfig, root: Path, profile_ref: str) -> tuple[TrainingInputs, str, list[str]]:
    """The opened training inputs, the training data's identity (its folder and completion marker), and notes."""
    locate = lambda name: prepared_folder(profile, name, root)  # noqa: E731
    folder = locate(config.dataset)
    if folder is None:
        raise VosvfiError(f"training set {config.dataset} is not in place under {root}; prepare it first: vosvfi run data --profile {profile_ref}")
    validation, monitors, notes = scoring_folders(config, locate)
    inputs = open_training_inputs(config, folder, validation=validation, monitors=monitors, hint=f"vosvfi run masks --profile {profile_ref}")
    marker = Path(folder) / MARKER_NAME
    identity = str(Path(folder).resolve()) + (f"#{hashlib.sha256(marker.read_bytes()).hexdigest()}" if marker.is_file() else "")
    return inputs, identity, notes


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
    inputs = {name: _inputs(profile, config, root, args.profile) for name, config in trainings.items()}
    folder = run_dir(run_id)
    models = profile.models()
    checkpoints = {name: training_folder(folder, name, config, models[name], inputs[name][1]) for name, config in trainings.items()}
    if main:
        for name in trainings:
            existing = checkpoints[name] / CHECKPOINT_NAME
            if existing.is_file():
                print(f"{name}: {'--overwrite: starting over, replacing' if args.overwrite else 'resuming from'} {existing}")
        for name, (opened, _, notes) in inputs.items():
            curves = f"; learning curves on {', '.join(opened.monitors)}" if opened.monitors else ""
            print(f"{name}: validation on {opened.validation_name}{curves}" + "".join(f"\n  {note}" for note in notes))
    # Everything is checked: now the networks, the teachers and the steps. Ranks other than 0 write nothing.
    rows: list[dict] = []
    table = None
    with exclusive_run(folder) if main else contextlib.nullcontext():
        for name, config in trainings.items():
            update, close = _progress_bar(name, args.quiet)
            try:
                opened = inputs[name][0]
                result = train(
                    config, models[name], opened.dataset, checkpoints[name],
                    validation=opened.validation, monitors=opened.monitors, progress=update, restart=args.overwrite,
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
    parser.add_argument("--profile", default="demo", help=f"{', '.join(profile_names())} or a path to a profile .yaml (default: demo)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="override a profile value (repeatable)")
    parser.add_argument("--run-id", default=None, help="checkpoints go to runs/<run-id>/checkpoints/<model>-<id>/ (default: <profile name>-train)")
    parser.add_argument("--model", default=None, help="train only this one of the profile's variants (default: all, one after another)")
    parser.add_argument("--overwrite", action="store_true", help="start over, replacing the checkpoints of an earlier run (default: resume from them)")
    parser.add_argument("--data-root", default=None, help="where the prepared data sets are (default: $VOSVFI_DATA_ROOT or ./data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    parser.set_defaults(handler=_run)
