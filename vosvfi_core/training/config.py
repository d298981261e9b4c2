"""The ``train`` section of a profile: data, optimisation, loss terms, the VOS teacher, checkpointing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from vosvfi_core.config_types import Device, Section, TrainSetName, TripletSetName, unique
from vosvfi_core.registry import block_field
from vosvfi_core.training.losses import LOSS_TERMS, loss_blocks
from vosvfi_core.vos.teachers import TEACHERS

__all__ = ["TrainConfig"]

_ORIGINAL_LOSS = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion"


def _betas(value: tuple[float, float]) -> tuple[float, float]:
    if not all(0.0 <= beta < 1.0 for beta in value):
        raise ValueError(f"both betas must lie in [0, 1), got {list(value)}")
    return value


def _increasing(value: list[int]) -> list[int]:
    if any(later <= earlier for earlier, later in zip(value, value[1:])):
        raise ValueError(f"milestones must increase, got {value}")
    return value


class TrainConfig(Section):
    dataset: TrainSetName = "synthetic"
    crop: PositiveInt | None = 256  # random square crops; None trains on whole frames
    augment: bool = True  # flips and temporal reversal (masks follow the frames)
    batch_size: PositiveInt = 4  # per process; under torchrun a step takes batch_size × world size samples
    epochs: PositiveInt = 50
    max_steps: PositiveInt | None = None  # stop early after this many optimiser steps (the schedule still spans `epochs`)

    optimizer: Literal["adamax", "adam", "adamw"] = "adamax"
    lr: PositiveFloat = 1e-3
    betas: Annotated[tuple[float, float], AfterValidator(_betas)] = (0.9, 0.999)
    weight_decay: NonNegativeFloat = 0.0  # L2 for adamax/adam, decoupled for adamw (torch's AdamW default, 0.01, is not used)
    # The learning rate as a function of the position in training, counted in epochs:
    #   step: lr · lr_gamma^⌊position / lr_step_epochs⌋ (the original: StepLR 20 epochs, 0.5);
    #   multistep: lr · lr_gamma^(milestones passed); cosine: from lr down to lr_min at the end of `epochs`.
    # lr_update "epoch" changes it at epoch boundaries only (position = whole epochs done, as the
    # original stepped its scheduler); "step" changes it every step (position = steps / steps per epoch).
    lr_schedule: Literal["step", "multistep", "cosine"] = "step"
    lr_step_epochs: PositiveInt = 20
    lr_milestones: Annotated[list[PositiveInt], AfterValidator(_increasing)] = []
    lr_gamma: PositiveFloat = 0.5
    lr_min: NonNegativeFloat = 0.0
    lr_update: Literal["epoch", "step"] = "epoch"
    lr_warmup_steps: NonNegativeInt = 0  # linear warm-up from lr / warmup to the schedule's rate
    # Autocast of the network's convolutions (sampling and warping stay float32): auto is bf16 where it is
    # native (CPUs with AVX512-BF16 or AMX, GPUs that have it), else fp32 (vosvfi_core.precision).
    precision: Literal["auto", "fp32", "bf16"] = "auto"

    # Registered loss terms, as blocks or as the original's loss string.
    losses: Annotated[list[block_field(LOSS_TERMS)], BeforeValidator(loss_blocks), AfterValidator(unique)] = Field(
        default_factory=lambda: [LOSS_TERMS.check(b) for b in loss_blocks(_ORIGINAL_LOSS)], min_length=1
    )
    # The frozen VOS teacher of the seg/cons terms: {type: stcn, weights: …} or {type: pixel_affinity}.
    teacher: block_field(TEACHERS) | None = None
    # The terms that read the teacher (seg, cons) are weighted by step / teacher_warmup_steps until it reaches 1,
    # so that the interpolator first learns motion from the frames alone.
    teacher_warmup_steps: NonNegativeInt = 0
    init_from: Path | None = None  # fine-tune from this AdaCoF checkpoint (a published one, or ours); read on a fresh start only

    # What training is scored on at each validation. `validation` picks best.pth: a data set name, or
    # None for the training set's own test split. `monitor` sets are scored alike and logged as
    # `psnr:<name>` learning curves, never used to pick a checkpoint (so a test set may be one).
    validation: TripletSetName | None = None
    monitor: Annotated[list[TripletSetName], AfterValidator(unique)] = []

    checkpoint_every: PositiveInt = 500  # optimiser steps between checkpoints (one is also written at every epoch end)
    keep_last: PositiveInt = 3  # step checkpoints kept besides last.pth, best.pth and model.pth
    validate_every: PositiveInt = 1  # epochs between validations (when train() is given a validation set)
    log_every: PositiveInt = 10  # optimiser steps between history rows
    seed: int = 0
    # Deterministic kernels (torch.use_deterministic_algorithms, process-wide; cuDNN deterministic on CUDA), so that one
    # seed gives the same weights on one machine; ops with no deterministic CUDA kernel are listed in the checkpoint.
    deterministic: bool = True
    device: Device = "auto"
    num_workers: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _schedule_complete(self) -> TrainConfig:
        if self.lr_schedule == "multistep" and not self.lr_milestones:
            raise ValueError("lr_milestones must list at least one epoch when lr_schedule is multistep")
        if self.lr_schedule != "multistep" and self.lr_milestones:
            raise ValueError(f"lr_milestones is only read by lr_schedule multistep, not {self.lr_schedule}")
        return self
