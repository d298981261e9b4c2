"""Scene cuts: a pair of frames too different to interpolate between.

The test is deliberately simple: both frames become grayscale thumbnails (BT.601 luma, averaged
over areas down to at most 64 pixels on the longer side, which washes out noise, grain and small
motion), and the pair is a cut when the mean absolute difference of the thumbnails, in [0, 1],
exceeds a threshold.

The default threshold, 0.1, comes from the 12 two-frame sequences of Middlebury's ``other`` set
(the ``middlebury_other`` data set): within a sequence the score is 0.007–0.035 (largest:
Grove3), while across two different sequences of one size it is 0.13–0.34 (62 ordered pairs, median 0.25; smallest:
Dimetrodon → Hydrangea and Grove2 → Grove3). 0.1 is about three times the largest within-scene
score and below the smallest cut. Fast motion, flashes and fades can score above it (a false cut
repeats a frame); a cut between two similar shots can score below it (it is blended).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_SCENE_THRESHOLD", "THUMBNAIL_SIDE", "SceneCut", "thumbnail", "scene_score"]

DEFAULT_SCENE_THRESHOLD = 0.1
THUMBNAIL_SIDE = 64
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class SceneCut:
    before: int  # index of the last input frame before the cut (the cut is between it and the next)
    score: float
    time: Fraction  # seconds from the start to the first frame after the cut

    def describe(self) -> str:
        return f"between input frames {self.before} and {self.before + 1} at {float(self.time):.3f} s (score {self.score:.3f})"


def thumbnail(pixels: np.ndarray) -> torch.Tensor:
    """``[h, w]`` float32 luma in [0, 1] of an ``[H, W, 3]`` uint8 frame, at most ``THUMBNAIL_SIDE`` pixels a side."""
    luma = torch.from_numpy(pixels.astype(np.float32) @ _LUMA / 255.0)
    height, width = luma.shape
    scale = min(1.0, THUMBNAIL_SIDE / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.adaptive_avg_pool2d(luma[None, None], size)[0, 0]


def scene_score(before: torch.Tensor, after: torch.Tensor) -> float:
    """Mean absolute difference of two thumbnails: 0 for equal frames, 1 for black against white."""
    return float((after - before).abs().mean())
