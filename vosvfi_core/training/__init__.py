"""Training the interpolation network: registered loss terms, checkpointed and resumable."""

from vosvfi_core.training.losses import LOSS_TERMS, LossTerm, TrainStep, parse_loss_string
from vosvfi_core.training.trainer import CHECKPOINT_NAME, TrainProgress, TrainResult, check_trainable, loss_terms, needs_masks, plan_steps, train

__all__ = [
    "CHECKPOINT_NAME",
    "LOSS_TERMS",
    "LossTerm",
    "TrainProgress",
    "TrainResult",
    "TrainStep",
    "check_trainable",
    "loss_terms",
    "needs_masks",
    "parse_loss_string",
    "plan_steps",
    "train",
]
