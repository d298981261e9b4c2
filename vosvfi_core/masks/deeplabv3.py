"""DeepLabV3-ResNet101 (21 PASCAL VOC classes) as a foreground segmenter: the paper's masks.

The paper's rule: ImageNet normalisation, no resize, argmax over the 21 classes, foreground where
the class is not background. Only the main head runs (the auxiliary head's output is never used),
under ``inference_mode``, with every BatchNorm folded into its convolution and (by default) in
channels-last memory format, which oneDNN and cuDNN both run faster. Frames are read by DataLoader
workers and batched across samples, frames of one size per batch; on CUDA the input is pinned, the
network runs under bf16 autocast, and the logits are upsampled in float32 so that bf16 rounding
does not create ties for the argmax.

Weights: torchvision's ``DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1`` (its DEFAULT) by
default, through :mod:`vosvfi_core.weights`; or any state dict of the same network from a file
(a fine-tuned one, or random weights in tests). Masks are keyed by the file's sha256 either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import NonNegativeInt, PositiveInt
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch.utils.data import DataLoader, Dataset

from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.fetch import file_sha256
from vosvfi_core.io.images import read_image
from vosvfi_core.masks.frames import FrameRef
from vosvfi_core.masks.segmenters import SEGMENTERS, MaskResult, segmenter_key
from vosvfi_core.weights import WeightsEntry, load_state_dict, resolve_weights

__all__ = [
    "DEEPLAB_CLASSES",
    "DEEPLABV3_RESNET101_WEIGHTS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "DeepLabV3Segmenter",
    "deeplabv3_resnet101",
    "fold_batch_norms",
    "foreground",
    "load_deeplabv3",
    "size_batches",
]

DEEPLAB_CLASSES = 21
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

DEEPLABV3_RESNET101_WEIGHTS = WeightsEntry(
    name="deeplabv3_resnet101",
    file_name="deeplabv3_resnet101_coco-586e9e4e.pth",
    sha256="586e9e4e",  # torchvision publishes the first 8 hex digits of the sha256, in the file name
    url="https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth",
    description="torchvision DeepLabV3_ResNet101_Weights.COCO_WITH_VOC_LABELS_V1 (DEFAULT): COCO images, the 20 VOC classes and background",
)


def load_deeplabv3(weights: Path, device: torch.device | str = "cpu") -> nn.Module:
    """Build DeepLabV3-ResNet101 (21 classes, with the auxiliary head of the published file) and load ``weights`` strictly; eval mode on ``device``."""
    from torchvision.models.segmentation import deeplabv3_resnet101 as build_torchvision_deeplabv3  # torchvision: 2 s to import, so only here

    state = load_state_dict(weights)
    model = build_torchvision_deeplabv3(weights=None, weights_backbone=None, num_classes=DEEPLAB_CLASSES, aux_loss=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0][:160]
        raise VosvfiError(f"{weights} does not fit DeepLabV3-ResNet101 with 21 classes and the auxiliary head ({first})") from None
    return model.to(device).eval()


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the convolution before it (in place): the same function, fewer passes over memory.

    Pairs are taken where torchvision's DeepLabV3 applies them back to back: the ResNet stem and
    bottlenecks (``convK`` then ``bnK``, downsample), and consecutive children of ``nn.Sequential``
    (ASPP branches and the head). Each folded BatchNorm becomes an ``nn.Identity``.
    """
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.resnet import Bottleneck

    if model.training:
        raise ValueError("fold_batch_norms needs a model in eval mode")
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.named_children())
            pairs = [(a, b) for (a, conv), (b, norm) in zip(children, children[1:]) if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)]
        elif isinstance(module, Bottleneck):
            pairs = [("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")]
        elif isinstance(module, IntermediateLayerGetter) and "bn1" in module._modules:
            pairs = [("conv1", "bn1")]
        else:
            continue
        for conv_name, norm_name in pairs:
            conv, norm = getattr(module, conv_name), getattr(module, norm_name)
            if isinstance(norm, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, norm))
                setattr(module, norm_name, nn.Identity())
    return model


def foreground(model: nn.Module, images: Tensor, *, autocast: bool = False) -> Tensor:
    """``[B, 3, H, W]`` RGB in [0, 1] → ``[B, H, W]`` bool: argmax over the classes > 0 (not background).

    ``autocast`` runs the network in bf16 on CUDA (ignored on the CPU). The input follows the
    model's memory format (channels-last when the model was converted to it).
    """
    device = next(model.parameters()).device
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    with torch.inference_mode():
        x = (images.to(device, non_blocking=True) - mean) / std
        if model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last):
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast and device.type == "cuda"):
            logits = model.classifier(model.backbone(x)["out"])  # [B, 21, H/8, W/8]; torchvision's forward without the aux head
        logits = F.interpolate(logits.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)  # [B, 21, H, W]
        return logits.argmax(dim=1) > 0


