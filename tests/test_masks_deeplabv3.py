"""The deeplabv3_resnet101 segmenter on the CPU with random weights: mask values, resuming, keying, weights errors.

DeepLabV3-ResNet101 is heavy: the whole file builds the network four times and runs a handful of
forward passes on 64x48 frames.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torchvision.models.resnet import Bottleneck
from torchvision.models.segmentation import deeplabv3_resnet101

from vosvfi_core.commands import masks as masks_command
from vosvfi_core.data.synthetic import write_vimeo_triplets
from vosvfi_core.errors import VosvfiError
from vosvfi_core.io.images import read_image
from vosvfi_core.masks import SEGMENTERS, frames_for_training, load_deeplabv3, masks_folder, precompute_masks
from vosvfi_core.masks.deeplabv3 import IMAGENET_MEAN, IMAGENET_STD, DeepLabV3Segmenter, fold_batch_norms
from vosvfi_core.weights import WEIGHTS_DIR_ENV

H, W = 48, 64
TREE = {"train_count": 2, "test_count": 1, "height": H, "width": W, "seed": 0}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: on a loaded machine with few cores, two threads wait on each other at every layer."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _normalised(images: torch.Tensor) -> torch.Tensor:
    return (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _train_frames(root: Path) -> torch.Tensor:
    return torch.stack([read_image(root / frame.path) for frame in frames_for_training(root)])


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random DeepLabV3-ResNet101 whose last layer is made to split the test frames into foreground and background.

    Random weights alone call every pixel foreground. Here only classes 0 (background) and 1 can
    win, and class 1 wins where a random projection of the head's features exceeds its median
    over the test frames, so masks hold both values.
    """
    torch.manual_seed(0)
    model = deeplabv3_resnet101(weights=None, weights_backbone=None, num_classes=21, aux_loss=True).eval()
    root = write_vimeo_triplets(tmp_path_factory.mktemp("calibration"), **TREE)
    with torch.no_grad():
        features = model.backbone(_normalised(_train_frames(root)))["out"]
        for layer in list(model.classifier)[:-1]:
            features = layer(features)  # [6, 256, h, w]: the input of the last 1x1 convolution
        last = model.classifier[-1]
        score = torch.einsum("c,bchw->bhw", last.weight[1, :, 0, 0], features)
        last.weight[0].zero_()
        last.weight[2:].zero_()
        last.bias.fill_(-1e4)
        last.bias[0] = score.median()
        last.bias[1] = 0
    path = tmp_path_factory.mktemp("weights") / "deeplabv3_random.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def segmenter(weights: Path) -> DeepLabV3Segmenter:
    return SEGMENTERS.build({"type": "deeplabv3_resnet101", "weights": weights, "batch_size": 4, "num_workers": 0}, "cpu")


@pytest.fixture(scope="module")
def complete(tmp_path_factory: pytest.TempPathFactory, segmenter: DeepLabV3Segmenter) -> tuple[Path, list[dict]]:
    """An uninterrupted run over the six training frames (two batches)."""
    root = write_vimeo_triplets(tmp_path_factory.mktemp("complete"), **TREE)
    return root, precompute_masks(root, frames_for_training(root), segmenter, dataset="demo")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_feature_masks_are_the_argmax_foreground_of_torchvisions_forward(
    complete: tuple[Path, list[dict]], segmenter: DeepLabV3Segmenter, weights: Path
) -> None:
    root, rows = complete
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    folder = masks_folder(root, f"deeplabv3_resnet101-{sha256[:12]}")
    assert segmenter.key == folder.name and folder.is_dir()
    masks = []
    for frame, row in zip(frames_for_training(root), rows, strict=True):
        assert row["mask_path"] == f"masks/{folder.name}/{frame.path}"
        assert (row["segmenter"], row["weights_sha256"]) == ("deeplabv3_resnet101", sha256)
        with Image.open(root / row["mask_path"]) as image:
            assert (image.mode, image.size) == ("L", (W, H))
            mask = np.asarray(image)
        assert mask.dtype == np.uint8
        assert row["foreground_fraction"] == pytest.approx((mask == 255).mean())
        masks.append(mask)
    masks = np.stack(masks)
    assert set(np.unique(masks)) == {0, 255}
    # The paper's rule through torchvision's own forward of the file as it is (no folded BatchNorm,
    # contiguous, the auxiliary head too): ImageNet normalisation, no resize, argmax > 0.
    with torch.no_grad():
        logits = load_deeplabv3(weights)(_normalised(_train_frames(root)))["out"]  # [6, 21, H, W]
    top2 = logits.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-4 * top2[:, 0].abs().amax()  # folding, batching and memory format move near-ties
    expected = (logits.argmax(1) > 0).numpy()
    assert clear.float().mean() > 0.99
    assert np.array_equal((masks == 255)[clear.numpy()], expected[clear.numpy()])


