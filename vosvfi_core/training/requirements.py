"""What a training config asks of the rest of the run, read from the config alone (no network, no data read).

The run plan asks these before any work starts: which loss terms the config builds, whether they
read object masks (so the masks stage runs first), and whether the trainer can honour the
settings at all. The trainer asks the same questions again when it starts.
"""

from __future__ import annotations

from pathlib import Path

from vosvfi_core.data.sets import data_set
from vosvfi_core.errors import VosvfiError
from vosvfi_core.training.config import TrainConfig
from vosvfi_core.training.losses import LOSS_TERMS, LossTerm

__all__ = ["check_trainable", "loss_terms", "masks_available", "needs_masks"]


def loss_terms(config: TrainConfig) -> list[LossTerm]:
    return [LOSS_TERMS.build(block) for block in config.losses]


def needs_masks(config: TrainConfig) -> bool:
    """Whether a loss term reads the object masks (so the masks stage must run before training)."""
    return any(term.needs_masks for term in loss_terms(config))


def masks_available(dataset: str) -> bool:
    """Whether training on ``dataset`` can read object masks.

    They come with the data (``has_masks``) or from the masks stage, which segments the training
    split of a Vimeo-style tree: every data set with a training split has one. A set with neither
    is refused here, before any work; a :class:`Dataset` handed to the trainer without masks is
    refused there, from its first item.
    """
    spec = data_set(dataset)
    return spec.has_masks or spec.train_split is not None


def check_trainable(config: TrainConfig) -> None:
    """Refuse settings the trainer cannot honour (before hours of data preparation, not after)."""
    terms = loss_terms(config)
    weights = config.teacher.kwargs.get("weights") if config.teacher is not None else None
    if weights is not None and any(term.needs_teacher for term in terms) and not Path(weights).is_file():
        raise VosvfiError(f"train.teacher.weights: file not found: {weights}")
    if config.init_from is not None and not config.init_from.is_file():
        raise VosvfiError(f"train.init_from: checkpoint not found: {config.init_from}")
    for term in terms:
        if term.needs_teacher and config.teacher is None:
            raise VosvfiError(
                f"train.losses: the {term.name} term needs a VOS teacher; set train.teacher ({{type: stcn, weights: …}} or {{type: pixel_affinity}})"
            )
        if term.needs_masks and not masks_available(config.dataset):
            raise VosvfiError(
                f"train.losses: the {term.name} term needs object masks, and {config.dataset} neither has them nor gets them from the masks stage"
            )
