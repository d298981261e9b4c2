"""The files of a training run's checkpoint folder, each written atomically.

- ``step-00001234.pth``: the full training state (weights, optimiser, history, metadata) after
  that step, written every ``checkpoint_every`` steps and at each epoch end; the ``keep_last``
  newest are kept.
- ``last.pth``: the newest of them (a hard link, or a copy where the file system has none); a
  rerun resumes from it.
- ``best.pth``: the step checkpoint with the highest validation PSNR so far.
- ``model.pth``: the final weights alone (:func:`vosvfi_core.checkpoint.save_inference`), for
  ``vosvfi interpolate`` and evaluation.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from vosvfi_core.checkpoint import save_checkpoint, save_inference
from vosvfi_core.io.atomic import atomic_path

__all__ = ["BEST_NAME", "CHECKPOINT_NAME", "MODEL_NAME", "CheckpointFolder"]

CHECKPOINT_NAME = "last.pth"
BEST_NAME = "best.pth"
MODEL_NAME = "model.pth"
_STEP_FILE = re.compile(r"^step-(\d{8,})\.pth$")


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
