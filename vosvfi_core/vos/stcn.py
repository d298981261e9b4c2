"""STCN (Cheng et al., NeurIPS 2021), the evaluation network, as the frozen VOS teacher of VOS-VFI.

Module names and ``state_dict()`` keys are those of the published ``stcn.pth`` (the original's
``model/eval_network.py``), so the file loads with ``strict=True`` after one rule: a
``value_encoder.conv1.weight`` saved for 4 input channels gets a zero 5th ("other objects") channel.

- Key encoder: ResNet-50 conv1..layer3 (torchvision's bottleneck blocks; convs without bias),
  features at 1/4 (256), 1/8 (512) and 1/16 (1024) of the padded frame.
- Value encoder: a ResNet-18 variant whose convs have biases, on RGB + mask + other-objects mask
  (5 channels), to 1/16 (256), fused with the key encoder's 1/16 feature (ResBlock, CBAM, ResBlock)
  into 512 channels.
- Keys: a 3x3 projection of the 1/16 feature to 64 channels; ``key_comp`` compresses it to 512 for
  the decoder. Memory read (``memory.py``): affinity ``(2 mkᵀqk − |mk|²)/√64``, softmax over the
  top 20 memory positions, readout of the memory values.
- Decoder: the readout beside the query's compressed key feature (1024 channels), skips at 1/8 and
  1/4, a 1-channel prediction upsampled x4.

Frames are RGB in [0, 1]; they are ImageNet-normalised here and zero-padded (after normalising,
split between both sides) to a multiple of 16, and the output is cropped back.

The output is STCN's single-object probability: its inference aggregates the object's sigmoid
probability p with the background 1 − p by a softmax over the clamped logits, which for one
object is ``sigmoid(2·logit(p))`` with the logit clamped to ±logit(1 − 1e-7). That is the
probability whose argmax VOS-VFI took, so its soft version is what our losses see (a plain sigmoid
would have the same 0.5 threshold but be a different, flatter teacher signal). The losses read
its logits, ``2·logit`` unclamped (:meth:`STCN.propagate_logits`): the clamp exists for STCN's
logarithm, and a BCE on logits needs none, so a confidently wrong pixel still has a gradient.
Several objects (DAVIS 2017) are propagated each with its own memory, the value encoder reading
the other objects' summed probability, and aggregated as STCN's ``aggregate`` does
(:func:`vosvfi_core.vos.teachers.propagate_video_objects`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck

from vosvfi_core.errors import VosvfiError
from vosvfi_core.vos.memory import Memory, check_clip, frame_major, memory_read
from vosvfi_core.weights import WeightsEntry, load_state_dict

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "STCN", "STCN_WEIGHTS", "load_stcn_weights", "stcn", "stcn_probability"]

STCN_WEIGHTS = WeightsEntry(
    name="STCN",
    file_name="stcn.pth",
    sha256=None,  # hkchengrex/STCN publishes no hash
    # From hkchengrex/STCN download_model.py (the README's s012 model, Google Drive); not verified
    # from this machine. OneDrive mirror: https://uillinoisedu-my.sharepoint.com/:u:/g/personal/hokeikc2_illinois_edu/Eav35v3GZIZFiq6dv9BM8n0BHtR1hD7QU9tcxH7hylG3dA?e=NXJpTu
    url="https://drive.google.com/uc?id=1mRrE0uCI2ktdWlUgapJI_KmgeIiF2eOm",
    description="STCN s012 (static images + BL30K + DAVIS/YouTubeVOS), the eval network's plain state dict, as VOS-VFI uses it (saves/stcn.pth)",
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE_MULTIPLE = 16
KEY_DIM = 64
VALUE_DIM = 512
TOP_K = 20
# STCN clamps probabilities to [1e-7, 1 - 1e-7] before taking logits.
_LOGIT_LIMIT = math.log((1 - 1e-7) / 1e-7)


def stcn_probability(logits: Tensor) -> Tensor:
    """STCN's single-object probability from the decoder's logits: ``sigmoid(2·clamp(logits))`` (see the module docstring)."""
    return torch.sigmoid(2 * logits.clamp(-_LOGIT_LIMIT, _LOGIT_LIMIT))


def _pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int, int, int]]:
    """Zero-pad the last two dims to a multiple, split between both sides (the extra pixel at the end)."""
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    pad = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)  # left, right, top, bottom
    return (F.pad(x, pad) if pad_h or pad_w else x), pad


def _unpad(x: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    left, right, top, bottom = pad
    return x[..., top : x.shape[-2] - bottom, left : x.shape[-1] - right]


class _ResBlock(nn.Module):
    """Pre-activation residual block of two 3x3 convs; a 3x3 conv projects the shortcut when widths differ."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        # Registered first: the published keys list ``downsample`` before ``conv1``.
        self.downsample = nn.Conv2d(in_channels, out_channels, 3, padding=1) if in_channels != out_channels else None
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        residual = self.conv2(F.relu(self.conv1(F.relu(x))))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return shortcut + residual


