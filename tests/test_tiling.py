"""Overlapping tiles: the spans cover the frame, the blend weights sum to one, tiled equals whole where it should."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vosvfi_core.errors import VosvfiError
from vosvfi_core.models import adacof
from vosvfi_core.tiling import blend_weights, check_tiling, interpolate_tiled, tile_spans, tiled


def _average(frame0, frame2):
    return (frame0 + frame2) / 2


def _box_blur_of_average(radius: int):
    """A local operator: each output pixel depends on inputs at most ``radius`` pixels away (zero padding)."""

    def run(frame0, frame2):
        channels = frame0.shape[1]
        kernel = torch.full((channels, 1, 2 * radius + 1, 2 * radius + 1), 1 / (2 * radius + 1) ** 2, dtype=frame0.dtype)
        return F.conv2d((frame0 + frame2) / 2, kernel, padding=radius, groups=channels)

    return run


@pytest.mark.parametrize("multiple", [1, 8, 32])
def test_cardinality_spans_cover_the_axis_with_the_overlap_and_tile_limit(multiple):
    for size in range(1, 400, 11):
        for tile in (16, 48, 64, 100):
            for overlap in range(0, tile // 2 + 1, 5):
                spans = tile_spans(size, tile, overlap, multiple=multiple)
                assert spans[0][0] == 0 and spans[-1][1] == size
                assert all(stop - start <= tile for start, stop in spans)
                assert len({stop - start for start, stop in spans}) == 1
                for (start, stop), (next_start, _) in zip(spans, spans[1:]):
                    assert start < next_start and stop - next_start >= overlap


def test_cardinality_fewest_tiles_and_whole_frame_when_it_fits():
    assert tile_spans(720, 1024, 128) == [(0, 720)]
    assert tile_spans(1280, 1024, 128, multiple=32) == [(0, 704), (576, 1280)]
    assert len(tile_spans(3840, 1024, 128, multiple=32)) == 5
    assert tile_spans(50, 0, 0) == [(0, 50)]


def test_feature_blend_weights_sum_to_one_and_stay_inside_their_tile():
    for size in range(1, 300, 7):
        for tile, overlap in ((16, 0), (16, 8), (32, 5), (64, 32), (100, 40)):
            spans = tile_spans(size, tile, overlap)
            weights = blend_weights(size, spans, overlap)
            assert weights.shape == (len(spans), size)
            torch.testing.assert_close(weights.sum(0), torch.ones(size), atol=1e-6, rtol=0)
            assert weights.min() >= 0
            for row, (start, stop) in enumerate(spans):
                assert not weights[row, :start].any() and not weights[row, stop:].any()


def test_feature_blend_is_a_raised_cosine_centred_in_the_overlap():
    spans = [(0, 64), (48, 112)]  # overlap 48..64, band of 8 pixels centred: 52..60
    weights = blend_weights(112, spans, 16)
    assert torch.all(weights[0, :52] == 1) and torch.all(weights[1, 60:] == 1)
    ramp = weights[1, 52:60]
    expected = 0.5 - 0.5 * torch.cos(torch.pi * (torch.arange(8) + 0.5) / 8)
    torch.testing.assert_close(ramp, expected.float())


def test_feature_tiled_frame_average_equals_whole():
    frame0, frame2 = torch.rand(2, 3, 70, 130), torch.rand(2, 3, 70, 130)
    out = interpolate_tiled(_average, frame0, frame2, tile=32, overlap=8)
    torch.testing.assert_close(out, _average(frame0, frame2), atol=1e-6, rtol=0)


@pytest.mark.parametrize("radius", [1, 2, 4])
def test_feature_local_operator_is_exact_within_a_quarter_of_the_overlap(radius):
    """Tiles contribute nothing within overlap // 4 pixels of a cut edge: a radius up to that is exact."""
    frame0, frame2 = torch.rand(1, 3, 90, 150), torch.rand(1, 3, 90, 150)
    operator = _box_blur_of_average(radius)
    whole = operator(frame0, frame2)
    exact = interpolate_tiled(operator, frame0, frame2, tile=48, overlap=4 * radius)
    torch.testing.assert_close(exact, whole, atol=1e-6, rtol=0)
    # With a smaller overlap the tiles' zero padding shows at the seams: the bound is not loose.
    seams = interpolate_tiled(operator, frame0, frame2, tile=48, overlap=2 * radius - 2 if radius > 1 else 0)
    assert (seams - whole).abs().max() > 1e-3


def test_feature_adacof_tiled_close_to_whole():
    """An untrained AdaCoF: the warp reaches 2 px and the U-Net's deep features barely matter at init,
    so with 32 px of overlap (8 px of margin) tiles agree to 1e-4. A trained network's receptive
    field is wider: that is why the command's default overlap is 128."""
    torch.manual_seed(1)
    model = adacof(kernel_size=5).eval()
    smooth = F.interpolate(torch.rand(1, 3, 12, 20), size=(96, 160), mode="bicubic", align_corners=False).clamp(0, 1)
    frame0, frame2 = smooth, (smooth + 0.05 * torch.randn_like(smooth)).clamp(0, 1)
    with torch.no_grad():
        whole = model(frame0, frame2)
        out = interpolate_tiled(model, frame0, frame2, tile=64, overlap=32, multiple=32)
    assert len(tile_spans(160, 64, 32, multiple=32)) > 1 and len(tile_spans(96, 64, 32, multiple=32)) > 1
    torch.testing.assert_close(out, whole, atol=1e-4, rtol=0)


def test_smoke_frames_smaller_than_the_tile_go_through_whole():
    calls = []

    def record(frame0, frame2):
        calls.append(tuple(frame0.shape))
        return _average(frame0, frame2)

    tiled(record, tile=64, overlap=16)(torch.rand(1, 3, 40, 64), torch.rand(1, 3, 40, 64))
    assert calls == [(1, 3, 40, 64)]
    calls.clear()
    tiled(record, tile=64, overlap=16)(torch.rand(1, 3, 40, 100), torch.rand(1, 3, 40, 100))
    assert calls == [(1, 3, 40, 58), (1, 3, 40, 58)]


@pytest.mark.parametrize(("tile", "overlap", "expected"), [(64, 40, "more than half"), (-1, 0, "must not be negative"), (32, -2, "must not be negative")])
def test_exception_bad_tile_settings(tile, overlap, expected):
    with pytest.raises(VosvfiError, match=expected):
        check_tiling(tile, overlap)