def size_batches(sizes: Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Indices grouped by frame size (in order of first appearance), cut into batches of at most ``batch_size``."""
    groups: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(sizes):
        groups.setdefault(tuple(size), []).append(index)
    return [indices[start : start + batch_size] for indices in groups.values() for start in range(0, len(indices), batch_size)]


class _FrameImages(Dataset):
    """Item i: ``(i, [3, H, W] float RGB in [0, 1])`` of ``root / paths[i]`` (read in the DataLoader's workers)."""

    def __init__(self, root: Path, paths: Sequence[str]) -> None:
        self.root = Path(root)
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[int, Tensor]:
        return index, read_image(self.root / self.paths[index])


def _collate(items: list[tuple[int, Tensor]]) -> tuple[list[int], Tensor]:
    return [index for index, _ in items], torch.stack([image for _, image in items])


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """cuDNN picks its fastest kernels per input size: worth it here, where batches share one size."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = previous or device.type == "cuda"
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


@dataclasses.dataclass(eq=False)
class DeepLabV3Segmenter:
    model: nn.Module
    device: torch.device
    weights_sha256: str
    batch_size: int
    num_workers: int
    autocast: bool
    name: str = "deeplabv3_resnet101"

    @property
    def key(self) -> str:
        return segmenter_key(self.name, self.weights_sha256)

    def check(self, root: Path, frames: Sequence[FrameRef]) -> None:
        """Nothing beyond the frames themselves, which the caller checks."""

    def segment(self, root: Path, frames: Sequence[FrameRef], sizes: Sequence[tuple[int, int]], wanted: Sequence[bool]) -> Iterator[MaskResult]:
        batches = [batch for batch in size_batches(sizes, self.batch_size) if any(wanted[i] for i in batch)]
        if not batches:
            return
        workers = self.num_workers
        if workers and multiprocessing.current_process().daemon:
            message = f"{self.name}: this process is daemonic (a Dask worker?) and cannot start DataLoader workers; frames are read in-process"
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            workers = 0
        loader = DataLoader(
            _FrameImages(root, [frame.path for frame in frames]),
            batch_sampler=batches,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            collate_fn=_collate,
            # Spawned, not forked: the masks task runs in a thread of the task runner, and a fork
            # of a threaded process (Prefect's event loop, torch's pools) can die on start-up.
            multiprocessing_context="spawn" if workers else None,
            persistent_workers=False,
        )
        with _cudnn_benchmark(self.device):
            batch_iterator = iter(loader)
            while True:
                start = time.perf_counter()  # the wait for the batch counts: reading frames is part of making masks
                try:
                    indices, images = next(batch_iterator)
                except StopIteration:
                    break
                masks = foreground(self.model, images, autocast=self.autocast).to(torch.uint8).mul_(255).cpu().numpy()  # [B, H, W]
                seconds = (time.perf_counter() - start) / len(indices)
                for position, index in enumerate(indices):
                    if wanted[index]:
                        yield index, masks[position], seconds


def _weights_file(weights: Path | None, download: bool) -> Path:
    if weights is None:
        return resolve_weights(DEEPLABV3_RESNET101_WEIGHTS, download=download)
    # Any file with this network's keys will do: the masks folder is keyed by the file's own hash.
    return resolve_weights(dataclasses.replace(DEEPLABV3_RESNET101_WEIGHTS, sha256=None), weights, config_field="weights")


@SEGMENTERS.register("deeplabv3_resnet101")
def deeplabv3_resnet101(
    device: torch.device | str = "cpu",
    *,
    weights: Path | None = None,
    batch_size: PositiveInt = 8,
    num_workers: NonNegativeInt | None = None,
    autocast: bool = True,
    channels_last: bool = True,
    download: bool = True,
) -> DeepLabV3Segmenter:
    """DeepLabV3-ResNet101 (21 VOC classes): foreground = argmax class > 0, the paper's masks.

    ``weights``: a state dict file (default: torchvision's published file, from the weights
    folder or downloaded). ``batch_size`` frames per forward pass, read by ``num_workers``
    DataLoader workers: by default 2 on CUDA and none on the CPU, where the network keeps every
    core busy and worker processes only take cores from it (on 2 cores, 24 frames at 256x448:
    1.57x the original's masks/s without workers, 0.78x with two; ``benchmarks/bench_masks.py``).
    ``autocast``: bf16 on CUDA. ``channels_last``: the network's memory format.
    """
    device = torch.device(device)
    if num_workers is None:
        num_workers = 2 if device.type == "cuda" else 0
    path = _weights_file(weights, download)
    sha256 = file_sha256(path)
    model = fold_batch_norms(load_deeplabv3(path, device))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return DeepLabV3Segmenter(model, device, sha256, batch_size, num_workers, autocast)
