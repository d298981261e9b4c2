"""The DIS-flow refiner: an untrained network is the average of the two DIS warps; shapes, gradients, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vosvfi_core.checkpoint_format import load_checkpoint, save_checkpoint
from vosvfi_core.flow import backward_warp, dis_flows, to_image
from vosvfi_core.models.registry import MODELS


def _moving_pair(height: int = 40, width: int = 56, shift: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random texture and the same texture moved ``shift`` px right: a pair DIS can follow."""
    generator = torch.Generator().manual_seed(0)
    texture = torch.nn.functional.interpolate(torch.rand(1, 3, height // 4, (width + shift) // 4 + 1, generator=generator), scale_factor=4, mode="bicubic")
    texture = texture.clamp(0, 1)[..., :height, : width + shift]
    return texture[..., shift:].contiguous(), texture[..., :width].contiguous()


def test_feature_untrained_network_is_the_average_of_the_two_dis_warps() -> None:
    frame0, frame2 = _moving_pair()
    network = MODELS.build({"type": "flow_refine"}).eval()
    with torch.no_grad():
        middle = network(frame0, frame2)[0]
    # independently: OpenCV's flows and remap warps, half-way from each side
    flow02, flow20 = dis_flows(frame0[0], frame2[0])
    warped0 = backward_warp(to_image(frame0[0]), 0.5 * flow20)
    warped2 = backward_warp(to_image(frame2[0]), 0.5 * flow02)
    expected = torch.from_numpy((warped0 + warped2) / 2).permute(2, 0, 1)
    torch.testing.assert_close(middle, expected, atol=2e-3, rtol=0)


@pytest.mark.parametrize("size", [(32, 32), (37, 50), (8, 13)])
def test_cardinality_any_size_in_any_size_out(size: tuple[int, int]) -> None:
    network = MODELS.build({"type": "flow_refine", "width": 8})
    frames = torch.rand(2, 2, 3, *size)
    output = network.forward_train(frames[0], frames[1])
    assert output.frame.shape == (2, 3, *size) and output.g_spatial.dim() == 0 and output.g_occlusion.dim() == 0


def test_feature_every_parameter_learns_once_the_head_moves() -> None:
    torch.manual_seed(0)
    network = MODELS.build({"type": "flow_refine", "width": 8})
    frame0, frame2 = _moving_pair(24, 32)
    truth = (frame0 + frame2) / 2 + 0.05
    for _ in range(2):  # the zero head passes no gradient inwards on the first step
        network.zero_grad()
        (network(frame0, frame2) - truth).abs().mean().backward()
        with torch.no_grad():
            for parameter in network.parameters():
                parameter -= 1e-2 * parameter.grad.sign()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.parameters())


def test_feature_bf16_autocast_keeps_the_warps_in_float32() -> None:
    network = MODELS.build({"type": "flow_refine", "width": 8}).eval()
    frame0, frame2 = _moving_pair(24, 32)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = network(frame0, frame2)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, network(frame0, frame2).detach(), atol=1e-6, rtol=0)  # zero head: the warps alone


def test_feature_checkpoint_round_trip_rebuilds_the_registered_model(tmp_path: Path) -> None:
    network = MODELS.build({"type": "flow_refine", "width": 8, "preset": "fast"})
    with torch.no_grad():
        network.head.bias.fill_(0.01)
    save_checkpoint(tmp_path / "model.pth", network, epoch=1)
    loaded, _ = load_checkpoint(tmp_path / "model.pth")
    assert type(loaded) is type(network) and loaded.block() == network.block()
    frames = torch.rand(2, 1, 3, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*frames), network(*frames), rtol=0, atol=0)
    assert np.isfinite(loaded(*frames).detach().numpy()).all()
