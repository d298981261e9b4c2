"""What one training reads: the training set, the validation set that picks ``best.pth``, and the monitor sets.

One decision for ``vosvfi train`` and the pipeline's train stage alike:

- the training set is ``train.dataset`` (its training split, cropped and augmented; with masks
  when a loss term reads them);
- validation is ``train.validation`` when set, else the training set's own test split, which is
  never an evaluation benchmark of the paper, so ``best.pth`` is not chosen on a test set;
- each of ``train.monitor`` that is in place is scored alongside as a learning curve
  (``psnr:<name>`` in ``train_history``); one that is not in place is left out with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from vosvfi_core.data.sets import data_set
from vosvfi_core.errors import VosvfiError
from vosvfi_core.training.config import TrainConfig
from vosvfi_core.training.requirements import needs_masks

__all__ = ["TrainingInputs", "open_training_inputs", "scoring_folders"]

Located = tuple[str, Path]  # a data set's name and the folder it is in


@dataclass(frozen=True)
class TrainingInputs:
    dataset: Dataset
    validation: Dataset
    validation_name: str  # "<set> (<split> split)" for the training set's own split
    monitors: dict[str, Dataset] = field(default_factory=dict)


def scoring_folders(config: TrainConfig, locate: Callable[[str], Path | None]) -> tuple[Located | None, dict[str, Path], list[str]]:
    """``(validation, monitors, notes)``: where ``train.validation`` and the ``train.monitor`` sets are.

    ``locate(name)`` gives a data set's prepared folder or None. A validation set that is named but
    not in place is an error; a monitor set that is not in place is left out, with a note.
    """
    validation = None
    if config.validation is not None:
        folder = locate(config.validation)
        if folder is None:
            raise VosvfiError(f"train.validation: {config.validation} is not in place; prepare it (vosvfi run data) or unset train.validation")
        validation = (config.validation, Path(folder))
    monitors: dict[str, Path] = {}
    notes = []
    for name in config.monitor:
        folder = locate(name)
        if folder is None:
            notes.append(f"train.monitor: {name} is not in place, so its learning curve is left out")
        else:
            monitors[name] = Path(folder)
    return validation, monitors, notes


def open_training_inputs(
    config: TrainConfig,
    folder: Path,
    *,
    masks_dir: Path | None = None,
    validation: Located | None = None,
    monitors: dict[str, Path] | None = None,
    hint: str = "vosvfi run masks",
) -> TrainingInputs:
    """Open the training set in ``folder`` and the scoring sets (see :func:`scoring_folders`); ``hint`` is the command that makes masks."""
    spec = data_set(config.dataset)
    masks = needs_masks(config)
    options = {"masks_dir": masks_dir} if masks_dir is not None else {}
    try:
        dataset = spec.open_triplets(folder, with_masks=masks, train=True, crop=config.crop, augment=config.augment, **options)
    except VosvfiError as error:
        if not masks:
            raise
        raise VosvfiError(f"{error} (the VOS loss terms read masks: {hint})") from None
    if validation is None:
        validation_set, validation_name = spec.open_triplets(folder), f"{config.dataset} ({spec.split} split)"
    else:
        validation_set, validation_name = data_set(validation[0]).open_triplets(validation[1]), validation[0]
    opened = {name: data_set(name).open_triplets(path) for name, path in (monitors or {}).items()}
    return TrainingInputs(dataset, validation_set, validation_name, opened)
