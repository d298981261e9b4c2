"""Training an interpolation network, checkpointing as it goes and resuming exactly where it stopped.

The network comes from the model registry (``model: {type: adacof, ...}``); the loss is the
weighted sum of the profile's registered loss terms, the VOS terms reading a frozen teacher
(``train.teacher``) built once per run. The optimiser, the learning-rate schedule
(:mod:`~vosvfi_core.training.optim`), the batches (:mod:`~vosvfi_core.training.batches`), the
checkpoint files (:mod:`~vosvfi_core.training.checkpoint_folder`), validation
(:mod:`~vosvfi_core.training.validation`) and data parallelism
(:mod:`~vosvfi_core.training.distributed`) each have their own module; this one runs the loop.

Resuming is exact: the batch and augmentation of a step, and its learning rate, are functions of
the step alone, and a checkpoint holds the weights, the optimiser state and the history. A run
killed after a checkpoint and resumed produces the same weights and losses as one that never
stopped, teacher and VOS terms included (the teachers are deterministic and frozen).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from vosvfi_core.checkpoint_format import check_state_dict, load_checkpoint, read_checkpoint
from vosvfi_core.devices import resolve_device
from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import kernel_estimation_in_float32
from vosvfi_core.models.registry import MODELS
from vosvfi_core.precision import autocast_dtype, resolve_precision
from vosvfi_core.provenance import code_version
from vosvfi_core.registry import Block
from vosvfi_core.training.batches import SeededItems, batch_addresses
from vosvfi_core.training.checkpoint_folder import CHECKPOINT_NAME, RUN_SETTINGS, CheckpointFolder
from vosvfi_core.training.config import TrainConfig
from vosvfi_core.training.determinism import (
    determinism_record,
    loader_generator,
    recording_nondeterministic_ops,
    seed_worker,
    seeded_rngs,
    use_deterministic_algorithms,
)
from vosvfi_core.training.distributed import Distributed, distributed, wrap_for_training
from vosvfi_core.training.losses import LossTerm, TrainStep
from vosvfi_core.training.optim import build_optimizer, learning_rate, set_learning_rate
from vosvfi_core.training.requirements import check_trainable, loss_terms, masks_available, needs_masks
from vosvfi_core.training.validation import validation_psnr
from vosvfi_core.vos.teachers import TEACHERS

__all__ = [
    "CHECKPOINT_NAME",
    "RUN_SETTINGS",
    "TrainProgress",
    "TrainResult",
    "Trainer",
    "check_trainable",
    "loss_terms",
    "masks_available",
    "needs_masks",
    "plan_steps",
    "teacher_ramp",
    "train",
]

_MASK_KEYS = ("mask0", "mask1", "mask2")


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
    checkpoint: Path  # last.pth: the final training state
    model: Path  # model.pth: the final weights alone
    best: Path | None  # best.pth, when validation ran
    start_step: int  # 0 for a fresh run, else the step of the checkpoint resumed from
    steps: int
    history: list[dict[str, Any]]  # train_history rows without run_id and model


def plan_steps(config: TrainConfig, samples: int, world_size: int = 1) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)``: full global batches only, capped by ``max_steps``."""
    global_batch = config.batch_size * world_size
    steps_per_epoch = samples // global_batch
    if steps_per_epoch == 0:
        ranks = f" × {world_size} processes" if world_size > 1 else ""
        raise VosvfiError(f"train.batch_size is {config.batch_size}{ranks} but the training set has only {samples} samples")
    total = steps_per_epoch * config.epochs
    return steps_per_epoch, min(total, config.max_steps) if config.max_steps else total


def _check_items_have_masks(terms: list[LossTerm], dataset: Dataset) -> None:
    needing = [term.name for term in terms if term.needs_masks]
    if not needing:
        return
    with seeded_rngs(0):  # reading an item draws its augmentation: never from RNGs another thread is using
        first = dataset[0]
    missing = [key for key in _MASK_KEYS if key not in first]
    if missing:
        raise VosvfiError(f"train.losses: the {needing[0]} term needs object masks but the training set's items have no {', '.join(missing)}")


