"""Metrics computed by pyiqa (IQA-PyTorch): LPIPS, DISTS and pyiqa's own PSNR and SSIM variants.

The project's ``psnr`` and ``ssim`` (:mod:`vosvfi_core.evaluation.metrics`) stay the reference:
pyiqa's do not reproduce their conventions. pyiqa refuses inputs outside [0, 1] (ours score the
unclamped network output under protocol ``float``), adds 1e-8 to the MSE (identical frames give
80 dB, not inf), rounds both images to 8-bit integers before SSIM, computes its ``ssim`` on the
luma channel only, and clips SSIM's contrast-structure term at zero. Its variants are registered
under their own names so a table can quote pyiqa's numbers, each with its convention spelled out.

Every pyiqa metric here scores the output clamped to [0, 1] against the truth, as ``[1, 3, H, W]``
float32 on the output's device, without gradients. Its pyiqa model is built once per process and
device. LPIPS and DISTS need weight files that pyiqa and torchvision download on first use; when
one is missing and cannot be downloaded, the metric raises :class:`MetricUnavailable` (the table
gets a null and the reason) and logs one warning naming each file to place and the folder to place
it in. The download runs under a socket timeout, so an unreachable or stalled server ends it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import Tensor

from vosvfi_core.evaluation.metric_registry import METRICS, Metric, MetricUnavailable

__all__ = ["DOWNLOAD_TIMEOUT_S", "WeightsFile", "clear_pyiqa_models", "pyiqa_model", "required_weights"]

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30.0  # per connect or read on the socket, not for the whole file


@dataclass(frozen=True)
class WeightsFile:
    """A file a pyiqa metric loads: where it is downloaded from and the folder it is looked for in."""

    url: str
    folder: Path
    torchvision: bool  # torchvision's file names carry a SHA-256 prefix, checked on download

    @property
    def name(self) -> str:
        return Path(urlparse(self.url).path).name

    @property
    def path(self) -> Path:
        return self.folder / self.name


def _pyiqa_file(url: str) -> WeightsFile:
    from pyiqa.utils import download_util

    return WeightsFile(url, Path(download_util.DEFAULT_CACHE_DIR), torchvision=False)  # read at call time: $TORCH_HOME/hub/pyiqa


def _torchvision_file(url: str) -> WeightsFile:
    return WeightsFile(url, Path(torch.hub.get_dir()) / "checkpoints", torchvision=True)


def _lpips_weights() -> list[WeightsFile]:
    from pyiqa.archs.lpips_arch import default_model_urls
    from torchvision.models import AlexNet_Weights

    return [_torchvision_file(AlexNet_Weights.IMAGENET1K_V1.url), _pyiqa_file(default_model_urls["0.1_alex"])]


def _dists_weights() -> list[WeightsFile]:
    from pyiqa.archs.dists_arch import default_model_urls
    from torchvision.models import VGG16_Weights

    return [_torchvision_file(VGG16_Weights.IMAGENET1K_V1.url), _pyiqa_file(default_model_urls["url"])]


_WEIGHTS: dict[str, Callable[[], list[WeightsFile]]] = {"lpips": _lpips_weights, "dists": _dists_weights}


def required_weights(pyiqa_name: str) -> list[WeightsFile]:
    """The weight files pyiqa's metric ``pyiqa_name`` loads (none for PSNR and SSIM)."""
    return _WEIGHTS[pyiqa_name]() if pyiqa_name in _WEIGHTS else []


def _download(file: WeightsFile) -> None:
    """Fetch one file into its folder (atomically: torch.hub writes a temporary file and renames it)."""
    file.folder.mkdir(parents=True, exist_ok=True)
    match = torch.hub.HASH_REGEX.search(file.name) if file.torchvision else None
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib's urlopen waits forever without one
    try:
        torch.hub.download_url_to_file(file.url, str(file.path), match.group(1) if match else None, progress=sys.stderr.isatty())
    finally:
        socket.setdefaulttimeout(previous)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"[:200]


def _fetch_missing(pyiqa_name: str) -> None:
    """Download the metric's missing files; raises MetricUnavailable naming every file still missing."""
    files = required_weights(pyiqa_name)
    failure = None
    for file in files:
        if not file.path.is_file() and failure is None:
            try:
                _download(file)
            except Exception as error:  # URLError, timeouts, HTTP errors, a hash mismatch: all mean "not here"
                failure = _first_line(error)
    if failure is not None:
        places = " and ".join(f"{file.name} in {file.folder}" for file in files if not file.path.is_file())
        raise MetricUnavailable(f"{pyiqa_name} weights missing and the download failed ({failure}); place {places}")


def _create(pyiqa_name: str, device: torch.device) -> torch.nn.Module:
    import pyiqa
    from pyiqa.utils import get_root_logger

    get_root_logger().setLevel(logging.WARNING)  # pyiqa logs every metric it builds at INFO
    with contextlib.redirect_stdout(io.StringIO()):  # and prints each weights file it loads
        return pyiqa.create_metric(pyiqa_name, as_loss=False, device=device)