def test_feature_killed_run_resumes_to_identical_files(tmp_path: Path, complete: tuple[Path, list[dict]], segmenter: DeepLabV3Segmenter) -> None:
    expected = _files(masks_folder(complete[0], segmenter.key))
    root = write_vimeo_triplets(tmp_path, **TREE)
    frames = frames_for_training(root)
    written: list[dict] = []

    def kill_after_three(row: dict) -> None:
        written.append(row)
        if len(written) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute_masks(root, frames, segmenter, dataset="demo", progress=kill_after_three, io_threads=1)
    folder = masks_folder(root, segmenter.key)
    on_disk = set(_files(folder))
    assert {frame.path for frame in frames[:3]} <= on_disk <= {frame.path for frame in frames[:4]}  # the write under way may have finished
    first = root / written[0]["mask_path"]
    first.write_bytes(first.read_bytes()[:60])  # truncated: must be recomputed
    stale = folder / "vimeo_triplet/sequences/00001/0002/.im3.a1b2c3d4.tmp.png"  # what a SIGKILL mid-write leaves
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"\x89PNG")
    rows = precompute_masks(root, frames, segmenter, dataset="demo")
    kept = [frame.path in on_disk and frame.path != frames[0].path for frame in frames]
    assert [row["seconds"] == 0.0 for row in rows] == kept
    assert _files(folder) == expected


def test_feature_two_segmenters_masks_coexist(complete: tuple[Path, list[dict]], segmenter: DeepLabV3Segmenter) -> None:
    root, rows = complete
    predicted = _files(masks_folder(root, segmenter.key))
    truth_rows = precompute_masks(root, frames_for_training(root), SEGMENTERS.build({"type": "ground_truth"}, "cpu"), dataset="demo")
    truth = _files(masks_folder(root, "ground_truth"))
    assert _files(masks_folder(root, segmenter.key)) == predicted  # untouched
    assert sorted(truth) == sorted(predicted)  # the same frames, in two folders
    assert truth != predicted
    assert {r["mask_path"].split("/")[1] for r in truth_rows} == {"ground_truth"}
    assert {r["mask_path"].split("/")[1] for r in rows} == {segmenter.key}


def test_exception_missing_or_wrong_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(VosvfiError, match=r"^weights: deeplabv3_resnet101 weights not found: .*none.pth$"):
        SEGMENTERS.build({"type": "deeplabv3_resnet101", "weights": tmp_path / "none.pth"}, "cpu")
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "weights"))
    with pytest.raises(VosvfiError) as caught:
        SEGMENTERS.build({"type": "deeplabv3_resnet101", "download": False}, "cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert f"place deeplabv3_resnet101_coco-586e9e4e.pth (sha256 586e9e4e) at {tmp_path / 'weights' / 'deeplabv3_resnet101_coco-586e9e4e.pth'}" in message
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(VosvfiError, match="does not fit DeepLabV3-ResNet101 with 21 classes"):
        SEGMENTERS.build({"type": "deeplabv3_resnet101", "weights": wrong}, "cpu")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(VosvfiError, match="is not a loadable weights file"):
        SEGMENTERS.build({"type": "deeplabv3_resnet101", "weights": junk}, "cpu")


def test_smoke_cli_with_a_worker_process(tmp_path: Path, weights: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_vimeo_triplets(tmp_path / "demo", **TREE)
    parser = argparse.ArgumentParser(prog="vosvfi")
    masks_command.register(parser.add_subparsers(dest="command", required=True))
    argv = ["masks", str(root), "--weights", str(weights), "--split", "test", "--workers", "1", "--device", "cpu", "--masks-root", str(tmp_path / "m")]
    args = parser.parse_args(argv)
    assert args.handler(args) == 0
    key = f"deeplabv3_resnet101-{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"
    assert capsys.readouterr().out == f"{tmp_path / 'm' / key}: 1 masks of test shard 1/1 (1 computed, 0 kept)\n"
    with Image.open(tmp_path / "m" / key / "vimeo_triplet/sequences/00001/0003/im2.png") as image:
        assert (image.mode, image.size) == ("L", (W, H))


def test_feature_folding_batch_norms_keeps_the_function() -> None:
    torch.manual_seed(1)
    downsample = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16))
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), Bottleneck(8, 4, downsample=downsample))
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # statistics and affine terms far from the identity
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-1, 1)
    model.eval()
    x = torch.randn(2, 3, 9, 11)
    with torch.no_grad():
        expected = model(x)
        folded = fold_batch_norms(model)
        assert not any(isinstance(module, nn.BatchNorm2d) for module in folded.modules())
        torch.testing.assert_close(folded(x), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1)))
