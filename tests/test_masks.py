"""Mask files, frame lists and shards, the ground_truth segmenter, resumable keyed precomputation and ``vosvfi masks`` (no network here)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vosvfi_core.commands import masks as masks_command
from vosvfi_core.data.datasets import DavisX2, FolderTriplets, MiddleburyOther, SnuFilm, UCF101Triplets, VimeoTriplets
from vosvfi_core.data.synthetic import write_davis_sequences, write_vimeo_triplets
from vosvfi_core.errors import VosvfiError
from vosvfi_core.masks import (
    SEGMENTERS,
    FrameRef,
    frames_for_evaluation,
    frames_for_training,
    frames_for_vimeo,
    masks_folder,
    parse_shard,
    precompute_masks,
    read_mask,
    shard,
    valid_mask,
    vimeo_masks_dir,
    write_mask,
)
from vosvfi_core.masks.deeplabv3 import size_batches

H, W = 16, 20


@pytest.fixture
def vimeo(tmp_path: Path) -> Path:
    """Two training and one test triplet of 20x16 frames, with the generator's exact masks."""
    return write_vimeo_triplets(tmp_path / "demo", train_count=2, test_count=1, height=H, width=W, seed=0)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) → its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


# --- mask files ---------------------------------------------------------------------------------


def test_feature_mask_round_trip_is_single_channel_0_255(tmp_path: Path) -> None:
    mask = torch.zeros(5, 7, dtype=torch.bool)
    mask[1:3, 2:6] = True
    path = tmp_path / "m" / "im1.png"
    write_mask(path, mask)
    with Image.open(path) as image:
        assert image.mode == "L"
        assert set(np.unique(np.asarray(image))) == {0, 255}
    assert torch.equal(read_mask(path), mask)


def test_exception_bad_mask_files(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (4, 4)).save(rgb)
    with pytest.raises(VosvfiError, match="single-channel"):
        read_mask(rgb)
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(grey)
    with pytest.raises(VosvfiError, match="0 or 255"):
        read_mask(grey)
    with pytest.raises(VosvfiError, match="mask not found"):
        read_mask(tmp_path / "missing.png")


def test_feature_valid_mask_refuses_truncated_resized_and_foreign_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((40, 50)) > 0.5  # noise: the PNG is large enough to truncate inside its pixel data
    path = tmp_path / "m.png"
    write_mask(path, mask)
    assert np.array_equal(valid_mask(path, (40, 50)), mask)
    assert valid_mask(path, (50, 40)) is None
    assert valid_mask(tmp_path / "missing.png", (40, 50)) is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert valid_mask(path, (40, 50)) is None
    Image.fromarray(np.full((40, 50), 7, np.uint8)).save(path)
    assert valid_mask(path, (40, 50)) is None
    Image.new("RGB", (50, 40)).save(path)
    assert valid_mask(path, (40, 50)) is None


# --- frames and shards --------------------------------------------------------------------------


@pytest.mark.parametrize("total", [0, 1, 5, 12, 13])
@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_cardinality_shards_cover_every_frame_once(total: int, count: int) -> None:
    items = [f"f{i}" for i in range(total)]
    shards = [shard(items, index, count) for index in range(count)]
    assert [item for part in shards for item in part] == items  # in order, each exactly once
    sizes = [len(part) for part in shards]
    assert max(sizes) - min(sizes) <= 1


def test_exception_shard_arguments() -> None:
    for index, count in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(VosvfiError, match="need 0 <= index < count"):
            shard([1, 2], index, count)
    assert parse_shard("1/4") == (0, 4) and parse_shard(" 4 / 4 ") == (3, 4)
    for text, message in (("0/2", "1 <= i <= n"), ("3/2", "1 <= i <= n"), ("1/0", "1 <= i <= n"), ("2", "expected i/n"), ("a/b", "expected i/n")):
        with pytest.raises(VosvfiError, match=message):
            parse_shard(text)


def test_cardinality_size_batches_group_frames_of_one_size() -> None:
    sizes = [(4, 6), (4, 6), (8, 6), (4, 6), (8, 6), (4, 6), (4, 6)]
    assert size_batches(sizes, 2) == [[0, 1], [3, 5], [6], [2, 4]]
    assert size_batches(sizes, 8) == [[0, 1, 3, 5, 6], [2, 4]]
    assert size_batches([], 3) == []


def test_cardinality_training_frames_are_three_per_triplet(vimeo: Path) -> None:
    frames = frames_for_training(vimeo)
    assert len(frames) == 6
    assert frames[:3] == [FrameRef("00001/0001", k, f"vimeo_triplet/sequences/00001/0001/im{k + 1}.png") for k in range(3)]
    assert all((vimeo / frame.path).is_file() for frame in frames)
    assert frames_for_vimeo(vimeo, "test") == [FrameRef("00001/0003", 1, "vimeo_triplet/sequences/00001/0003/im2.png")]


