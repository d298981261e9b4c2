"""Masks for evaluation sets that ship none: planned when an object-aware metric asks, made by the
masks stage (or ``vosvfi masks NAME``) under the data root, read back by evaluation.

A toy segmenter registered here (foreground = bright pixels) makes the masks exact and cheap, so
that the foreground PSNR in the table can be checked against a computation of its own.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from PIL import Image
from pipeline_profile import TINY_PROFILE

from vosvfi_core.commands import masks as masks_command
from vosvfi_core.data.sets import data_set
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks import SEGMENTERS, FrameRef, frames_for_evaluation, masks_folder, read_mask, write_mask
from vosvfi_core.masks.evaluation_sets import MaskedTriplets, evaluation_masks_root
from vosvfi_core.masks.segmenters import MaskResult
from vosvfi_core.plan import plan_run

H, W = 32, 32


class BrightSegmenter:
    """Foreground where the frame's grey level exceeds one half."""

    name = "toy_bright"
    weights_sha256 = None
    key = "toy_bright"

    def check(self, root: Path, frames: Sequence[FrameRef]) -> None:
        pass

    def segment(self, root: Path, frames: Sequence[FrameRef], sizes: Sequence[tuple[int, int]], wanted: Sequence[bool]) -> Iterator[MaskResult]:
        for index, frame in enumerate(frames):
            if wanted[index]:
                yield index, _bright(root / frame.path), 0.0


def _bright(path: Path) -> np.ndarray:
    grey = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64).mean(axis=2) / 255.0
    return np.where(grey > 0.5, 255, 0).astype(np.uint8)


@pytest.fixture
def toy_segmenter() -> Iterator[None]:
    SEGMENTERS.register("toy_bright")(lambda device="cpu": BrightSegmenter())
    yield
    SEGMENTERS.unregister("toy_bright")


@pytest.fixture
def clips(tmp_path: Path) -> Path:
    """Two triplets of 32x32 frames: a bright square moving right over a dark textured background."""
    root = tmp_path / "clips"
    rng = np.random.default_rng(0)
    for sample in ("clip1", "clip2"):
        (root / sample).mkdir(parents=True)
        background = rng.integers(0, 100, size=(H, W, 3))
        for k in range(3):
            frame = background.copy()
            frame[8:20, 6 + 3 * k : 18 + 3 * k] = rng.integers(180, 255, size=(12, 12, 3))
            Image.fromarray(frame.astype(np.uint8)).save(root / sample / f"frame{k}.png")
    return root


def _profile(tmp_path: Path, clips: Path, metrics: list, datasets: list[str] | None = None) -> Path:
    profile = {
        "name": "masked",
        "stages": ["evaluate"],
        "task_runner": {"kind": "threads", "max_workers": 1},
        "data": TINY_PROFILE["data"],  # the synthetic_davis case reads it
        "masks": {"evaluation_segmenter": "toy_bright", "device": "cpu"},
        "evaluate": {
            "checkpoint": str(tmp_path / "random.pth"),
            "datasets": datasets or [f"folder:{clips}"],
            "metrics": metrics,
            "baselines": ["frame_average"],
            "pictures": 0,
            "device": "cpu",
        },
    }
    path = tmp_path / "masked.yaml"
    path.write_text(yaml.safe_dump(profile))
    return path


def test_feature_plan_adds_masks_only_when_an_object_metric_meets_a_set_without_masks(
    tmp_path: Path, clips: Path, toy_segmenter: None, tiny_checkpoint: Path
) -> None:
    shutil.copyfile(tiny_checkpoint, tmp_path / "random.pth")  # the plan checks that the checkpoint loads
    plan = plan_run(str(_profile(tmp_path, clips, ["psnr", "psnr_foreground", {"type": "psnr_boundary", "radius": 2}])))
    assert plan.names == ["data", "masks", "evaluate"]
    reason = dict((s.name, s.reason) for s in plan.stages)["masks"]
    assert reason == f"needed by evaluate: psnr_foreground, psnr_boundary_r2 read object masks, which folder:{clips} ship none of"
    assert plan_run(str(_profile(tmp_path, clips, ["psnr", "ssim"]))).names == ["data", "evaluate"]  # no metric reads masks
    ships_masks = _profile(tmp_path, clips, ["psnr_foreground"], datasets=["synthetic_davis"])
    assert plan_run(str(ships_masks)).names == ["data", "evaluate"]  # DAVIS annotations are the masks