def _check_same_training(path: Path, stored: dict[str, Any], config: TrainConfig, model_block: Block) -> None:
    """A checkpoint of other training settings is not resumed: its weights would silently continue another run."""
    current = config.model_dump(mode="json")
    for field, value in stored.get("config", {}).items():
        if field not in RUN_SETTINGS and current.get(field) != value:
            raise VosvfiError(f"{path} was trained with train.{field} = {value!r}, not {current.get(field)!r}; restart training or use another folder")
    if "model" in stored and stored["model"] != model_block.model_dump(mode="json"):
        raise VosvfiError(f"{path} was trained with model {stored['model']}, not {model_block.model_dump(mode='json')}; restart training or use another folder")


def _init_from(network: nn.Module, path: Path, device: torch.device) -> None:
    """Start from the weights of an AdaCoF checkpoint (strictly: every key, every shape)."""
    published, _ = load_checkpoint(path, device=device)
    state = published.state_dict()
    check_state_dict(path, state, network)
    network.load_state_dict(state, strict=True)


@contextlib.contextmanager
def _autocast(network: nn.Module, dtype: torch.dtype | None, device: torch.device) -> Iterator[None]:
    """Autocast for the convolutions; AdaCoF's sampling and blend stay float32 (offsets of tens of pixels need it)."""
    if dtype is None:
        yield
        return
    with kernel_estimation_in_float32(network), torch.autocast(device.type, dtype=dtype):
        yield


def teacher_ramp(step: int, warmup_steps: int) -> float:
    """The factor on the terms that read the VOS teacher at 0-based ``step``: rising linearly to 1 over ``warmup_steps``."""
    return 1.0 if warmup_steps == 0 else min(1.0, step / warmup_steps)


def _history_rows(step: int, epoch: int, values: dict[str, float]) -> list[dict[str, Any]]:
    return [{"step": step, "epoch": epoch, "quantity": name, "value": float(value)} for name, value in values.items()]


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Tensor]:
    return {key: value.to(device, non_blocking=True) for key, value in batch.items() if isinstance(value, Tensor)}


def train(
    config: TrainConfig,
    model_block: Block,
    dataset: Dataset,
    checkpoint_dir: Path,
    *,
    validation: Dataset | None = None,
    monitors: Mapping[str, Dataset] | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    restart: bool = False,
) -> TrainResult:
    """Train (or resume training) on ``dataset`` (items with ``frame0``, ``frame1``, ``frame2``, and ``mask0..2`` for the VOS terms).

    ``checkpoint_dir`` receives the files of :mod:`~vosvfi_core.training.checkpoint_folder`; if it holds
    ``last.pth``, training continues from it (refused if it was trained with other settings),
    unless ``restart`` asks to start over (and removes the earlier files). ``validation`` (items as
    in ``dataset``) is scored every ``validate_every`` epochs and at the end; the best becomes
    ``best.pth``. ``monitors`` (name → items as in ``dataset``) are scored at the start and with every
    validation, logged as ``psnr:<name>``, and never pick a checkpoint. Under ``torchrun`` every rank calls this alike. Returns the history rows of the
    whole run (on rank 0; the other ranks' are empty).
    """
    check_trainable(config)  # before joining a process group: a bad setting fails every rank at once, in one line
    device = resolve_device(config.device, field="train.device")
    with distributed(device) as place:
        return Trainer(config, model_block, dataset, checkpoint_dir, validation=validation, monitors=monitors, place=place).run(progress, restart=restart)