_models: dict[tuple[str, str], torch.nn.Module] = {}
_unavailable: dict[tuple[str, str], str] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def pyiqa_model(pyiqa_name: str, device: torch.device) -> torch.nn.Module:
    """pyiqa's metric ``pyiqa_name`` on ``device``, built on first use and kept for the process.

    Raises :class:`MetricUnavailable` (every time, logging a warning only the first) when its
    weights are missing and cannot be downloaded, or cannot be loaded.
    """
    key = (pyiqa_name, str(torch.device(device)))
    with _lock:
        if key in _models:
            return _models[key]
        if key not in _unavailable:
            try:
                _fetch_missing(pyiqa_name)
                _models[key] = _create(pyiqa_name, torch.device(device))
                return _models[key]
            except MetricUnavailable as unavailable:
                _unavailable[key] = unavailable.reason
            except Exception as error:  # a truncated or foreign weights file fails in many ways inside torch.load
                paths = ", ".join(str(file.path) for file in required_weights(pyiqa_name))
                _unavailable[key] = f"{pyiqa_name} could not be built ({_first_line(error)}); check or delete {paths or 'its files'}"
        reason = _unavailable[key]
        if pyiqa_name not in _warned:
            _warned.add(pyiqa_name)
            log.warning("metric %s is unavailable: %s", pyiqa_name, reason)
    raise MetricUnavailable(reason)


def clear_pyiqa_models() -> None:
    """Forget every built model, every failure and every warning given (for tests)."""
    with _lock:
        _models.clear()
        _unavailable.clear()
        _warned.clear()


def _scorer(pyiqa_name: str) -> Callable[[Tensor, Tensor, Mapping[str, Any]], float]:
    def score(output: Tensor, truth: Tensor, item: Mapping[str, Any]) -> float:
        if output.shape != truth.shape or output.dim() != 3:
            raise ValueError(f"expected two [C, H, W] tensors of one shape, got {tuple(output.shape)} and {tuple(truth.shape)}")
        model = pyiqa_model(pyiqa_name, output.device)
        distorted = output.detach().to(torch.float32).clamp(0, 1).unsqueeze(0)
        reference = truth.detach().to(output.device, torch.float32).clamp(0, 1).unsqueeze(0)
        with torch.no_grad():
            return float(model(distorted, reference).item())

    return score


def _pyiqa_metric(name: str, pyiqa_name: str, higher_is_better: bool, convention: str) -> Metric:
    return Metric(name, higher_is_better, f"pyiqa {version('pyiqa')} '{pyiqa_name}': {convention}", _scorer(pyiqa_name))


@METRICS.register("psnr_pyiqa")
def psnr_pyiqa() -> Metric:
    """pyiqa's PSNR on RGB (clamped output, 1e-8 added to the MSE)."""
    convention = "RGB, output clamped to [0,1], float32, 10*log10(1/(MSE+1e-8)) dB over all pixels x channels (identical frames: 80 dB)"
    return _pyiqa_metric("psnr_pyiqa", "psnr", True, convention)


@METRICS.register("ssim_y_pyiqa")
def ssim_y_pyiqa() -> Metric:
    """pyiqa's default SSIM: on the luma channel rounded to 8 bits, as MATLAB's ssim on rgb2gray."""
    convention = (
        "luma Y=0.299R+0.587G+0.114B of the output clamped to [0,1], x255 rounded to integers, data range 255, "
        "Gaussian 11x11 window sigma 1.5, valid windows only, contrast-structure term clipped at 0, no downsampling"
    )
    return _pyiqa_metric("ssim_y_pyiqa", "ssim", True, convention)


@METRICS.register("ssim_rgb_pyiqa")
def ssim_rgb_pyiqa() -> Metric:
    """pyiqa's colour SSIM ('ssimc'): every RGB channel rounded to 8 bits, averaged."""
    convention = (
        "R, G, B of the output clamped to [0,1], x255 rounded to integers, data range 255, Gaussian 11x11 window sigma 1.5, "
        "valid windows only, contrast-structure term clipped at 0, mean over channels, no downsampling"
    )
    return _pyiqa_metric("ssim_rgb_pyiqa", "ssimc", True, convention)


@METRICS.register("lpips")
def lpips() -> Metric:
    """LPIPS v0.1 with AlexNet features (lower is better)."""
    convention = "LPIPS v0.1, AlexNet features with learned linear weights, output clamped to [0,1] (mapped to [-1,1] inside), spatial mean; lower is better"
    return _pyiqa_metric("lpips", "lpips", False, convention)


@METRICS.register("dists")
def dists() -> Metric:
    """DISTS, structure and texture similarity of VGG16 features (lower is better)."""
    convention = "DISTS, VGG16 features (ImageNet-normalised inside), output clamped to [0,1]; lower is better"
    return _pyiqa_metric("dists", "dists", False, convention)
