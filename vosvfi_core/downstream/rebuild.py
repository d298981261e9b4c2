"""Rebuilding a video at half its frame rate: drop the odd frames and interpolate each from its even neighbours.

Frame ``2i+1`` is replaced by ``interpolator(frame 2i, frame 2i+2)``; even frames are the source's
own tensors, untouched. In an even-length sequence the last frame is odd and has no right
neighbour: it is kept as it is and not counted as rebuilt (the DAVIS protocol leaves the last
frame out of the scores anyway).

Frames are read lazily: :func:`lazy_frames` wraps anything with ``frame(i)`` and ``len`` (a
``DavisSequence``, a ``TrackingSequence``), and a :class:`RebuiltSequence` holds only the rebuilt
frames, reading the even ones from its source whenever they are asked for.

A rebuilt video is stored as a real one would be (``storage``): ``uint8`` (the default) clamps
each interpolated frame to [0, 1] and rounds it to 8 bits, as a video file holds it; ``jpeg``
also writes every frame of the rebuilt video (the even ones too) as a JPEG at ``jpeg_quality``
and reads it back, as the original's evaluation did (torchvision ``save_image`` to ``.jpg``:
PIL's default quality 75); ``float`` keeps the interpolator's unclamped output.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, Protocol, overload

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import to_uint8

__all__ = [
    "JPEG_QUALITY",
    "FrameInterpolator",
    "FrameSource",
    "FrameStorage",
    "LazyFrames",
    "RebuiltSequence",
    "lazy_frames",
    "rebuild_sequence",
    "rebuilt_indices",
    "storage_convention",
    "stored_frame",
]

FrameStorage = Literal["float", "uint8", "jpeg"]
JPEG_QUALITY = 75  # PIL's default, hence what the original's save_image(…, "x.jpg") wrote

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


def _check_storage(storage: str, jpeg_quality: int) -> None:
    if storage not in ("float", "uint8", "jpeg"):
        raise VosvfiError(f"frame storage must be float, uint8 or jpeg, got {storage!r}")
    if not 1 <= jpeg_quality <= 95:
        raise VosvfiError(f"jpeg_quality must lie in 1..95 (PIL's range), got {jpeg_quality}")


def stored_frame(frame: Tensor, storage: FrameStorage, *, jpeg_quality: int = JPEG_QUALITY) -> Tensor:
    """``[3, H, W]`` float RGB as ``storage`` keeps it, back as float in [0, 1] (``float``: unchanged)."""
    _check_storage(storage, jpeg_quality)
    if storage == "float":
        return frame
    pixels = to_uint8(frame)  # [H, W, 3] uint8, clamped and rounded
    if storage == "jpeg":
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=jpeg_quality)
        buffer.seek(0)
        with Image.open(buffer) as image:
            pixels = np.array(image.convert("RGB"))  # a writable copy
    return torch.from_numpy(pixels).permute(2, 0, 1).to(dtype=frame.dtype).div(255)


def storage_convention(storage: FrameStorage, jpeg_quality: int = JPEG_QUALITY) -> str:
    """The words the ``convention`` column carries for a storage."""
    _check_storage(storage, jpeg_quality)
    return {
        "float": "rebuilt frames=float (unclamped)",
        "uint8": "rebuilt frames=uint8",
        "jpeg": f"rebuilt video=JPEG q{jpeg_quality} (every frame re-encoded)",
    }[storage]


class RebuiltSequence(_FrameSequence):
    """A full-length sequence: the source's frames, the rebuilt ones replaced by the interpolator's.

    With ``encode`` (the ``jpeg`` storage), the source's frames are passed through it on access.
    """

    def __init__(self, source: Sequence[Tensor], rebuilt: dict[int, Tensor], encode: Callable[[Tensor], Tensor] | None = None) -> None:
        self.source = source
        self._rebuilt = rebuilt
        self._encode = encode

    @property
    def rebuilt(self) -> tuple[int, ...]:
        """Indices of the interpolated frames, ascending."""
        return tuple(sorted(self._rebuilt))

    def __len__(self) -> int:
        return len(self.source)

    def _frame(self, index: int) -> Tensor:
        if index in self._rebuilt:
            return self._rebuilt[index]
        frame = self.source[index]
        return self._encode(frame) if self._encode is not None else frame


def _interpolate(interpolator: FrameInterpolator, frame0: Tensor, frame2: Tensor, index: int) -> Tensor:
    with torch.no_grad():
        output = interpolator(frame0.unsqueeze(0), frame2.unsqueeze(0))
    if not isinstance(output, Tensor) or output.shape != (1, *frame0.shape):
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise VosvfiError(f"rebuilding frame {index}: the interpolator returned {shape}, expected {(1, *frame0.shape)}")
    return output[0].detach().to(device="cpu", dtype=frame0.dtype)


def rebuild_sequence(
    frames: Sequence[Tensor], interpolator: FrameInterpolator, *, storage: FrameStorage = "uint8", jpeg_quality: int = JPEG_QUALITY
) -> RebuiltSequence:
    """Replace every odd frame that has both neighbours by ``interpolator(frame 2i, frame 2i+2)``, stored as ``storage`` keeps it.

    ``frames`` are ``[3, H, W]`` tensors (a :class:`LazyFrames` keeps just two in memory while
    interpolating); the interpolator reads the source's frames, as the original read the
    dataset's JPEGs. The interpolator takes and returns ``[1, 3, H, W]``. Returns the full-length
    sequence; its ``rebuilt`` attribute lists the interpolated indices.
    """
    _check_storage(storage, jpeg_quality)
    rebuilt: dict[int, Tensor] = {}
    encode = (lambda frame: stored_frame(frame, "jpeg", jpeg_quality=jpeg_quality)) if storage == "jpeg" else None
    indices = rebuilt_indices(len(frames))
    if not indices:
        return RebuiltSequence(frames, rebuilt, encode)
    left = frames[0]
    for index in indices:
        right = frames[index + 1]
        rebuilt[index] = stored_frame(_interpolate(interpolator, left, right, index), storage, jpeg_quality=jpeg_quality)
        left = right  # the right neighbour of this gap is the left one of the next
    return RebuiltSequence(frames, rebuilt, encode)
