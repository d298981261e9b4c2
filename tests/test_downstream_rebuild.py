"""Rebuilding a video's odd frames: even frames untouched, odd ones the interpolator's, frames read lazily."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from vosvfi_core.downstream.rebuild import lazy_frames, rebuild_sequence, rebuilt_indices, storage_convention
from vosvfi_core.errors import VosvfiError


def _frames(count: int) -> list[Tensor]:
    generator = torch.Generator().manual_seed(count)
    return [torch.rand(3, 6, 8, generator=generator) for _ in range(count)]


def _average(frame0: Tensor, frame2: Tensor) -> Tensor:
    return (frame0 + frame2) / 2


class _CountingSource:
    """A data-set sequence stand-in that counts how often each frame is read."""

    def __init__(self, frames: list[Tensor]) -> None:
        self.frames = frames
        self.reads = [0] * len(frames)

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> Tensor:
        self.reads[index] += 1
        return self.frames[index].clone()


@pytest.mark.parametrize(("count", "expected"), [(1, []), (2, []), (3, [1]), (6, [1, 3]), (7, [1, 3, 5])])
def test_cardinality_rebuilt_indices(count: int, expected: list[int]) -> None:
    assert rebuilt_indices(count) == expected


@pytest.mark.parametrize("count", [5, 6])
def test_feature_even_frames_bit_exact_odd_frames_interpolated(count: int) -> None:
    frames = _frames(count)
    rebuilt = rebuild_sequence(frames, _average, storage="float")
    assert len(rebuilt) == count
    assert rebuilt.rebuilt == tuple(range(1, count - 1, 2))
    for index in range(0, count, 2):
        assert torch.equal(rebuilt[index], frames[index])
    for index in rebuilt.rebuilt:
        assert torch.equal(rebuilt[index], (frames[index - 1] + frames[index + 1]) / 2)
        assert not torch.equal(rebuilt[index], frames[index])
    if count % 2 == 0:  # the trailing odd frame has no right neighbour: kept as it is
        assert torch.equal(rebuilt[count - 1], frames[count - 1])
    assert [t.shape for t in list(rebuilt)] == [f.shape for f in frames]
    assert torch.equal(rebuilt[-1], rebuilt[count - 1])
    assert len(rebuilt[1:4]) == 3


def test_feature_reads_each_frame_once_while_rebuilding() -> None:
    source = _CountingSource(_frames(7))
    rebuilt = rebuild_sequence(lazy_frames(source), _average)
    assert source.reads == [1, 0, 1, 0, 1, 0, 1]  # odd frames are never read; even ones once each
    assert torch.equal(rebuilt[2], source.frames[2])
    assert source.reads[2] == 2  # even frames are read again on access, not held


def test_feature_interpolator_sees_batched_neighbours() -> None:
    seen = []

    def spy(frame0: Tensor, frame2: Tensor) -> Tensor:
        seen.append((frame0.shape, frame2.shape))
        return frame0

    frames = _frames(5)
    rebuild_sequence(frames, spy)
    assert seen == [((1, 3, 6, 8), (1, 3, 6, 8))] * 2


def test_exception_interpolator_output_shape() -> None:
    with pytest.raises(VosvfiError, match=r"rebuilding frame 1: the interpolator returned \(3, 6, 8\)"):
        rebuild_sequence(_frames(3), lambda a, b: a[0])
    with pytest.raises(IndexError):
        rebuild_sequence(_frames(3), _average)[3]


def _overshoot(frame0: Tensor, frame2: Tensor) -> Tensor:
    """An interpolator whose output leaves [0, 1] and falls between 8-bit levels."""
    return (frame0 + frame2) * 0.8 - 0.1


def _levels(frame: Tensor) -> np.ndarray:
    """The 8-bit levels of a float frame, computed apart: clip, scale, round half to even."""
    return np.rint(np.clip(frame.numpy().astype(np.float64), 0, 1) * 255).astype(np.uint8)


def test_feature_uint8_storage_rounds_and_clamps_rebuilt_frames_only() -> None:
    frames = _frames(5)
    rebuilt = rebuild_sequence(frames, _overshoot)  # the default storage
    for index in (1, 3):
        raw = _overshoot(frames[index - 1][None], frames[index + 1][None])[0]
        assert raw.min() < 0 or raw.max() > 1  # the case exercises the clamp
        expected = torch.from_numpy(_levels(raw).astype(np.float32) / 255)
        torch.testing.assert_close(rebuilt[index], expected, rtol=0, atol=1e-7)
        assert not torch.equal(rebuilt[index], raw)
    for index in (0, 2, 4):
        assert torch.equal(rebuilt[index], frames[index])


def test_feature_jpeg_storage_reencodes_every_frame_at_the_given_quality() -> None:
    frames = _frames(5)
    rebuilt = rebuild_sequence(frames, _overshoot, storage="jpeg", jpeg_quality=60)

    def jpeg(frame: Tensor) -> Tensor:
        buffer = io.BytesIO()
        Image.fromarray(_levels(frame).transpose(1, 2, 0)).save(buffer, format="JPEG", quality=60)
        return torch.from_numpy(np.asarray(Image.open(buffer)).astype(np.float32) / 255).permute(2, 0, 1)

    for index in range(5):
        source = _overshoot(frames[index - 1][None], frames[index + 1][None])[0] if index in (1, 3) else frames[index]
        torch.testing.assert_close(rebuilt[index], jpeg(source), rtol=0, atol=1e-7)
    assert not torch.equal(rebuilt[0], frames[0])  # even frames are re-encoded too, as the original wrote them


def test_exception_storage() -> None:
    with pytest.raises(VosvfiError, match="frame storage must be float, uint8 or jpeg"):
        rebuild_sequence(_frames(3), _average, storage="png")  # type: ignore[arg-type]
    with pytest.raises(VosvfiError, match="jpeg_quality"):
        storage_convention("jpeg", 0)
