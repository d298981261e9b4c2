"""Training an interpolation network, checkpointing as it goes and resuming where it stopped.

The network comes from the model registry (``model: {type: adacof, ...}``); the loss is the
weighted sum of the profile's registered loss terms (the original
``1*Charb+0.01*g_Spatial+0.005*g_Occlusion`` by default), optimised by Adamax with a StepLR
schedule stepped once per epoch, as in the original training script.

Resuming is exact: the batch of step ``s`` is drawn from a permutation seeded by (seed, epoch)
and each item's random crop/flip is seeded by (seed, step, slot), so a run killed after a
checkpoint and resumed produces the same weights as one that never stopped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vosvfi_core.checkpoint import read_checkpoint, save_checkpoint
from vosvfi_core.devices import resolve_device
from vosvfi_core.errors import VosvfiError
from vosvfi_core.models.registry import MODELS
from vosvfi_core.registry import Block
from vosvfi_core.training.losses import LOSS_TERMS, LossTerm, TrainStep

if TYPE_CHECKING:
    from vosvfi_core.config import TrainConfig

__all__ = ["CHECKPOINT_NAME", "TrainProgress", "TrainResult", "check_trainable", "loss_terms", "needs_masks", "plan_steps", "train"]

CHECKPOINT_NAME = "last.pth"


@dataclass(frozen=True)
class TrainProgress:
    step: int  # optimiser steps done
    total_steps: int
    epoch: int
    loss: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path
    start_step: int  # 0 for a fresh run, else the step of the checkpoint resumed from
    steps: int
    history: list[dict[str, Any]]  # train_history rows without run_id and model


def plan_steps(config: TrainConfig, samples: int) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)``: full batches only, capped by ``max_steps``."""
    steps_per_epoch = samples // config.batch_size
    if steps_per_epoch == 0:
        raise VosvfiError(f"train.batch_size is {config.batch_size} but the training set has only {samples} samples")
    total = steps_per_epoch * config.epochs
    return steps_per_epoch, min(total, config.max_steps) if config.max_steps else total


def loss_terms(config: TrainConfig) -> list[LossTerm]:
    return [LOSS_TERMS.build(block) for block in config.losses]


def needs_masks(config: TrainConfig) -> bool:
    """Whether a loss term reads the object masks (so the masks stage must run before training)."""
    return any(term.needs_masks for term in loss_terms(config))


def check_trainable(config: TrainConfig) -> None:
    """Refuse settings this trainer cannot honour (before hours of data preparation, not after)."""
    for term in loss_terms(config):
        if term.needs_teacher:
            raise VosvfiError(f"train.losses: the {term.name} term needs a VOS teacher, which this trainer does not have yet; remove it")


def _seed_everything(*parts: int) -> None:
    seed = hash(parts) & 0x7FFFFFFF  # tuple-of-int hashing does not depend on PYTHONHASHSEED
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class _SeededItems(Dataset):
    """Items addressed as ``(step, slot, index)``; the augmentation RNGs are seeded from the address."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, address: tuple[int, int, int]) -> dict[str, Any]:
        step, slot, index = address
        _seed_everything(self.seed, step, slot)
        return self.dataset[index]


def _batch_addresses(seed: int, samples: int, batch: int, per_epoch: int, start: int, total: int) -> Iterator[list[tuple[int, int, int]]]:
    order: torch.Tensor | None = None
    for step in range(start, total):
        epoch, position = divmod(step, per_epoch)
        if order is None or position == 0:
            order = torch.randperm(samples, generator=torch.Generator().manual_seed(hash((seed, epoch)) & 0x7FFFFFFF))
        indices = order[position * batch : (position + 1) * batch].tolist()
        yield [(step, slot, index) for slot, index in enumerate(indices)]


def _restore(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, device: torch.device) -> dict[str, Any]:
    checkpoint = read_checkpoint(path, device=device)
    extra = checkpoint.get("extra")
    if not isinstance(extra, dict) or "step" not in extra:
        raise VosvfiError(f"{path} is not a training checkpoint of this trainer (no optimiser state); delete it to start over")
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    return extra


def _history_rows(step: int, epoch: int, values: dict[str, float]) -> list[dict[str, Any]]:
    return [{"step": step, "epoch": epoch, "quantity": name, "value": float(value)} for name, value in values.items()]


def train(
    config: TrainConfig,
    model_block: Block,
    dataset: Dataset,
    checkpoint_dir: Path,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    restart: bool = False,
) -> TrainResult:
    """Train (or resume training) on ``dataset`` (items with ``frame0``, ``frame1``, ``frame2``).

    ``checkpoint_dir/last.pth`` is written every ``checkpoint_every`` steps and at the end; if it
    exists when called, training continues from it, unless ``restart`` asks to start over.
    Returns the history rows of the whole run.
    """
    check_trainable(config)
    device = resolve_device(config.device)
    samples = len(dataset)  # type: ignore[arg-type]
    per_epoch, total = plan_steps(config, samples)
    terms = loss_terms(config)
    torch.manual_seed(config.seed)
    model = MODELS.build(model_block).to(device)
    optimizer = torch.optim.Adamax(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs, gamma=config.lr_gamma)
    path = Path(checkpoint_dir) / CHECKPOINT_NAME
    start, history, elapsed = 0, [], 0.0
    if path.is_file() and not restart:
        extra = _restore(path, model, optimizer, scheduler, device)
        start, history, elapsed = int(extra["step"]), list(extra["history"]), float(extra["seconds"])

    def save(step: int) -> None:
        extra = {
            "step": step,
            "history": history,
            "seconds": elapsed,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        }
        save_checkpoint(path, model, epoch=step // per_epoch, extra=extra)

    loader = DataLoader(
        _SeededItems(dataset, config.seed),
        batch_sampler=list(_batch_addresses(config.seed, samples, config.batch_size, per_epoch, start, total)),
        num_workers=config.num_workers,
    )
    model.train()
    clock = time.perf_counter()
    for step, batch in enumerate(loader, start=start):
        frame0, frame1, frame2 = (batch[k].to(device) for k in ("frame0", "frame1", "frame2"))
        output = model.forward_train(frame0, frame2)
        state = TrainStep(output, {"frame0": frame0, "frame1": frame1, "frame2": frame2})
        values = {term.name: term.compute(state) for term in terms}
        loss = sum(term.weight * values[term.name] for term in terms)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr = optimizer.param_groups[0]["lr"]
        done, epoch = step + 1, step // per_epoch
        if done % per_epoch == 0:
            scheduler.step()
        now = time.perf_counter()
        step_seconds = now - clock
        elapsed, clock = elapsed + step_seconds, now
        if done % config.log_every == 0 or done == total:
            logged = {"loss": loss.item(), **{name: value.item() for name, value in values.items()}}
            logged |= {"lr": float(lr), "seconds": elapsed, "samples_per_second": frame0.shape[0] / max(step_seconds, 1e-9)}
            history += _history_rows(done, epoch, logged)
        if done % config.checkpoint_every == 0 or done == total:
            save(done)
        if progress is not None:
            progress(TrainProgress(done, total, epoch, loss.item(), float(lr), elapsed))
    return TrainResult(checkpoint=path, start_step=start, steps=total, history=history)
