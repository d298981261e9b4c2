"""The optimiser and the learning-rate schedule of a training run.

The learning rate is a pure function of the optimiser step (:func:`learning_rate`), set on the
optimiser before every step. There is no scheduler state to save: a resumed run computes the
same rates as one that never stopped. The schedules match torch's ``StepLR``, ``MultiStepLR``
and ``CosineAnnealingLR`` stepped once per epoch (``lr_update: epoch``) or once per step with
their sizes in steps (``lr_update: step``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from vosvfi_core.training.config import TrainConfig

__all__ = ["build_optimizer", "learning_rate", "set_learning_rate"]

_OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def build_optimizer(config: TrainConfig, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """``train.optimizer`` over ``parameters`` with the configured betas and weight decay."""
    optimizer_class = _OPTIMIZERS[config.optimizer]
    return optimizer_class(parameters, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based), given the steps per epoch.

    During the first ``lr_warmup_steps`` steps the schedule's rate is scaled by ``(step + 1) / warmup``.
    """
    warmup = min(1.0, (step + 1) / config.lr_warmup_steps) if config.lr_warmup_steps else 1.0
    return warmup * _scheduled_rate(config, step, steps_per_epoch)


def _scheduled_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    # Positions are compared in steps, in integers: no rounding at the boundaries.
    done = step if config.lr_update == "step" else step - step % steps_per_epoch  # steps the schedule has seen
    if config.lr_schedule == "step":
        return config.lr * config.lr_gamma ** (done // (config.lr_step_epochs * steps_per_epoch))
    if config.lr_schedule == "multistep":
        return config.lr * config.lr_gamma ** sum(1 for milestone in config.lr_milestones if done >= milestone * steps_per_epoch)
    progress = min(done / (config.epochs * steps_per_epoch), 1.0)
    return config.lr_min + (config.lr - config.lr_min) * (1 + math.cos(math.pi * progress)) / 2


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
