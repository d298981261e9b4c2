"""The VOS-VFI loss terms: the frozen teacher segments the interpolated frame, and the losses reach the interpolator.

The teacher propagates two masks onto the interpolated frame ``Î``: *forward*, from ``frame0``
with ``mask0`` as its memory, and *backward*, from ``frame2`` with ``mask2``. Both are soft object
probabilities ``[B, 1, H, W]``, differentiable with respect to ``Î`` and so with respect to the
interpolator's parameters (the teacher's own parameters are frozen). The terms read them as
logits (``Teacher.propagate_logits``) and compute each BCE with
``binary_cross_entropy_with_logits``: the same values as ``nn.BCELoss`` on the probabilities
wherever those are finite, but no pixel is cut off. Clamping the probabilities to [1e-7, 1 − 1e-7]
before a BCE (as a probability form must) gives zero gradient to every pixel beyond the clamp,
which for STCN's ``sigmoid(2x)`` is any |x| > 8.06, the confidently wrong pixels included, and
caps a pixel's loss at 16.1 (``nn.BCELoss`` caps at 100).

- ``seg`` (the original's ``Seg``): ``BCE(forward, mask1) + BCE(backward, mask1)``, against the
  true middle frame's mask. The original thresholded the propagated masks with an argmax, so
  this term never produced a gradient; here it does.
- ``cons`` (``Cons``): ``BCE(backward, forward)``, the original's order: the backward mask is the
  prediction and the forward mask (``sigmoid`` of its logits) the target. The target is
  detached. A BCE's gradient with respect to its target is ``logit(prediction)``, which pushes
  the target towards 0 or 1 rather than towards the prediction; minimising over the prediction
  alone is what makes the two agree.

The propagation is computed once per step, whichever term asks first (:meth:`TrainStep.shared`),
as one teacher call on a doubled batch (forward and backward memories side by side). It runs in
float32 with autocast off: the weight-free propagator's softmax at temperature 1e-3 needs the
precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import NonNegativeFloat
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.training.losses import LOSS_TERMS, LossTerm, TrainStep

__all__ = ["PROPAGATED", "cons_term", "propagated_logits", "propagated_masks", "seg_term"]

PROPAGATED = "vos.propagated"  # the TrainStep.shared key of the (forward, backward) logits
_MASKS = ("mask0", "mask1", "mask2")


def _propagate(step: TrainStep) -> tuple[Tensor, Tensor]:
    if step.teacher is None:
        raise VosvfiError("the seg and cons loss terms need a VOS teacher: set train.teacher")
    missing = [key for key in _MASKS if key not in step.batch]
    if missing:
        raise VosvfiError(f"the seg and cons loss terms need object masks; the batch has no {', '.join(missing)}")
    batch = step.batch
    frame = step.output.frame.float()  # [B, 3, H, W]
    memory_frames = torch.cat([batch["frame0"], batch["frame2"]]).float()[:, None]  # [2B, 1, 3, H, W]
    memory_masks = torch.cat([batch["mask0"], batch["mask2"]]).float()[:, None]  # [2B, 1, 1, H, W]
    with torch.autocast(frame.device.type, enabled=False):
        logits = step.teacher.propagate_logits(memory_frames, memory_masks, torch.cat([frame, frame]))  # [2B, 1, H, W]
    forward, backward = logits.float().chunk(2)
    return forward, backward


def propagated_logits(step: TrainStep) -> tuple[Tensor, Tensor]:
    """``(forward, backward)``: logits of the object's probability in the interpolated frame, from frame 0 and from frame 2."""
    return step.shared(PROPAGATED, lambda: _propagate(step))


def propagated_masks(step: TrainStep) -> tuple[Tensor, Tensor]:
    """``(forward, backward)``: the object's probability in the interpolated frame, from frame 0 and from frame 2."""
    forward, backward = propagated_logits(step)
    return torch.sigmoid(forward), torch.sigmoid(backward)


def _bce(logits: Tensor, target: Tensor) -> Tensor:
    with torch.autocast(logits.device.type, enabled=False):
        return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def _seg(step: TrainStep) -> Tensor:
    forward, backward = propagated_logits(step)
    truth = step.batch["mask1"]
    return _bce(forward, truth) + _bce(backward, truth)


def _cons(step: TrainStep) -> Tensor:
    forward, backward = propagated_logits(step)
    return _bce(backward, torch.sigmoid(forward).detach())


@LOSS_TERMS.register("seg", aliases=("Seg",))
def seg_term(*, weight: NonNegativeFloat = 1.0) -> LossTerm:
    """BCE of the forward and backward propagated masks against the true middle frame's mask (summed)."""
    return LossTerm("seg", weight, _seg, needs_masks=True, needs_teacher=True)


@LOSS_TERMS.register("cons", aliases=("Cons",))
def cons_term(*, weight: NonNegativeFloat = 1.0) -> LossTerm:
    """BCE of the backward propagated mask against the forward one (detached): the two propagations agree."""
    return LossTerm("cons", weight, _cons, needs_masks=True, needs_teacher=True)