def _png(path: Path, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def test_cardinality_evaluation_frames_are_the_ground_truth_middles(tmp_path: Path, vimeo: Path) -> None:
    assert frames_for_evaluation(VimeoTriplets(vimeo, "test", crop=None), vimeo) == frames_for_vimeo(vimeo, "test")

    davis = write_davis_sequences(tmp_path / "davis", count=2, frames=5, height=H, width=W, seed=0)
    refs = frames_for_evaluation(DavisX2(davis, "val", with_annotations=False), davis)
    # 5 frames: triplets (0, 1, 2) and (2, 3, 4) → truths 1 and 3, per sequence.
    assert [r.path for r in refs] == [f"DAVIS/JPEGImages/480p/seq{s:03d}/{n:05d}.jpg" for s in range(2) for n in (1, 3)]
    assert refs[0] == FrameRef("seq000/00001", 1, "DAVIS/JPEGImages/480p/seq000/00001.jpg")

    middlebury = tmp_path / "middlebury"
    for name in ("Beanbags", "Venus"):
        for part in ("other-data/{}/frame10.png", "other-data/{}/frame11.png", "other-gt-interp/{}/frame10i11.png"):
            _png(middlebury / part.format(name))
    refs = frames_for_evaluation(MiddleburyOther(middlebury), middlebury)
    assert refs == [FrameRef(n, 1, f"other-gt-interp/{n}/frame10i11.png") for n in ("Beanbags", "Venus")]

    ucf = tmp_path / "ucf"
    for name in ("2", "10"):
        for file in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):
            _png(ucf / "UCF101_results" / "ucf101_interp_ours" / name / file)
    refs = frames_for_evaluation(UCF101Triplets(ucf), ucf)
    assert refs == [FrameRef(n, 1, f"UCF101_results/ucf101_interp_ours/{n}/frame_01_gt.png") for n in ("2", "10")]

    snu = tmp_path / "snu"
    for k in range(3):
        _png(snu / "test" / "GOPRO_test" / "v" / f"{k:05d}.png", k)
    (snu / "eval_modes").mkdir()
    (snu / "eval_modes" / "test-easy.txt").write_text(" ".join(f"data/SNU-FILM/test/GOPRO_test/v/{k:05d}.png" for k in range(3)) + "\n")
    refs = frames_for_evaluation(SnuFilm(snu, "easy"), snu)
    assert refs == [FrameRef("test/GOPRO_test/v/00001", 1, "test/GOPRO_test/v/00001.png")]

    folder = tmp_path / "mine"
    for name in ("clip2", "clip10"):
        for stem in ("frame0", "frame1", "frame2"):
            _png(folder / name / f"{stem}.png")
    refs = frames_for_evaluation(FolderTriplets(folder), folder)
    assert refs == [FrameRef(n, 1, f"{n}/frame1.png") for n in ("clip2", "clip10")]

    with pytest.raises(VosvfiError, match="cannot list the evaluation frames of a list"):
        frames_for_evaluation([], snu)  # type: ignore[arg-type]


# --- ground truth and the precomputation driver ------------------------------------------------


def test_feature_ground_truth_reproduces_synthetic_masks_bit_for_bit(vimeo: Path) -> None:
    frames = frames_for_vimeo(vimeo, "train") + frames_for_vimeo(vimeo, "test")
    rows = precompute_masks(vimeo, frames, SEGMENTERS.build({"type": "ground_truth"}, "cpu"), dataset="demo")
    folder = masks_folder(vimeo, "ground_truth")
    assert folder == vimeo / "masks" / "ground_truth"
    assert len(rows) == len(frames) == 7
    for frame, row in zip(frames, rows, strict=True):
        source = vimeo / "vimeo_triplet" / "masks" / frame.sample / f"im{frame.frame + 1}.png"
        ours = vimeo / row["mask_path"]
        assert ours == folder / frame.path
        with Image.open(ours) as image:
            assert image.mode == "L" and image.size == (W, H)
        assert np.array_equal(_pixels(ours), _pixels(source))
        assert row["foreground_fraction"] == pytest.approx((_pixels(source) == 255).mean())
        assert (row["dataset"], row["sample"], row["frame"], row["frame_path"]) == ("demo", frame.sample, frame.frame, frame.path)
        assert (row["segmenter"], row["weights_sha256"]) == ("ground_truth", None)
        assert row["seconds"] > 0
    assert any(row["foreground_fraction"] > 0 for row in rows)
    # VimeoTriplets reads the keyed folder through masks_dir.
    item = VimeoTriplets(vimeo, "train", crop=None, with_masks=True, masks_dir=vimeo_masks_dir(vimeo, "ground_truth"))[0]
    assert torch.equal(item["mask0"][0] == 1, torch.from_numpy(_pixels(vimeo / "vimeo_triplet/masks/00001/0001/im1.png") == 255))


