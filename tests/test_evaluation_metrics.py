"""PSNR, masked PSNR and SSIM against scikit-image and NumPy; per-sample evaluation rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vosvfi_core.downstream.foreground import foreground_psnr
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, InterpolatorContext, apply_protocol, evaluate, masked_psnr, psnr, ssim

frame_average = INTERPOLATORS.build("frame_average", InterpolatorContext(torch.device("cpu")))
PSNR_SSIM = [METRICS.build("psnr"), METRICS.build("ssim")]


def _pair(seed: int, height: int = 24, width: int = 30, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(3, height, width, generator=generator)
    output = truth + noise * torch.randn(3, height, width, generator=generator)  # unclamped, as the network's
    return output, truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_psnr_matches_scikit_image(seed: int) -> None:
    output, truth = _pair(seed)
    expected = peak_signal_noise_ratio(truth.double().numpy(), output.double().numpy(), data_range=1.0)
    assert psnr(output, truth) == pytest.approx(expected, abs=1e-9)


def test_feature_psnr_known_values() -> None:
    truth = torch.zeros(3, 4, 4)
    assert psnr(truth + 0.1, truth) == pytest.approx(20.0)  # mse 0.01
    assert psnr(truth, truth) == math.inf


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_ssim_matches_scikit_image_gaussian(seed: int) -> None:
    output, truth = _pair(seed, 33, 41)
    expected = structural_similarity(
        truth.permute(1, 2, 0).double().numpy(),
        output.permute(1, 2, 0).double().numpy(),
        channel_axis=2,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(output, truth) == pytest.approx(expected, abs=1e-10)
    assert ssim(truth, truth) == pytest.approx(1.0)


def test_exception_metric_shapes() -> None:
    with pytest.raises(ValueError, match="one shape"):
        psnr(torch.zeros(3, 4, 4), torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(3, 8, 20), torch.zeros(3, 8, 20))
    with pytest.raises(ValueError, match="unknown protocol"):
        apply_protocol(torch.zeros(3, 2, 2), "jpeg")


def test_feature_masked_psnr_matches_numpy() -> None:
    output, truth = _pair(5)
    mask = torch.zeros(24, 30, dtype=torch.bool)
    mask[5:15, 3:20] = True
    squared = (truth.double().numpy() - output.double().numpy()) ** 2
    expected = -10 * np.log10(squared[:, mask.numpy()].mean())  # mean over mask pixels x channels
    assert masked_psnr(output, truth, mask) == pytest.approx(expected, abs=1e-9)
    assert math.isnan(masked_psnr(output, truth, torch.zeros(24, 30, dtype=torch.bool)))


def test_feature_uint8_protocol_rounds_like_a_saved_png() -> None:
    output = torch.tensor([-0.2, 0.5, 0.50196, 1.3]).view(1, 2, 2)
    assert apply_protocol(output, "uint8").mul(255).flatten().tolist() == pytest.approx([0.0, 128.0, 128.0, 255.0])
    assert apply_protocol(output, "float") is output


class _Triplets(torch.utils.data.Dataset):
    def __init__(self, count: int, with_masks: bool = False) -> None:
        generator = torch.Generator().manual_seed(3)
        self.frames = torch.rand(count, 3, 3, 16, 16, generator=generator)
        self.with_masks = with_masks

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        f = self.frames[index]
        item = {"frame0": f[0], "frame1": f[1], "frame2": f[2], "name": f"00001/{index + 1:04d}"}
        if self.with_masks:
            mask = torch.zeros(1, 16, 16)
            mask[:, 4:12, 4:12] = 1
            item["mask1"] = mask
        return item


def test_cardinality_evaluate_rows() -> None:
    rows = evaluate(
        frame_average,
        _Triplets(3),
        metrics=PSNR_SSIM,
        dataset_name="toy",
        split="test",
        protocols=["float", "uint8"],
    )
    assert len(rows) == 3 * 2 * 2  # samples x protocols x metrics, one row each
    assert {r["protocol"] for r in rows} == {"float", "uint8"} and {r["metric"] for r in rows} == {"psnr", "ssim"}
    assert {r["model"] for r in rows} == {"frame_average"} and all(r["convention"] and r["note"] is None for r in rows)
    item = _Triplets(3)[0]
    assert rows[0]["metric"] == "psnr" and rows[0]["value"] == pytest.approx(psnr((item["frame0"] + item["frame2"]) / 2, item["frame1"]))
    assert len(evaluate(frame_average, _Triplets(3), metrics=PSNR_SSIM[:1], dataset_name="d", split="s", max_samples=1)) == 1


def test_feature_foreground_psnr_rows() -> None:
    dataset = _Triplets(2, with_masks=True)
    rows = foreground_psnr(frame_average, dataset, dataset_name="toy")
    assert [r["metric"] for r in rows] == ["psnr_foreground", "psnr_background"] * 2
    item = dataset[0]
    mask = torch.zeros(16, 16, dtype=torch.bool)
    mask[4:12, 4:12] = True
    expected = masked_psnr((item["frame0"] + item["frame2"]) / 2, item["frame1"], mask)
    assert rows[0]["value"] == pytest.approx(expected)


def test_feature_tiled_model_equals_whole_frame_where_both_fit() -> None:
    from vosvfi_core.evaluation.interpolators import model_interpolator

    class PixelMix(torch.nn.Module):  # a per-pixel network: tiles cannot change its output
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(0.3))

        def forward(self, frame0: torch.Tensor, frame2: torch.Tensor) -> torch.Tensor:
            return self.weight * frame0 + (1 - self.weight) * frame2 + 0.1  # unclamped on purpose

    frame0, frame2 = torch.rand(1, 3, 96, 160), torch.rand(1, 3, 96, 160)
    whole = model_interpolator(PixelMix(), "mix")(frame0, frame2)
    tiles = model_interpolator(PixelMix(), "mix", tile=64, overlap=16)(frame0, frame2)
    torch.testing.assert_close(tiles, whole, rtol=0, atol=1e-6)
    assert whole.max() > 1  # the float protocol scores the unclamped output
