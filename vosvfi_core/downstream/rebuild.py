"""Rebuilding a video at half its frame rate: drop the odd frames and interpolate each from its even neighbours.

Frame ``2i+1`` is replaced by ``interpolator(frame 2i, frame 2i+2)``; even frames are the source's
own tensors, untouched. In an even-length sequence the last frame is odd and has no right
neighbour: it is kept as it is and not counted as rebuilt (the DAVIS protocol leaves the last
frame out of the scores anyway).

Frames are read lazily: :func:`lazy_frames` wraps anything with ``frame(i)`` and ``len`` (a
``DavisSequence``, a ``TrackingSequence``), and a :class:`RebuiltSequence` holds only the rebuilt
frames, reading the even ones from its source whenever they are asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, overload

import torch
from torch import Tensor

from vosvfi_core.errors import VosvfiError

__all__ = ["FrameInterpolator", "FrameSource", "LazyFrames", "RebuiltSequence", "lazy_frames", "rebuild_sequence", "rebuilt_indices"]

# Two [1, 3, H, W] frames in, the middle frame [1, 3, H, W] out: any interpolator of the evaluation
# registry (a named callable) or a plain function.
FrameInterpolator = Callable[[Tensor, Tensor], Tensor]


class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def frame(self, index: int) -> Tensor: ...


class _FrameSequence(Sequence[Tensor]):
    """A sequence of frames given by ``_frame(i)`` for ``0 <= i < len``: negative indices and slices as for a list."""

    def __len__(self) -> int:
        raise NotImplementedError

    def _frame(self, index: int) -> Tensor:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Tensor: ...

    @overload
    def __getitem__(self, index: slice) -> list[Tensor]: ...

    def __getitem__(self, index: int | slice) -> Tensor | list[Tensor]:
        if isinstance(index, slice):
            return [self._frame(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} out of range for {len(self)} frames")
        return self._frame(index % len(self))

    def __iter__(self) -> Iterator[Tensor]:
        return (self._frame(i) for i in range(len(self)))


class LazyFrames(_FrameSequence):
    """A read-on-access view of a data set's sequence: item i is ``source.frame(i)``."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def _frame(self, index: int) -> Tensor:
        return self.source.frame(index)


def lazy_frames(source: FrameSource) -> LazyFrames:
    """The frames of ``source`` (``frame(i)``, ``len``) as a sequence that reads each on access."""
    return LazyFrames(source)


def rebuilt_indices(count: int) -> list[int]:
    """The odd frames of a ``count``-frame sequence that have both neighbours: 1, 3, …, below ``count - 1``."""
    return list(range(1, count - 1, 2))


class RebuiltSequence(_FrameSequence):
    """A full-length sequence: the source's frames, the rebuilt ones replaced by the interpolator's."""

    def __init__(self, source: Sequence[Tensor], rebuilt: dict[int, Tensor]) -> None:
        self.source = source
        self._rebuilt = rebuilt

    @property
    def rebuilt(self) -> tuple[int, ...]:
        """Indices of the interpolated frames, ascending."""
        return tuple(sorted(self._rebuilt))

    def __len__(self) -> int:
        return len(self.source)

    def _frame(self, index: int) -> Tensor:
        return self._rebuilt[index] if index in self._rebuilt else self.source[index]


def _interpolate(interpolator: FrameInterpolator, frame0: Tensor, frame2: Tensor, index: int) -> Tensor:
    with torch.no_grad():
        output = interpolator(frame0.unsqueeze(0), frame2.unsqueeze(0))
    if not isinstance(output, Tensor) or output.shape != (1, *frame0.shape):
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise VosvfiError(f"rebuilding frame {index}: the interpolator returned {shape}, expected {(1, *frame0.shape)}")
    return output[0].detach().to(device="cpu", dtype=frame0.dtype)


def rebuild_sequence(frames: Sequence[Tensor], interpolator: FrameInterpolator) -> RebuiltSequence:
    """Replace every odd frame that has both neighbours by ``interpolator(frame 2i, frame 2i+2)``.

    ``frames`` are ``[3, H, W]`` tensors (a :class:`LazyFrames` keeps just two in memory while
    interpolating). The interpolator takes and returns ``[1, 3, H, W]``. Returns the full-length
    sequence; its ``rebuilt`` attribute lists the interpolated indices.
    """
    rebuilt: dict[int, Tensor] = {}
    indices = rebuilt_indices(len(frames))
    if not indices:
        return RebuiltSequence(frames, rebuilt)
    left = frames[0]
    for index in indices:
        right = frames[index + 1]
        rebuilt[index] = _interpolate(interpolator, left, right, index)
        left = right  # the right neighbour of this gap is the left one of the next
    return RebuiltSequence(frames, rebuilt)