class Trainer:
    """One training run: the network, its optimiser and teacher, and the loop over steps.

    :func:`train` is the entry point; this class is for callers that also want the trained
    ``network`` in memory (every rank's, under data parallelism: the multi-process test reads it).
    Settings and data are checked here, before the network is built.
    """

    def __init__(
        self,
        config: TrainConfig,
        model_block: Block,
        dataset: Dataset,
        checkpoint_dir: Path,
        *,
        validation: Dataset | None = None,
        monitors: Mapping[str, Dataset] | None = None,
        place: Distributed | None = None,
    ) -> None:
        check_trainable(config)
        self.terms = loss_terms(config)
        _check_items_have_masks(self.terms, dataset)
        if validation is not None and len(validation) == 0:  # type: ignore[arg-type]
            raise VosvfiError("the validation set is empty")
        place = place or Distributed()  # alone, unless train() joined a process group
        self.config, self.model_block, self.dataset, self.validation, self.place = config, model_block, dataset, validation, place
        self.monitors = dict(monitors or {})
        self.device = place.device(resolve_device(config.device, field="train.device"))
        self.files = CheckpointFolder(Path(checkpoint_dir), config.keep_last)
        self.samples = len(dataset)  # type: ignore[arg-type]
        self.per_epoch, self.total = plan_steps(config, self.samples, place.world_size)
        self.precision = resolve_precision(config.precision, self.device, field="train.precision")
        self.autocast_dtype = autocast_dtype(self.precision, self.device)
        if config.deterministic:
            use_deterministic_algorithms(self.device)
        with seeded_rngs(config.seed):  # the initial weights follow the seed alone, whatever other threads draw meanwhile
            self.network: nn.Module = MODELS.build(model_block).to(self.device)
            self.optimizer = build_optimizer(config, self.network.parameters())
            self.teacher = self._build_teacher()
        self.determinism = determinism_record(self.device)
        self.history: list[dict[str, Any]] = []
        self.seconds = 0.0
        self.best_psnr = -math.inf
        self.best_path: Path | None = None

    def _build_teacher(self) -> Any:
        if self.config.teacher is None or not any(term.needs_teacher for term in self.terms):
            return None
        teacher = TEACHERS.build(self.config.teacher, self.device)
        if isinstance(teacher, nn.Module):
            teacher.requires_grad_(False).eval()
        return teacher

    # -- state -------------------------------------------------------------------------------

    def _start(self, restart: bool) -> int:
        """The step to start from: 0, or that of ``last.pth`` after restoring its state."""
        if restart:
            if self.place.is_main:
                self.files.clear()
            self.place.barrier()
        elif self.files.last.is_file():
            return self._restore(self.files.last)
        if self.config.init_from is not None:
            _init_from(self.network, self.config.init_from, self.device)
        return 0

    def _restore(self, path: Path) -> int:
        checkpoint = read_checkpoint(path, device=self.device)
        extra = checkpoint.get("extra")
        if not isinstance(extra, dict) or "step" not in extra:
            raise VosvfiError(f"{path} is not a training checkpoint of this trainer (no optimiser state); delete it to start over")
        _check_same_training(path, extra, self.config, self.model_block)
        self.network.load_state_dict(checkpoint["state_dict"], strict=True)
        self.optimizer.load_state_dict(extra["optimizer"])
        self.history = list(extra["history"]) if self.place.is_main else []
        self.seconds = float(extra["seconds"])
        self.best_psnr = float(extra.get("best_psnr", -math.inf))
        self.best_path = self.files.best if self.files.best.is_file() else None
        return int(extra["step"])

    def _metadata(self) -> dict[str, Any]:
        return {
            "config": self.config.model_dump(mode="json"),
            "model": self.model_block.model_dump(mode="json"),
            "teacher": self.config.teacher.model_dump(mode="json") if self.config.teacher is not None else None,
            "sampling_mode": getattr(self.network, "sampling_mode", None),
            "precision": self.precision,
            "determinism": self.determinism.as_dict(),
            "code_version": code_version(),
            "world_size": self.place.world_size,
        }

    def _save(self, step: int) -> Path:
        extra = {
            "step": step,
            "history": self.history,
            "seconds": self.seconds,
            "best_psnr": self.best_psnr,
            "optimizer": self.optimizer.state_dict(),
            **self._metadata(),
        }
        return self.files.save(self.network, step=step, epoch=step // self.per_epoch, extra=extra)

    # -- the loop ------------------------------------------------------------------------------

    def _loader(self, start: int) -> DataLoader:
        config, place = self.config, self.place
        addresses = batch_addresses(
            config.seed, self.samples, config.batch_size, self.per_epoch, start, self.total, rank=place.rank, world_size=place.world_size
        )
        return DataLoader(
            SeededItems(self.dataset, config.seed),
            batch_sampler=list(addresses),
            num_workers=config.num_workers,
            generator=loader_generator(config.seed),  # the base seed is not drawn from the (shared) global RNG
            worker_init_fn=seed_worker,
            pin_memory=self.device.type == "cuda",
        )

    def _step(self, forward: nn.Module, batch: dict[str, Tensor], step: int) -> tuple[Tensor, dict[str, Tensor]]:
        with _autocast(self.network, self.autocast_dtype, self.device):
            output = forward(batch["frame0"], batch["frame2"])
        state = TrainStep(output, batch, teacher=self.teacher)
        values = {term.name: term.compute(state) for term in self.terms}
        ramp = teacher_ramp(step, self.config.teacher_warmup_steps)
        loss = sum(term.weight * (ramp if term.needs_teacher else 1.0) * values[term.name] for term in self.terms)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss, values

    def _validate_now(self, done: int) -> bool:
        if (self.validation is None and not self.monitors) or not self.place.is_main:
            return False
        epoch_end = done % self.per_epoch == 0
        return done == self.total or (epoch_end and (done // self.per_epoch) % self.config.validate_every == 0)

    def _monitor(self, done: int, epoch: int) -> None:
        """Score the monitor sets: learning curves, never a checkpoint choice."""
        if self.monitors and self.place.is_main:
            scores = {f"psnr:{name}": validation_psnr(self.network, data) for name, data in self.monitors.items()}
            self.history += _history_rows(done, epoch, scores)

    def run(self, progress: Callable[[TrainProgress], None] | None = None, *, restart: bool = False) -> TrainResult:
        config, place = self.config, self.place
        start = self._start(restart)
        forward = wrap_for_training(self.network, place, self.device)
        forward.train()
        global_batch = config.batch_size * place.world_size
        if start == 0 and place.is_main:
            self._monitor(0, 0)  # the learning curves start from the untrained network
        clock = time.perf_counter()
        for step, batch in enumerate(self._loader(start), start=start):
            lr = learning_rate(config, step, self.per_epoch)
            set_learning_rate(self.optimizer, lr)
            if step == start and self.determinism.deterministic_algorithms:  # ops without a deterministic kernel warn on the first step
                with recording_nondeterministic_ops() as ops:
                    loss, values = self._step(forward, _to(batch, self.device), step)
                self.determinism.nondeterministic_ops = ops
            else:
                loss, values = self._step(forward, _to(batch, self.device), step)
            done, epoch = step + 1, step // self.per_epoch
            now = time.perf_counter()
            step_seconds, clock = now - clock, now
            self.seconds += step_seconds
            if done % config.log_every == 0 or done == self.total:
                logged = place.mean({"loss": loss.item(), **{name: value.item() for name, value in values.items()}}, self.device)
                logged |= {"lr": lr, "seconds": self.seconds, "samples_per_second": global_batch / max(step_seconds, 1e-9)}
                if place.is_main:
                    self.history += _history_rows(done, epoch, logged)
            improved = False
            if self._validate_now(done):
                self._monitor(done, epoch)
                if self.validation is not None:
                    score = validation_psnr(self.network, self.validation)
                    self.history += _history_rows(done, epoch, {"val_psnr": score})
                    improved = score > self.best_psnr
                    self.best_psnr = max(self.best_psnr, score)
            if place.is_main and (done % config.checkpoint_every == 0 or done % self.per_epoch == 0 or done == self.total):
                saved = self._save(done)
                if improved:
                    self.files.mark_best(saved)
                    self.best_path = self.files.best
            clock = time.perf_counter()  # validation and checkpoint writing are not training time
            if progress is not None and place.is_main:
                progress(TrainProgress(done, self.total, epoch, loss.item(), lr, self.seconds))
        if place.is_main and (start < self.total or not self.files.model.is_file()):
            self.files.save_model(self.network, {"source": CHECKPOINT_NAME, "step": self.total, "epoch": self.total // self.per_epoch, **self._metadata()})
        return TrainResult(self.files.last, self.files.model, self.best_path, start, self.total, self.history)