class _ChannelGate(nn.Module):
    """CBAM's channel attention: a shared MLP on the average- and max-pooled features, summed, sigmoid."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction), nn.ReLU(), nn.Linear(channels // reduction, channels))

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.mlp(F.adaptive_avg_pool2d(x, 1)) + self.mlp(F.adaptive_max_pool2d(x, 1))  # [B, C]
        return x * torch.sigmoid(pooled)[:, :, None, None]


class _SpatialGate(nn.Module):
    """CBAM's spatial attention: a 7x7 conv on the channel-wise max and mean, sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial = nn.Sequential(OrderedDict(conv=nn.Conv2d(2, 1, 7, padding=3)))

    def forward(self, x: Tensor) -> Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)  # [B, 2, H, W]
        return x * torch.sigmoid(self.spatial(pooled))


class _CBAM(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ChannelGate = _ChannelGate(channels)
        self.SpatialGate = _SpatialGate()

    def forward(self, x: Tensor) -> Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class _FeatureFusion(nn.Module):
    """Fuses the value encoder's 1/16 feature with the key encoder's: ResBlock, CBAM (added back), ResBlock."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block1 = _ResBlock(in_channels, out_channels)
        self.attention = _CBAM(out_channels)
        self.block2 = _ResBlock(out_channels, out_channels)

    def forward(self, value_f16: Tensor, key_f16: Tensor) -> Tensor:
        x = self.block1(torch.cat([value_f16, key_f16], dim=1))
        return self.block2(x + self.attention(x))


class _BasicBlock(nn.Module):
    """ResNet-18's basic block, with biased convs as in STCN's modified ResNet."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride=stride), nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + shortcut)


def _basic_layer(in_channels: int, channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(_BasicBlock(in_channels, channels, stride), _BasicBlock(channels, channels))


def _bottleneck_layer(in_channels: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    """A torchvision ResNet-50 stage (stride on the 3x3 conv, as torchvision has it)."""
    out_channels = planes * Bottleneck.expansion
    downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))
    layers = [Bottleneck(in_channels, planes, stride, downsample)]
    layers += [Bottleneck(out_channels, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class _KeyEncoder(nn.Module):
    """ResNet-50 conv1..layer3 (``res2`` is torchvision's ``layer1``): features at 1/16, 1/8, 1/4."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.res2 = _bottleneck_layer(64, 64, 3, stride=1)  # 1/4, 256
        self.layer2 = _bottleneck_layer(256, 128, 4, stride=2)  # 1/8, 512
        self.layer3 = _bottleneck_layer(512, 256, 6, stride=2)  # 1/16, 1024

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(image))), 3, stride=2, padding=1)
        f4 = self.res2(x)
        f8 = self.layer2(f4)
        return self.layer3(f8), f8, f4


class _ValueEncoder(nn.Module):
    """The modified ResNet-18 on image + mask + other-objects mask, to 1/16, fused with the key feature."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3 + 2, 64, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = _basic_layer(64, 64, stride=1)  # 1/4
        self.layer2 = _basic_layer(64, 128, stride=2)  # 1/8
        self.layer3 = _basic_layer(128, 256, stride=2)  # 1/16
        self.fuser = _FeatureFusion(1024 + 256, VALUE_DIM)

    def forward(self, image: Tensor, key_f16: Tensor, mask: Tensor, other_objects: Tensor) -> Tensor:
        x = self.conv1(torch.cat([image, mask, other_objects], dim=1))
        x = F.max_pool2d(F.relu(self.bn1(x)), 3, stride=2, padding=1)
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fuser(x, key_f16)


class _KeyProjection(nn.Module):
    def __init__(self, in_channels: int, key_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Conv2d(in_channels, key_dim, 3, padding=1)
        nn.init.orthogonal_(self.key_proj.weight)
        nn.init.zeros_(self.key_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.key_proj(x)


class _UpsampleBlock(nn.Module):
    """x2 bilinear upsampling added to a 3x3 conv of the skip feature, then a ResBlock."""

    def __init__(self, skip_channels: int, up_channels: int, out_channels: int) -> None:
        super().__init__()
        self.skip_conv = nn.Conv2d(skip_channels, up_channels, 3, padding=1)
        self.out_conv = _ResBlock(up_channels, out_channels)

    def forward(self, skip: Tensor, up: Tensor) -> Tensor:
        x = self.skip_conv(skip) + F.interpolate(up, scale_factor=2, mode="bilinear", align_corners=False)
        return self.out_conv(x)


class _Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.compress = _ResBlock(1024, 512)
        self.up_16_8 = _UpsampleBlock(512, 512, 256)
        self.up_8_4 = _UpsampleBlock(256, 256, 256)
        self.pred = nn.Conv2d(256, 1, 3, padding=1)

    def forward(self, f16: Tensor, f8: Tensor, f4: Tensor) -> Tensor:
        x = self.up_8_4(f4, self.up_16_8(f8, self.compress(f16)))
        return F.interpolate(self.pred(F.relu(x)), scale_factor=4, mode="bilinear", align_corners=False)


def _init_like_torchvision(module: nn.Module) -> None:
    """Random initialisation as torchvision's ResNet does it (only used without published weights)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


class STCN(nn.Module):
    """The STCN evaluation network as a frozen single-object propagator.

    It stays in eval mode (``train()`` is a no-op), so its BatchNorm statistics never move; the
    builder :func:`stcn` also turns off its parameters' gradients. Gradients still flow through it
    into the frames it is given.
    """

    name = "stcn"
    reads_other_objects = True  # memorize() takes the other objects' summed probability (multi-object propagation)

    def __init__(self, *, top_k: int = TOP_K) -> None:
        super().__init__()
        self.top_k = top_k
        self.key_encoder = _KeyEncoder()
        self.value_encoder = _ValueEncoder()
        _init_like_torchvision(self.key_encoder)
        _init_like_torchvision(self.value_encoder)
        self.key_proj = _KeyProjection(1024, KEY_DIM)
        self.key_comp = nn.Conv2d(1024, 512, 3, padding=1)
        self.decoder = _Decoder()
        self.register_buffer("_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        super().train(False)

    def train(self, mode: bool = True) -> STCN:
        """Always eval mode: the teacher is frozen, whatever its owner does."""
        return super().train(False)

    def _prepare(self, frames: Tensor) -> tuple[Tensor, tuple[int, int, int, int]]:
        return _pad_to_multiple((frames - self._mean) / self._std, SIZE_MULTIPLE)

    def memorize(self, frames: Tensor, masks: Tensor, other_objects: Tensor | None = None) -> Memory:
        """Keys and values of memory frames ``[B, T, 3, H, W]`` (RGB in [0, 1]) with masks ``[B, T, 1, H, W]`` in [0, 1].

        ``other_objects`` (shaped as ``masks``): the summed probability of the other objects of a
        multi-object video; None (one object) reads zeros.
        """
        check_clip(frames, masks)
        if other_objects is not None and other_objects.shape != masks.shape:
            raise ValueError(f"other_objects must be shaped as the masks {tuple(masks.shape)}, got {tuple(other_objects.shape)}")
        batch, time = frames.shape[:2]
        images, _ = self._prepare(frames.flatten(0, 1))
        masks, _ = _pad_to_multiple(masks.flatten(0, 1).to(images.dtype), SIZE_MULTIPLE)
        others = torch.zeros_like(masks) if other_objects is None else _pad_to_multiple(other_objects.flatten(0, 1).to(images.dtype), SIZE_MULTIPLE)[0]
        f16, _, _ = self.key_encoder(images)
        keys = self.key_proj(f16)  # [BT, 64, h, w]
        values = self.value_encoder(images, f16, masks, others)
        return Memory(frame_major(keys, batch, time), frame_major(values, batch, time))

    def segment_logits(self, memory: Memory, query: Tensor) -> Tensor:
        """The decoder's logits ``[B, 1, H, W]`` for ``query [B, 3, H, W]`` read against ``memory``."""
        if query.dim() != 4 or query.shape[1] != 3:
            raise ValueError(f"query must be [B, 3, H, W], got {tuple(query.shape)}")
        images, pad = self._prepare(query)
        f16, f8, f4 = self.key_encoder(images)
        query_keys = self.key_proj(f16)
        compressed = self.key_comp(f16)
        read = memory_read(memory, query_keys.flatten(2), top_k=self.top_k).view_as(compressed)  # [B, 512, h, w]
        logits = self.decoder(torch.cat([read, compressed], dim=1), f8, f4)
        return _unpad(logits, pad)

    def segment(self, memory: Memory, query: Tensor) -> Tensor:
        """The object's probability ``[B, 1, H, W]`` in ``query`` (STCN's aggregation, see the module docstring)."""
        return stcn_probability(self.segment_logits(memory, query))

    def object_probability(self, memory: Memory, query: Tensor) -> Tensor:
        """The decoder's own probability ``sigmoid(logits)`` ``[B, 1, H, W]``, before aggregation with the background or other objects."""
        return torch.sigmoid(self.segment_logits(memory, query))

    def propagate(self, memory_frames: Tensor, memory_masks: Tensor, query: Tensor) -> Tensor:
        """Propagate the masks of ``memory_frames [B, T, 3, H, W]`` onto ``query [B, 3, H, W]``: probabilities ``[B, 1, H, W]``."""
        return self.segment(self.memorize(memory_frames, memory_masks), query)

    def propagate_logits(self, memory_frames: Tensor, memory_masks: Tensor, query: Tensor) -> Tensor:
        """The logits ``2·logit`` of :meth:`propagate`'s probability, without its clamp: ``[B, 1, H, W]``."""
        return 2 * self.segment_logits(self.memorize(memory_frames, memory_masks), query)


def _few(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} (+{len(names) - limit} more)" if len(names) > limit else shown


def load_stcn_weights(model: STCN, path: Path | str) -> None:
    """Load a published STCN state dict into ``model`` strictly, after the 4→5 channel padding of ``value_encoder.conv1.weight``."""
    state = load_state_dict(path)
    conv1 = state.get("value_encoder.conv1.weight")
    if conv1 is not None and conv1.dim() == 4 and conv1.shape[1] == 4:
        # Checkpoints of the single-object network lack the "other objects" channel: it reads zeros.
        state["value_encoder.conv1.weight"] = torch.cat([conv1, conv1.new_zeros(conv1.shape[0], 1, *conv1.shape[2:])], dim=1)
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    wrong = [
        f"{key} {list(state[key].shape)} (want {list(value.shape)})" for key, value in expected.items() if key in state and state[key].shape != value.shape
    ]
    if missing or unexpected or wrong:
        problems = [f"{label} {_few(names)}" for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names]
        raise VosvfiError(f"{path} is not an STCN state dict: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)


def stcn(*, weights: Path | str | None = None, top_k: int = TOP_K) -> STCN:
    """The frozen STCN: random weights, or those of the file ``weights`` (a published ``stcn.pth``)."""
    model = STCN(top_k=top_k)
    if weights is not None:
        load_stcn_weights(model, weights)
    model.requires_grad_(False)
    return model.eval()