def test_feature_masked_triplets_read_the_middle_masks(tmp_path: Path, clips: Path) -> None:
    spec = data_set(f"folder:{clips}")
    triplets = spec.open_triplets(clips)
    frames = frames_for_evaluation(triplets, clips)
    assert [f.path for f in frames] == ["clip1/frame1.png", "clip2/frame1.png"]
    folder = tmp_path / "masks"
    expected = [np.arange(H * W).reshape(H, W) % (3 + i) == 0 for i in range(2)]
    for frame, mask in zip(frames, expected, strict=True):
        write_mask(folder / frame.path, mask)
    masked = MaskedTriplets(triplets, frames, folder)
    assert len(masked) == 2
    for index in range(2):
        item = masked[index]
        assert torch.equal(item["mask1"], torch.from_numpy(expected[index]))
        assert torch.equal(item["frame1"], triplets[index]["frame1"])

    (folder / "clip2/frame1.png").unlink()
    with pytest.raises(VosvfiError, match=r"no mask for the middle frame of clip2: missing file .*masks/clip2/frame1.png"):
        masked[1]
    write_mask(folder / "clip2/frame1.png", np.zeros((H, W + 1), dtype=bool))
    with pytest.raises(VosvfiError, match=r"clip2/frame1.png: mask is 33x32, but the frame is 32x32"):
        masked[1]
    with pytest.raises(VosvfiError, match="1 masks listed for 2 triplets"):
        MaskedTriplets(triplets, frames[:1], folder)


def test_feature_each_copy_of_a_set_has_its_own_masks_store(tmp_path: Path) -> None:
    first = evaluation_masks_root(tmp_path / "data", "middlebury_other", tmp_path / "a")
    assert first.parent == tmp_path / "data" / "masks" and first.name.startswith("middlebury_other-")
    assert first == evaluation_masks_root(tmp_path / "data", "middlebury_other", tmp_path / "a")
    assert first != evaluation_masks_root(tmp_path / "data", "middlebury_other", tmp_path / "b")
    assert evaluation_masks_root(tmp_path, "folder", Path("/x")).name.startswith("folder-")


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    masks_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["masks", *argv])
    return args.handler(args)


def test_feature_cli_segments_the_middle_frames_of_a_named_set(
    tmp_path: Path, clips: Path, toy_segmenter: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "data"))
    assert _cli([f"folder:{clips}", "--segmenter", "toy_bright", "--quiet"]) == 0
    store = masks_folder(clips, "toy_bright", evaluation_masks_root(tmp_path / "data", "folder", clips))
    assert capsys.readouterr().out == f"{store}: 2 masks of test shard 1/1 (2 computed, 0 kept)\n"
    for sample in ("clip1", "clip2"):
        assert np.array_equal(read_mask(store / sample / "frame1.png").numpy(), _bright(clips / sample / "frame1.png") == 255)
    assert not (clips / "masks").exists()  # nothing is written into the user's folder
    assert _cli([f"folder:{clips}", "--segmenter", "toy_bright", "--quiet"]) == 0
    assert capsys.readouterr().out.endswith("(0 computed, 2 kept)\n")
    with pytest.raises(VosvfiError, match=f"--split train: data set folder:{clips} has no training triplets"):
        _cli([f"folder:{clips}", "--segmenter", "toy_bright", "--split", "train"])
    with pytest.raises(VosvfiError, match=f"data set folder:{tmp_path / 'nowhere'}: folder not found"):
        _cli([f"folder:{tmp_path / 'nowhere'}", "--segmenter", "toy_bright"])
    with pytest.raises(VosvfiError, match="data set middlebury_other is not in place under .*; prepare it first: vosvfi data download middlebury_other"):
        _cli(["middlebury_other", "--segmenter", "toy_bright"])


