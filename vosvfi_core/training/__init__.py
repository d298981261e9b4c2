"""Training the interpolation network: registered loss terms (the VOS ones reading a frozen teacher), checkpointed, resumable, data-parallel."""

from vosvfi_core.training.checkpoint_folder import BEST_NAME, CHECKPOINT_NAME, MODEL_NAME
from vosvfi_core.training.losses import LOSS_TERMS, LossTerm, TrainStep, parse_loss_string
from vosvfi_core.training.requirements import check_trainable, loss_terms, masks_available, needs_masks
from vosvfi_core.training.trainer import RUN_SETTINGS, Trainer, TrainProgress, TrainResult, plan_steps, train

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_NAME",
    "LOSS_TERMS",
    "MODEL_NAME",
    "RUN_SETTINGS",
    "LossTerm",
    "TrainProgress",
    "TrainResult",
    "TrainStep",
    "Trainer",
    "check_trainable",
    "loss_terms",
    "masks_available",
    "needs_masks",
    "parse_loss_string",
    "plan_steps",
    "train",
]
