"""pyiqa's metrics: PSNR against NumPy, SSIM against scikit-image, LPIPS and DISTS without and with weight files."""

from __future__ import annotations

import logging
import math
import socket
import time
import urllib.error
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from skimage.metrics import structural_similarity

import vosvfi_core.evaluation.pyiqa_metrics as pyiqa_metrics  # its registrations, until the registry's builtins list it
from vosvfi_core.evaluation import INTERPOLATORS, METRICS, InterpolatorContext, MetricUnavailable, evaluate

PSNR_TOLERANCE_DB = 1e-4  # pyiqa computes in float32
SSIM_TOLERANCE = 1e-4  # float32 luma can round one pixel to the neighbouring level; that moves SSIM by ~1e-5


def _smooth_pair(seed: int, size: int = 48, noise: float = 0.03) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth truth and a noisy, unclamped output (smooth, so SSIM's contrast-structure term stays positive)."""
    generator = torch.Generator().manual_seed(seed)
    truth = F.interpolate(torch.rand(1, 3, 12, 12, generator=generator), size=(size, size), mode="bicubic", align_corners=False)[0].clamp(0, 1)
    return truth + noise * torch.randn(3, size, size, generator=generator), truth


def _hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).double().numpy()


@pytest.fixture
def weights_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Empty weight folders of the test's own (torch hub and pyiqa's cache) and no model kept from before."""
    from pyiqa.utils import download_util

    hub = tmp_path / "torch" / "hub"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(download_util, "DEFAULT_CACHE_DIR", str(hub / "pyiqa"))
    pyiqa_metrics.clear_pyiqa_models()
    yield hub
    pyiqa_metrics.clear_pyiqa_models()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Downloads fail at once, as on a machine without network; records the socket timeout of each attempt."""
    timeouts: list[float | None] = []

    def refuse(url: str, dst: str, hash_prefix: str | None = None, progress: bool = True) -> None:
        timeouts.append(socket.getdefaulttimeout())
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return timeouts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_psnr_pyiqa_matches_numpy(seed: int, weights_home: Path) -> None:
    output, truth = _smooth_pair(seed, noise=0.1)
    clamped = np.clip(output.double().numpy(), 0, 1)  # pyiqa scores the clamped output
    expected = 10 * np.log10(1 / (np.mean((clamped - truth.double().numpy()) ** 2) + 1e-8))
    metric = METRICS.build("psnr_pyiqa")
    assert metric.score(output, truth, {}) == pytest.approx(expected, abs=PSNR_TOLERANCE_DB)
    assert metric.score(truth, truth, {}) == pytest.approx(80.0, abs=PSNR_TOLERANCE_DB)  # the 1e-8 in the MSE


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_ssim_y_pyiqa_matches_scikit_image(seed: int, weights_home: Path) -> None:
    output, truth = _smooth_pair(seed)

    def luma(image: torch.Tensor) -> np.ndarray:
        return np.round(255 * _hwc(image.clamp(0, 1)) @ np.array([0.299, 0.587, 0.114]))

    expected = structural_similarity(luma(truth), luma(output), data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert METRICS.build("ssim_y_pyiqa").score(output, truth, {}) == pytest.approx(expected, abs=SSIM_TOLERANCE)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feature_ssim_rgb_pyiqa_matches_scikit_image(seed: int, weights_home: Path) -> None:
    output, truth = _smooth_pair(seed)

    def levels(image: torch.Tensor) -> np.ndarray:
        return np.round(255 * _hwc(image.clamp(0, 1)))

    expected = structural_similarity(
        levels(truth), levels(output), channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert METRICS.build("ssim_rgb_pyiqa").score(output, truth, {}) == pytest.approx(expected, abs=SSIM_TOLERANCE)


def test_feature_directions_and_conventions_match_pyiqa() -> None:
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    for name, pyiqa_name in [("psnr_pyiqa", "psnr"), ("ssim_y_pyiqa", "ssim"), ("ssim_rgb_pyiqa", "ssimc"), ("lpips", "lpips"), ("dists", "dists")]:
        metric = METRICS.build(name)
        assert metric.name == name and metric.higher_is_better == (not DEFAULT_CONFIGS[pyiqa_name].get("lower_better", False))
        assert metric.convention.startswith(f"pyiqa 0.1.16 '{pyiqa_name}': ")
    assert DEFAULT_CONFIGS["ssim"]["metric_opts"]["test_y_channel"] and not DEFAULT_CONFIGS["ssimc"]["metric_opts"]["test_y_channel"]
    assert DEFAULT_CONFIGS["lpips"]["metric_opts"]["net"] == "alex"


def test_feature_weight_files_and_folders(weights_home: Path) -> None:
    places = {name: [(file.name, file.folder) for file in pyiqa_metrics.required_weights(name)] for name in ("lpips", "dists", "psnr")}
    assert places == {
        "lpips": [("alexnet-owt-7be5be79.pth", weights_home / "checkpoints"), ("LPIPS_v0.1_alex-df73285e.pth", weights_home / "pyiqa")],
        "dists": [("vgg16-397923af.pth", weights_home / "checkpoints"), ("DISTS_weights-f5e65c96.pth", weights_home / "pyiqa")],
        "psnr": [],
    }


@pytest.mark.parametrize("name", ["lpips", "dists"])
def test_exception_unavailable_without_weights(name: str, weights_home: Path, offline: list[float | None], caplog: pytest.LogCaptureFixture) -> None:
    metric = METRICS.build(name)
    image = torch.rand(3, 32, 32)
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger=pyiqa_metrics.__name__), pytest.raises(MetricUnavailable) as raised:
        metric.score(image, image, {})
    assert time.perf_counter() - start < 5  # no network model is built before the download fails
    for file in pyiqa_metrics.required_weights(name):
        assert f"{file.name} in {file.folder}" in raised.value.reason
    assert "URLError" in raised.value.reason
    assert offline == [pyiqa_metrics.DOWNLOAD_TIMEOUT_S] and socket.getdefaulttimeout() is None  # guarded, then restored

    with caplog.at_level(logging.WARNING, logger=pyiqa_metrics.__name__), pytest.raises(MetricUnavailable):
        metric.score(image, image, {})
    assert len(offline) == 1  # the failure is remembered, not retried for every sample
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and raised.value.reason in warnings[0]


class _Triplets(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict:
        frames = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(index))
        return {"frame0": frames[0], "frame1": frames[1], "frame2": frames[2], "name": f"s{index}"}


def test_cardinality_unavailable_metric_gives_null_rows_with_the_reason(weights_home: Path, offline: list[float | None]) -> None:
    metrics = [METRICS.build("psnr"), METRICS.build("lpips")]
    rows = evaluate(
        INTERPOLATORS.build("frame_average", InterpolatorContext(torch.device("cpu"))), _Triplets(), metrics=metrics, dataset_name="toy", split="test"
    )
    assert len(rows) == 2 * 2
    lpips_rows = [row for row in rows if row["metric"] == "lpips"]
    assert all(row["value"] is None and "LPIPS_v0.1_alex-df73285e.pth" in row["note"] for row in lpips_rows)
    assert all(row["value"] is not None and row["note"] is None for row in rows if row["metric"] == "psnr")


def _save_random_weights(path: Path, build: Callable[[], torch.nn.Module], seed: int) -> None:
    """Random tensors with the keys and shapes of ``build()``'s state dict; the big ones as stride-0 views (a small file)."""
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in build().state_dict().items()}
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        if math.prod(shape) <= 1_000_000:
            state[key] = 0.05 * torch.randn(shape, generator=generator)
        else:
            state[key] = 0.05 * torch.randn(shape[-1], generator=generator).expand(shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def test_feature_lpips_with_weight_files_in_place(weights_home: Path, offline: list[float | None]) -> None:
    backbone, linear = pyiqa_metrics.required_weights("lpips")
    _save_random_weights(backbone.path, torchvision.models.alexnet, seed=0)
    generator = torch.Generator().manual_seed(1)
    layers = {f"lin{i}.model.1.weight": torch.rand(1, channels, 1, 1, generator=generator) for i, channels in enumerate([64, 192, 384, 256, 256])}
    linear.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(layers, linear.path)

    metric = METRICS.build("lpips")
    first, second = torch.rand(2, 3, 64, 64, generator=generator)
    value = metric.score(first, second, {})
    assert math.isfinite(value) and value > 0
    assert metric.score(first, first, {}) == pytest.approx(0.0, abs=1e-7)
    model = pyiqa_metrics.pyiqa_model("lpips", torch.device("cpu"))
    torch.testing.assert_close(model.net.lin0.model[1].weight, layers["lin0.model.1.weight"])  # the file we placed was loaded
    assert offline == []  # nothing was downloaded


@pytest.mark.slow  # VGG16 is built whole (138 M parameters): 10 to 20 s on a slow or loaded CPU
def test_feature_dists_with_weight_files_in_place(weights_home: Path, offline: list[float | None]) -> None:
    backbone, own = pyiqa_metrics.required_weights("dists")
    _save_random_weights(backbone.path, torchvision.models.vgg16, seed=0)
    generator = torch.Generator().manual_seed(1)
    weights = {"alpha": torch.rand(1, 1475, 1, 1, generator=generator), "beta": torch.rand(1, 1475, 1, 1, generator=generator)}  # 3+64+128+256+512+512 channels
    own.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(weights, own.path)

    metric = METRICS.build("dists")
    first, second = torch.rand(2, 3, 64, 64, generator=generator)
    value = metric.score(first, second, {})
    assert math.isfinite(value) and value > 0
    assert metric.score(first, first, {}) == pytest.approx(0.0, abs=1e-6)
    torch.testing.assert_close(pyiqa_metrics.pyiqa_model("dists", torch.device("cpu")).net.alpha, weights["alpha"])
    assert offline == []
