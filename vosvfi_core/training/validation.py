"""Validation during training: the mean PSNR of the network's interpolations on a validation set.

The frames are interpolated as evaluation does it (``model_interpolator``: float32, clamped to
[0, 1]) and scored with :func:`vosvfi_core.evaluation.metrics.psnr`, one sample at a time (the
validation frames may differ in size). The network is put back in training mode afterwards.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.data import Dataset

from vosvfi_core.evaluation.metrics import psnr
from vosvfi_core.interpolation import model_interpolator

__all__ = ["validation_psnr"]


def validation_psnr(network: nn.Module, dataset: Dataset) -> float:
    """Mean PSNR (dB) over ``dataset``'s items (``frame0``, ``frame1`` the truth, ``frame2``); identical frames count as 100 dB."""
    was_training = network.training
    network.eval()
    interpolate = model_interpolator(network)
    scores = []
    try:
        with torch.no_grad():
            for index in range(len(dataset)):  # type: ignore[arg-type]
                item = dataset[index]
                output = interpolate(item["frame0"][None], item["frame2"][None])[0].cpu()
                score = psnr(output, item["frame1"])
                scores.append(min(score, 100.0) if math.isfinite(score) else 100.0)
    finally:
        network.train(was_training)
    return sum(scores) / len(scores) if scores else math.nan
