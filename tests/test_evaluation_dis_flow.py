"""The dis_flow baseline on translated textures, where the true middle frame is known exactly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vosvfi_core.errors import VosvfiError
from vosvfi_core.evaluation import INTERPOLATORS, InterpolatorContext, psnr
from vosvfi_core.evaluation.dis_flow import dis_flow_middle
from vosvfi_core.flow import backward_warp, dis_flows, occluded, to_image, to_tensor

CPU = InterpolatorContext(torch.device("cpu"))
MARGIN_DB = 20.0  # measured: dis_flow 52-60 dB, the frame average about 22.5 dB on these pairs


def _shifted_triplet(seed: int, shift: int = 4, size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth colour texture moving ``shift`` px to the right: frame0, the true middle frame, frame2."""
    generator = torch.Generator().manual_seed(seed)
    border = 8
    texture = F.interpolate(torch.rand(1, 3, 16, 16, generator=generator), size=(size + 2 * border,) * 2, mode="bicubic", align_corners=False)[0].clamp(0, 1)

    def window(offset: int) -> torch.Tensor:
        return texture[:, border : border + size, border - offset : border - offset + size]

    return window(0), window(shift // 2), window(shift)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_dis_flow_recovers_the_half_shift(seed: int) -> None:
    frame0, middle, frame2 = _shifted_triplet(seed)
    output = INTERPOLATORS.build("dis_flow", CPU)(frame0[None], frame2[None])[0]
    average = psnr((frame0 + frame2) / 2, middle)
    assert psnr(output, middle) > average + MARGIN_DB


def test_feature_dis_flow_of_identical_frames_is_the_frame() -> None:
    frame, _, _ = _shifted_triplet(3)
    torch.testing.assert_close(dis_flow_middle(frame, frame), frame, atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_occlusion_aware_blending_beats_plain_averaging_at_the_edges(seed: int) -> None:
    """Content entering (left) and leaving (right) the frame is seen in one input only; the blend must take that one."""
    frame0, middle, frame2 = _shifted_triplet(seed)
    output = dis_flow_middle(frame0, frame2)
    flow_02, flow_20 = dis_flows(frame0, frame2)
    plain = to_tensor((backward_warp(to_image(frame0), 0.5 * flow_20) + backward_warp(to_image(frame2), 0.5 * flow_02)) / 2, frame0)
    for strip in (slice(0, 2), slice(-2, None)):
        assert psnr(output[:, :, strip], middle[:, :, strip]) > psnr(plain[:, :, strip], middle[:, :, strip]) + 10


def test_feature_flow_and_occlusion_of_a_translation() -> None:
    frame0, _, frame2 = _shifted_triplet(0)
    flow_02, flow_20 = dis_flows(frame0, frame2)
    assert float(flow_02[8:-8, 8:-8, 0].mean()) == pytest.approx(4.0, abs=0.1) and float(abs(flow_02[8:-8, 8:-8, 1]).mean()) < 0.1
    assert float(flow_20[8:-8, 8:-8, 0].mean()) == pytest.approx(-4.0, abs=0.1)
    leaving = occluded(flow_02, flow_20)  # frame0's rightmost 4 columns leave the frame
    assert leaving[:, -4:].all() and not leaving[8:-8, 8:-8].any()


def test_cardinality_batches_names_and_presets() -> None:
    frames = torch.stack([_shifted_triplet(seed)[0] for seed in range(2)])  # [2, 3, 64, 64]
    baseline = INTERPOLATORS.build("dis_flow", CPU)
    output = baseline(frames, frames.flip(0))
    assert baseline.name == "dis_flow" and output.shape == (2, 3, 64, 64) and output.dtype == torch.float32
    torch.testing.assert_close(output[0], dis_flow_middle(frames[0], frames[1]))
    assert INTERPOLATORS.build({"type": "dis_flow", "preset": "fast"}, CPU).name == "dis_flow_fast"
    with pytest.raises(VosvfiError, match="preset"):
        INTERPOLATORS.build({"type": "dis_flow", "preset": "slow"}, CPU)
    with pytest.raises(ValueError, match="one shape"):
        baseline(frames, frames[:1])
