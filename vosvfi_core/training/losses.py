"""Loss terms of the training objective, each a registered factory of a named, weighted scalar.

A profile lists them as blocks, ``train.losses: [{type: charbonnier, weight: 1.0}, ...]``, or as
the original code's loss string ``"1*Charb+0.01*g_Spatial+0.005*g_Occlusion"``, which
:func:`parse_loss_string` turns into the same list (the original's names are the entries'
aliases). The trainer sums ``weight · term(step)`` over the list and logs every term by its name.

A term computes its value from a :class:`TrainStep`: the network's output, the batch, and (for
the VOS terms) the frozen teacher. Values that several terms share, such as the teacher's
propagated masks, are computed once per step through :meth:`TrainStep.shared`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import NonNegativeFloat
from torch import Tensor

from vosvfi_core.models.adacof import AdaCoFOutput, charbonnier
from vosvfi_core.registry import Registry

__all__ = ["LOSS_TERMS", "LossTerm", "TrainStep", "loss_blocks", "parse_loss_string"]


@dataclass
class TrainStep:
    """What a loss term may read at one optimiser step."""

    output: AdaCoFOutput  # the interpolated frame and the regularisers
    batch: Mapping[str, Tensor]  # frame0, frame1 (truth), frame2, and mask0..mask2 when loaded
    teacher: Any = None  # the frozen VOS teacher (vosvfi_core.vos.teachers.Teacher), when a term needs one
    _shared: dict[str, Any] = field(default_factory=dict)

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per step, whichever term asks first."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


@dataclass(frozen=True)
class LossTerm:
    name: str  # the history table's name for it
    weight: float
    compute: Callable[[TrainStep], Tensor]  # a scalar
    needs_masks: bool = False  # the batch must carry mask0..mask2
    needs_teacher: bool = False


# The VOS terms (seg, cons) live in their own module; importing it registers them.
LOSS_TERMS: Registry[LossTerm] = Registry("loss term", builtins=("vosvfi_core.training.losses", "vosvfi_core.training.vos_losses"))


@LOSS_TERMS.register("charbonnier", aliases=("Charb",))
def charbonnier_term(*, weight: NonNegativeFloat = 1.0, eps: float = 1e-3) -> LossTerm:
    """Charbonnier penalty of the interpolated frame against the true middle frame."""
    return LossTerm("charbonnier", weight, lambda step: charbonnier(step.output.frame - step.batch["frame1"], eps))


@LOSS_TERMS.register("g_spatial", aliases=("g_Spatial",))
def g_spatial_term(*, weight: NonNegativeFloat = 0.01) -> LossTerm:
    """Total variation of the kernel-weighted offsets (AdaCoF's spatial regulariser)."""
    return LossTerm("g_spatial", weight, lambda step: step.output.g_spatial)


@LOSS_TERMS.register("g_occlusion", aliases=("g_Occlusion",))
def g_occlusion_term(*, weight: NonNegativeFloat = 0.005) -> LossTerm:
    """Total variation of the occlusion map (AdaCoF's occlusion regulariser)."""
    return LossTerm("g_occlusion", weight, lambda step: step.output.g_occlusion)


_TERM = re.compile(r"^\s*(?:(?P<weight>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*$")


def parse_loss_string(text: str) -> list[dict[str, Any]]:
    """``"1*Charb+0.01*g_Spatial"`` → ``[{type: Charb, weight: 1.0}, {type: g_Spatial, weight: 0.01}]``.

    Names stay as written; the registry resolves the original's aliases when the blocks are checked.
    """
    blocks = []
    for part in text.split("+"):
        match = _TERM.match(part)
        if match is None:
            raise ValueError(f"loss string {text!r}: cannot read term {part.strip()!r} (expected WEIGHT*Name)")
        weight = match.group("weight")
        blocks.append({"type": match.group("name"), "weight": float(weight) if weight is not None else 1.0})
    return blocks


def loss_blocks(value: Any) -> Any:
    """A profile's ``train.losses`` in either form, as a list of blocks (a pydantic before-validator)."""
    return parse_loss_string(value) if isinstance(value, str) else value