def test_feature_ground_truth_converts_davis_annotations(tmp_path: Path) -> None:
    davis = write_davis_sequences(tmp_path, count=1, frames=3, height=H, width=W, seed=2)
    frames = [FrameRef("seq000", n, f"DAVIS/JPEGImages/480p/seq000/{n:05d}.jpg") for n in range(3)]
    rows = precompute_masks(davis, frames, SEGMENTERS.build({"type": "ground_truth"}, "cpu"), dataset="davis")
    for n, row in enumerate(rows):
        assert row["mask_path"] == f"masks/ground_truth/DAVIS/JPEGImages/480p/seq000/{n:05d}.png"
        with Image.open(davis / f"DAVIS/Annotations/480p/seq000/{n:05d}.png") as annotation:
            assert annotation.mode == "P"
            expected = np.where(np.asarray(annotation) > 0, 255, 0)
        assert np.array_equal(_pixels(davis / row["mask_path"]), expected)


def test_feature_rerun_keeps_valid_masks_and_recomputes_broken_ones(vimeo: Path) -> None:
    segmenter = SEGMENTERS.build({"type": "ground_truth"}, "cpu")
    frames = frames_for_training(vimeo)
    first = precompute_masks(vimeo, frames, segmenter, dataset="demo")
    folder = masks_folder(vimeo, "ground_truth")
    expected = _files(folder)
    truncated, resized, removed = (vimeo / first[i]["mask_path"] for i in (1, 3, 5))
    truncated.write_bytes(truncated.read_bytes()[:40])
    Image.new("L", (W + 1, H)).save(resized)
    removed.unlink()
    kept = vimeo / first[0]["mask_path"]
    os.utime(kept, ns=(1, 1))  # a kept mask is not rewritten: its mtime stays
    second = precompute_masks(vimeo, frames, segmenter, dataset="demo")
    assert kept.stat().st_mtime_ns == 1
    assert _files(folder) == expected
    assert [row["seconds"] == 0.0 for row in second] == [True, False, True, False, True, False]
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in first]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in second] == strip


def test_feature_killed_run_resumes_to_the_files_of_an_uninterrupted_run(tmp_path: Path) -> None:
    segmenter = SEGMENTERS.build({"type": "ground_truth"}, "cpu")
    complete = write_vimeo_triplets(tmp_path / "a", train_count=2, test_count=1, height=H, width=W, seed=0)
    precompute_masks(complete, frames_for_training(complete), segmenter, dataset="demo")
    expected = _files(masks_folder(complete, "ground_truth"))

    killed = write_vimeo_triplets(tmp_path / "b", train_count=2, test_count=1, height=H, width=W, seed=0)
    done: list[str] = []

    def die_after_two(row: dict) -> None:
        done.append(row["mask_path"])
        if len(done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute_masks(killed, frames_for_training(killed), segmenter, dataset="demo", progress=die_after_two, io_threads=1)
    folder = masks_folder(killed, "ground_truth")
    assert len(_files(folder)) in (2, 3)  # the one write under way when the run died may have finished
    # What a SIGKILL during a write leaves: a temporary of a mask still to come, and another shard's in-flight one.
    stale = folder / "vimeo_triplet/sequences/00001/0002/.im1.k9x_q2ab.tmp.png"
    foreign = folder / "vimeo_triplet/sequences/00001/0002/.im9.zz11yy22.tmp.png"
    for path in (stale, foreign):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a png")
    precompute_masks(killed, frames_for_training(killed), segmenter, dataset="demo")
    assert not stale.exists() and foreign.exists()
    foreign.unlink()
    assert _files(folder) == expected


def test_exception_ground_truth_without_shipped_masks(vimeo: Path, tmp_path: Path) -> None:
    segmenter = SEGMENTERS.build({"type": "ground_truth"}, "cpu")
    frames = frames_for_training(vimeo)
    (vimeo / "vimeo_triplet/masks/00001/0002/im3.png").unlink()
    with pytest.raises(VosvfiError, match=r"ships no mask for vimeo_triplet/sequences/00001/0002/im3.png: missing file .*masks/00001/0002/im3.png"):
        precompute_masks(vimeo, frames, segmenter, dataset="demo")
    assert not masks_folder(vimeo, "ground_truth").exists()  # checked before any mask is written
    _png(tmp_path / "other" / "a.png")
    with pytest.raises(VosvfiError, match="no shipped masks are known for a.png"):
        precompute_masks(tmp_path / "other", [FrameRef("a", 0, "a.png")], segmenter, dataset="x")
    with pytest.raises(VosvfiError, match="frame vimeo_triplet/sequences/00001/0001/im2.png is listed twice"):
        precompute_masks(vimeo, [*frames, frames[1]], segmenter, dataset="demo")
    Image.new("L", (W, H + 2)).save(vimeo / "vimeo_triplet/masks/00001/0002/im3.png")
    with pytest.raises(
        VosvfiError, match=r"ground_truth: the mask for vimeo_triplet/sequences/00001/0002/im3.png has shape \(18, 20\), but the frame is 20x16"
    ):
        precompute_masks(vimeo, frames, segmenter, dataset="demo")


def test_exception_segmenter_registry() -> None:
    assert {"deeplabv3_resnet101", "ground_truth"} <= set(SEGMENTERS.names())
    with pytest.raises(VosvfiError, match="unknown segmenter 'deeplab'; known: deeplabv3_resnet101, ground_truth"):
        SEGMENTERS.build({"type": "deeplab"}, "cpu")
    with pytest.raises(VosvfiError, match="segmenter deeplabv3_resnet101: batch_size: Input should be greater than 0"):
        SEGMENTERS.build({"type": "deeplabv3_resnet101", "batch_size": 0}, "cpu")
    with pytest.raises(VosvfiError, match="segmenter ground_truth: weights: unknown argument"):
        SEGMENTERS.build({"type": "ground_truth", "weights": "w.pth"}, "cpu")


# --- the command line ---------------------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vosvfi")
    masks_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["masks", *argv])
    return args.handler(args)


