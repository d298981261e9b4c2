"""Where a training's checkpoints live, and the files of that folder, each written atomically.

:func:`training_folder` names the folder, for ``vosvfi train`` and the pipeline alike:
``<run folder>/checkpoints/<model name>-<identity>``, the identity hashing what shapes the
weights (the training settings, the network, the data), so that a rerun resumes only a
training with the same identity and never mixes two. In it:

- ``step-00001234.pth``: the full training state (weights, optimiser, history, metadata) after
  that step, written every ``checkpoint_every`` steps and at each epoch end; the ``keep_last``
  newest are kept.
- ``last.pth``: the newest of them (a hard link, or a copy where the file system has none); a
  rerun resumes from it.
- ``best.pth``: the step checkpoint with the highest validation PSNR so far.
- ``model.pth``: the final weights alone (:func:`vosvfi_core.checkpoint_format.save_inference`), for
  ``vosvfi interpolate`` and evaluation.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vosvfi_core.checkpoint_format import save_checkpoint, save_inference
from vosvfi_core.io.atomic import atomic_path
from vosvfi_core.registry import Block
from vosvfi_core.training.config import TrainConfig

__all__ = ["BEST_NAME", "CHECKPOINT_NAME", "MODEL_NAME", "RUN_SETTINGS", "CheckpointFolder", "training_folder"]

CHECKPOINT_NAME = "last.pth"
BEST_NAME = "best.pth"
MODEL_NAME = "model.pth"
_STEP_FILE = re.compile(r"^step-(\d{8,})\.pth$")

# Settings that say how long, where and how verbosely to train, not what: a run may resume with others.
RUN_SETTINGS = frozenset(
    {"epochs", "max_steps", "checkpoint_every", "keep_last", "validate_every", "log_every", "device", "num_workers", "precision", "monitor", "deterministic"}
)


def training_folder(run_folder: Path, name: str, config: TrainConfig, model: Block, data: str) -> Path:
    """``<run_folder>/checkpoints/<name>-<12 hex digits>``: one folder per model name and training identity.

    ``data`` identifies the training data (a folder, or a digest of its contents and of the code).
    The :data:`RUN_SETTINGS` are left out: training longer, or on another device, resumes the same folder.
    """
    identity = {"config": config.model_dump(mode="json", exclude=set(RUN_SETTINGS)), "model": model.model_dump(mode="json"), "data": data}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return Path(run_folder) / "checkpoints" / f"{name}-{key[:12]}"


def _publish(source: Path, target: Path) -> None:
    """Make ``target`` name the bytes of ``source``, atomically: a hard link, else a copy."""
    with atomic_path(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:  # no hard links here (some network and FAT file systems)
            shutil.copyfile(source, tmp)


@dataclass(frozen=True)
class CheckpointFolder:
    folder: Path
    keep_last: int = 3

    @property
    def last(self) -> Path:
        return self.folder / CHECKPOINT_NAME

    @property
    def best(self) -> Path:
        return self.folder / BEST_NAME

    @property
    def model(self) -> Path:
        return self.folder / MODEL_NAME

    def step_path(self, step: int) -> Path:
        return self.folder / f"step-{step:08d}.pth"

    def step_files(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of the step checkpoints present, oldest first."""
        if not self.folder.is_dir():
            return []
        found = ((_STEP_FILE.match(p.name), p) for p in self.folder.iterdir())
        return sorted((int(match.group(1)), path) for match, path in found if match)

    def save(self, model: nn.Module, *, step: int, epoch: int, extra: dict[str, Any]) -> Path:
        """Write the step checkpoint, point ``last.pth`` at it, and drop the step files beyond ``keep_last``."""
        path = self.step_path(step)
        save_checkpoint(path, model, epoch=epoch, extra=extra)  # type: ignore[arg-type]
        _publish(path, self.last)
        for _, old in self.step_files()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def mark_best(self, path: Path) -> None:
        _publish(path, self.best)

    def save_model(self, model: nn.Module, provenance: dict[str, Any]) -> None:
        save_inference(model, self.model, provenance=provenance)  # type: ignore[arg-type]

    def clear(self) -> None:
        """Remove every checkpoint of an earlier run (``restart``): its step numbers and best PSNR would mislead this one."""
        for _, path in self.step_files():
            path.unlink(missing_ok=True)
        for path in (self.last, self.best, self.model):
            path.unlink(missing_ok=True)
