"""Interpolators by name: the run's trained model, any checkpoint file, and reference baselines.

Evaluation and the downstream checks treat them alike: each is a named callable taking two
``[B, 3, H, W]`` frames and returning the middle one. A profile names the baselines that run
beside the model (``evaluate.baselines: [frame_average]``); a new baseline is one module with one
``@INTERPOLATORS.register`` factory, whose first argument is the :class:`InterpolatorContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import TILE_MULTIPLE, network_runner, prepare_for_inference
from vosvfi_core.registry import Block, Registry
from vosvfi_core.tiling import tiled

__all__ = ["INTERPOLATORS", "Interpolator", "InterpolatorContext", "build_interpolators", "frame_average", "model_interpolator"]


@dataclass(frozen=True)
class InterpolatorContext:
    """Run-time facts a factory may need; never read from a profile."""

    device: torch.device
    trained_checkpoint: Path | None = None  # the checkpoint the run's train stage produced
    tile: int = 0  # networks see frames larger than this in overlapping tiles (0: always whole)
    overlap: int = 0
    precision: str = "fp32"  # networks' autocast precision (vosvfi_core.precision), resolved for the device


@dataclass(frozen=True)
class Interpolator:
    name: str  # the ``model`` column of the result tables
    fn: Callable[[Tensor, Tensor], Tensor]

    def __call__(self, frame0: Tensor, frame2: Tensor) -> Tensor:
        return self.fn(frame0, frame2)


INTERPOLATORS: Registry[Interpolator] = Registry("interpolator", builtins=("vosvfi_core.evaluation.interpolators", "vosvfi_core.evaluation.dis_flow"))


def model_interpolator(model: torch.nn.Module, name: str = "adacof", *, tile: int = 0, overlap: int = 0, precision: str = "fp32") -> Interpolator:
    """A network as an interpolator: inputs moved to its device, output (unclamped) back on the CPU.

    Frames larger than ``tile`` go through in overlapping tiles blended smoothly (:mod:`vosvfi_core.tiling`);
    ``precision`` is the autocast precision (:func:`vosvfi_core.interpolation.network_runner`).
    """
    run = tiled(network_runner(model, precision=precision), tile=tile, overlap=overlap, multiple=TILE_MULTIPLE)
    return Interpolator(name, lambda frame0, frame2: run(frame0, frame2).cpu())


def _average(frame0: Tensor, frame2: Tensor) -> Tensor:
    return (frame0 + frame2) / 2


@INTERPOLATORS.register("frame_average")
def frame_average(context: InterpolatorContext) -> Interpolator:
    """The reference every learned interpolator should beat: the mean of the two inputs."""
    return Interpolator("frame_average", _average)


@INTERPOLATORS.register("checkpoint")
def checkpoint(context: InterpolatorContext, *, path: Path, name: str = "checkpoint") -> Interpolator:
    """A checkpoint file (ours or a published AdaCoF one)."""
    from vosvfi_core.checkpoint_format import load_checkpoint

    model = prepare_for_inference(load_checkpoint(path, device=context.device)[0])
    return model_interpolator(model, name, tile=context.tile, overlap=context.overlap, precision=context.precision)


@INTERPOLATORS.register("trained")
def trained(context: InterpolatorContext, *, name: str = "adacof") -> Interpolator:
    """The model this run's train stage produced."""
    if context.trained_checkpoint is None:
        raise VosvfiError("interpolator 'trained': this run trains no model; name a checkpoint (evaluate.checkpoint) instead")
    return checkpoint(context, path=context.trained_checkpoint, name=name)


def build_interpolators(models: Mapping[str, Path], baselines: Sequence[Block], context: InterpolatorContext) -> list[Interpolator]:
    """The interpolators a run scores: each checkpoint of ``models`` (model name → file) under its name, then the baselines."""
    built = [INTERPOLATORS.build({"type": "checkpoint", "path": path, "name": name}, context) for name, path in models.items()]
    return built + [INTERPOLATORS.build(block, context) for block in baselines]