def test_feature_cli_shards_together_write_every_mask(vimeo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for part in ("1/2", "2/2"):
        assert _cli([str(vimeo), "--segmenter", "ground_truth", "--shard", part]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{vimeo / 'masks' / 'ground_truth'}: 3 masks of train shard 1/2 (3 computed, 0 kept)",
        f"{vimeo / 'masks' / 'ground_truth'}: 3 masks of train shard 2/2 (3 computed, 0 kept)",
    ]
    written = sorted(p.relative_to(vimeo / "masks/ground_truth").as_posix() for p in (vimeo / "masks/ground_truth").rglob("*.png"))
    assert written == sorted(frame.path for frame in frames_for_training(vimeo))
    assert _cli([str(vimeo), "--segmenter", "ground_truth", "--split", "test", "--quiet"]) == 0
    assert capsys.readouterr().out.endswith("1 masks of test shard 1/1 (1 computed, 0 kept)\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{root}/none"], "neither a data set folder nor a data set name"),
        (["{root}", "--shard", "3/2"], r"--shard 3/2: need 1 <= i <= n"),
        (["{root}", "--segmenter", "nope"], "unknown segmenter 'nope'"),
        (["{root}", "--segmenter", "ground_truth", "--weights", "w.pth"], "--weights: segmenter ground_truth has no weights setting"),
        (["{root}", "--segmenter", "ground_truth", "--batch-size", "4"], "--batch-size: segmenter ground_truth has no batch_size setting"),
        (["{root}", "--batch-size", "0"], "batch_size: Input should be greater than 0"),
        (["{root}", "--weights", "{root}/none.pth"], "--weights: file not found: .*none.pth"),
        (["{root}/vimeo_triplet"], "missing folder .*vimeo_triplet/vimeo_triplet"),
    ],
)
def test_exception_cli_checks_arguments_before_any_work(vimeo: Path, argv: list[str], message: str) -> None:
    with pytest.raises(VosvfiError, match=message):
        _cli([arg.format(root=vimeo) for arg in argv])
    assert not (vimeo / "masks").exists()


def test_cardinality_frame_shards_cover_the_frames_once_within_the_size() -> None:
    from vosvfi_core.masks.shards import frame_shards

    frames = [FrameRef(f"s{i}", 1, f"s{i}/frame1.png") for i in range(7)]
    shards = frame_shards(frames, 3)
    assert [len(part) for part in shards] == [2, 2, 3]  # ceil(7 / 3) shards, sizes differing by one at most
    assert [f for part in shards for f in part] == frames
    assert frame_shards(frames, 7) == [tuple(frames)] and frame_shards([], 5) == [()]


def test_feature_shard_inputs_add_the_shipped_masks_for_ground_truth() -> None:
    from vosvfi_core.masks.shards import manifest_key, shard_inputs

    frame = FrameRef("00001/0001", 0, "vimeo_triplet/sequences/00001/0001/im1.png")
    assert shard_inputs([frame], "deeplabv3_resnet101") == [frame.path]
    assert shard_inputs([frame], "ground_truth") == [frame.path, "vimeo_triplet/masks/00001/0001/im1.png"]
    assert manifest_key([{"segmenter": "deeplabv3_resnet101", "weights_sha256": "ab" * 32}]) == "deeplabv3_resnet101-" + "ab" * 6
    assert manifest_key([{"segmenter": "ground_truth", "weights_sha256": None}]) == "ground_truth"