def _region_psnr(output: np.ndarray, truth: np.ndarray, region: np.ndarray) -> float:
    error = (output - truth)[region]  # [pixels, 3]
    return float(10 * np.log10(1.0 / np.mean(error**2)))


@pytest.mark.slow
def test_feature_pipeline_scores_foreground_psnr_with_the_masks_stages_masks(
    tmp_path: Path, clips: Path, toy_segmenter: None, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.pipeline import pipeline
    from vosvfi_core.checkpoint_format import save_checkpoint
    from vosvfi_core.models import adacof

    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("VOSVFI_RUNS_ROOT", str(tmp_path / "runs"))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "random.pth", adacof(kernel_size=5, dilation=1), epoch=0)
    profile = _profile(tmp_path, clips, ["psnr", "psnr_foreground"])
    state = pipeline(profile=str(profile), return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["stages"] == ["data", "masks", "evaluate"]

    manifest = pq.read_table(result["tables"]["masks_manifest"]).to_pylist()
    assert [(r["sample"], r["frame"], r["segmenter"]) for r in manifest] == [("clip1", 1, "toy_bright"), ("clip2", 1, "toy_bright")]
    scores = pq.read_table(result["tables"]["eval_results"]).to_pandas()
    foreground = scores[(scores["metric"] == "psnr_foreground") & (scores["model"] == "frame_average")].set_index("sample")["value"]
    assert len(foreground) == 2 and foreground.notna().all()
    for sample in ("clip1", "clip2"):
        frames = [np.asarray(Image.open(clips / sample / f"frame{k}.png"), dtype=np.float64) / 255.0 for k in range(3)]
        region = _bright(clips / sample / "frame1.png") == 255
        expected = _region_psnr((frames[0] + frames[2]) / 2, frames[1], region)
        assert foreground[sample] == pytest.approx(expected, rel=1e-5)
    model = scores[(scores["metric"] == "psnr_foreground") & (scores["model"] == "random")]
    assert len(model) == 2 and model["value"].notna().all()

    # A rerun takes the masks from cache; deleting a mask file makes the masks stage write it again.
    store = masks_folder(clips, "toy_bright", evaluation_masks_root(tmp_path / "data", "folder", clips))
    (store / "clip1" / "frame1.png").unlink()
    time.sleep(0.01)
    again = pipeline(profile=str(profile), return_state=True)
    assert again.is_completed(), again.message
    assert (store / "clip1" / "frame1.png").is_file()


@pytest.mark.slow
def test_feature_evaluation_goes_on_with_null_object_metrics_when_masks_cannot_be_made(
    tmp_path: Path, clips: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.pipeline import pipeline
    from vosvfi_core.checkpoint_format import save_checkpoint
    from vosvfi_core.models import adacof
    from vosvfi_core.weights import WEIGHTS_DIR_ENV

    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("VOSVFI_RUNS_ROOT", str(tmp_path / "runs"))
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(tmp_path / "no-weights"))
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "random.pth", adacof(kernel_size=5, dilation=1), epoch=0)
    profile = _profile(tmp_path, clips, ["psnr", "psnr_foreground"])
    settings = yaml.safe_load(profile.read_text())
    settings["masks"]["evaluation_segmenter"] = {"type": "deeplabv3_resnet101", "download": False}  # offline, no file in place
    profile.write_text(yaml.safe_dump(settings))
    state = pipeline(profile=str(profile), return_state=True)
    assert state.is_completed(), state.message
    scores = pq.read_table(state.result()["tables"]["eval_results"]).to_pandas()
    foreground = scores[scores["metric"] == "psnr_foreground"]
    assert len(foreground) == 4 and foreground["value"].isna().all()  # 2 samples x (model, frame average)
    assert foreground["note"].str.startswith("no object masks: ").all()
    assert foreground["note"].str.contains("deeplabv3_resnet101_coco-586e9e4e.pth").all()  # names the file to place
    assert scores[scores["metric"] == "psnr"]["value"].notna().all()
