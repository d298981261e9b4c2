"""The synthetic generator: exact frames and masks at any t, determinism, and the written layouts."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vosvfi_core.commands import data as data_commands
from vosvfi_core.data.catalog import load_catalog
from vosvfi_core.data.datasets import DavisSequences, DavisX2, TrackingSequences, VimeoTriplets
from vosvfi_core.data.download import MARKER_NAME, ensure_dataset
from vosvfi_core.data.synthetic import (
    Background,
    Box,
    DemoDataConfig,
    Polygon,
    Scene,
    SceneObject,
    SyntheticConfig,
    random_scene,
    render_frame,
    scene_for,
    solid_texture,
    write_davis_sequences,
    write_demo_dataset,
    write_tracking_sequences,
    write_vimeo_triplets,
)
from vosvfi_core.data.synthetic.sampling import sample_bilinear

GREY = (90.0, 90.0, 90.0)
RED = (255.0, 0.0, 0.0)


def _square_scene(velocity=(4.0, 0.0)) -> Scene:
    """A 10x10 red square centred at (20.5, 15.5) on flat grey, moving ``velocity`` pixels per unit t."""
    square = SceneObject(shape=Box(5.0, 5.0), texture=solid_texture(RED), center=(20.5, 15.5), velocity=velocity)
    return Scene(height=32, width=48, background=Background(solid_texture(GREY)), objects=(square,))


def _box_mask(height: int, width: int, rows: range, cols: range) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[rows.start : rows.stop, cols.start : cols.stop] = 1
    return mask


@pytest.mark.parametrize(("t", "first_col"), [(0.0, 16), (0.5, 18), (1.0, 20)])
def test_feature_square_moving_4px_is_exactly_2px_right_at_half_time(t, first_col):
    image, mask = render_frame(_square_scene(), t)
    expected = _box_mask(32, 48, range(11, 21), range(first_col, first_col + 10))
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(image[mask == 1], np.tile(np.uint8(RED), (100, 1)))
    np.testing.assert_array_equal(image[mask == 0], np.full((32 * 48 - 100, 3), 90, dtype=np.uint8))


def test_feature_integer_background_pan_shifts_the_texture_exactly():
    texture = np.random.default_rng(0).uniform(0, 255, size=(60, 80, 3))
    scene = Scene(height=24, width=32, background=Background(texture, origin=(10.0, 12.0), velocity=(3.0, -2.0)))
    at0, _ = render_frame(scene, 0.0)
    at1, _ = render_frame(scene, 1.0)
    at2, _ = render_frame(scene, 2.0)
    np.testing.assert_array_equal(at0, np.rint(texture[12:36, 10:42]).astype(np.uint8))
    np.testing.assert_array_equal(at1, np.rint(texture[10:34, 13:45]).astype(np.uint8))
    np.testing.assert_array_equal(at2[4:, :-6], at0[:-4, 6:])  # the pan, seen in the frames themselves


def test_feature_half_pixel_pan_is_the_mean_of_two_texels():
    texture = np.random.default_rng(1).integers(0, 256, size=(30, 40, 3)).astype(np.float64)
    scene = Scene(height=10, width=12, background=Background(texture, origin=(5.0, 5.0), velocity=(1.0, 0.0)))
    middle, _ = render_frame(scene, 0.5)
    expected = (texture[5:15, 5:17] + texture[5:15, 6:18]) / 2
    np.testing.assert_array_equal(middle, np.clip(np.rint(expected), 0, 255).astype(np.uint8))


def test_feature_quarter_turn_swaps_a_rectangles_extent():
    bar = SceneObject(shape=Box(6.0, 2.0), texture=solid_texture(RED), center=(20.25, 20.25), angular_velocity=math.pi / 2)
    scene = Scene(height=40, width=40, background=Background(solid_texture(GREY)), objects=(bar,))
    _, flat = render_frame(scene, 0.0)
    _, upright = render_frame(scene, 1.0)
    np.testing.assert_array_equal(flat, _box_mask(40, 40, range(19, 23), range(15, 27)))
    np.testing.assert_array_equal(upright, _box_mask(40, 40, range(15, 27), range(19, 23)))


def test_feature_rotated_scaled_polygon_mask_matches_an_independent_rasterisation():
    vertices = ((8.0, 0.5), (1.5, 6.0), (-7.0, 3.0), (-5.5, -6.5), (3.0, -7.5))
    shape = SceneObject(
        shape=Polygon(vertices), texture=solid_texture(RED), center=(30.3, 25.7),
        velocity=(6.2, -3.1), angle=0.4, angular_velocity=0.7, scale=0.9, scale_velocity=0.3,
    )  # fmt: skip
    scene = Scene(height=50, width=64, background=Background(solid_texture(GREY)), objects=(shape,))
    t = 0.5
    _, mask = render_frame(scene, t)
    # forward-map the vertices to the image at t and test pixel centres with OpenCV
    cx, cy = shape.center_at(t)
    a, s = shape.angle_at(t), shape.scale_at(t)
    image_vertices = np.array(
        [[cx + s * (math.cos(a) * qx - math.sin(a) * qy), cy + s * (math.sin(a) * qx + math.cos(a) * qy)] for qx, qy in vertices],
        dtype=np.float32,
    )
    checked = 0
    for y in range(50):
        for x in range(64):
            distance = cv2.pointPolygonTest(image_vertices, (float(x), float(y)), True)
            if abs(distance) < 1e-3:
                continue  # on an edge: either answer is right
            assert (mask[y, x] == 1) == (distance > 0), (x, y, distance)
            checked += 1
    assert checked > 3000 and mask.sum() > 100


def test_feature_middle_frame_is_rendered_not_interpolated():
    # the same scene re-timed to start at t = 0.5 renders the same frame at its t = 0 (no brightness change: g(t) is not re-timed here)
    scene = scene_for(SyntheticConfig(seed=3, height=48, width=64, max_gain_change=0.0))
    middle, middle_mask = render_frame(scene, 0.5)
    moved = dataclasses.replace(
        scene,
        background=dataclasses.replace(scene.background, origin=scene.background.origin_at(0.5)),
        objects=tuple(dataclasses.replace(o, center=o.center_at(0.5), angle=o.angle_at(0.5), scale=o.scale_at(0.5)) for o in scene.objects),
    )
    again, again_mask = render_frame(moved, 0.0)
    np.testing.assert_array_equal(middle_mask, again_mask)
    assert np.abs(middle.astype(int) - again.astype(int)).max() <= 1  # float rounding of c + v t only
    first, _ = render_frame(scene, 0.0)
    last, _ = render_frame(scene, 1.0)
    blend = (first.astype(np.float64) + last) / 2
    assert np.abs(blend - middle).mean() > 1.0  # not the average of its neighbours


def test_feature_bilinear_sampling_against_a_direct_formula():
    texture = np.random.default_rng(2).uniform(0, 255, size=(7, 9, 3))
    x, y = np.array([[2.25, 0.0, 8.0]]), np.array([[3.5, 0.0, 6.0]])
    samples = sample_bilinear(texture, x, y)
    expected = 0.75 * 0.5 * texture[3, 2] + 0.25 * 0.5 * texture[3, 3] + 0.75 * 0.5 * texture[4, 2] + 0.25 * 0.5 * texture[4, 3]
    np.testing.assert_allclose(samples[0, 0], expected)
    np.testing.assert_array_equal(samples[0, 1], texture[0, 0])
    np.testing.assert_array_equal(samples[0, 2], texture[6, 8])


def test_feature_random_scene_is_deterministic_and_keeps_objects_inside():
    first = render_frame(random_scene(np.random.default_rng(7), 40, 56), 0.5)
    second = render_frame(random_scene(np.random.default_rng(7), 40, 56), 0.5)
    np.testing.assert_array_equal(first[0], second[0])
    scene = random_scene(np.random.default_rng(8), 64, 64, duration=20.0, keep_inside=True)
    for t in (0.0, 10.0, 20.0):
        _, mask = render_frame(scene, t)
        topmost = mask == len(scene.objects)  # drawn last, so never hidden: its whole shape is in the frame
        assert topmost.any()
        assert not (topmost[0].any() or topmost[-1].any() or topmost[:, 0].any() or topmost[:, -1].any())


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_feature_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_vimeo_triplets(tmp_path / name, train_count=4, test_count=2, height=32, width=40, seed=seed)
        write_davis_sequences(tmp_path / name, count=1, frames=4, height=32, width=40, seed=seed)
        write_tracking_sequences(tmp_path / name / "tracking", count=1, frames=4, height=40, width=40, seed=seed)
    a, b, c = (_all_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c


def test_cardinality_vimeo_layout_is_readable_with_masks(tmp_path):
    root = write_vimeo_triplets(tmp_path, train_count=5, test_count=3, height=48, width=64, seed=0)
    assert (tmp_path / "vimeo_triplet" / "tri_trainlist.txt").read_text().splitlines()[0] == "00001/0001"
    train = VimeoTriplets(root, "train", crop=32, augment=True, with_masks=True)
    test = VimeoTriplets(root, "test", with_masks=True)
    assert len(train) == 5 and len(test) == 3 and test.names[0] == "00001/0006"
    item = train[0]
    assert item["frame1"].shape == (3, 32, 32) and item["mask2"].shape == (1, 32, 32)
    full = test[0]
    assert full["frame0"].shape == (3, 48, 64)
    # masks are the scene's exact foreground
    scene = random_scene(np.random.default_rng([0, 0, 5]), 48, 64)
    _, mask = render_frame(scene, 0.5)
    np.testing.assert_array_equal(full["mask1"][0].numpy(), (mask > 0).astype(np.float32))


def _red_square_on_grey(rng: np.random.Generator, height: int, width: int) -> Scene:
    grey = rng.uniform(30, 200, size=(height, width, 1)).repeat(3, axis=2)  # R = G = B everywhere
    square = SceneObject(
        shape=Box(6.0, 4.0), texture=solid_texture(RED), center=(rng.uniform(10, width - 10), rng.uniform(8, height - 8)),
        velocity=(5.0, 3.0), angular_velocity=0.3,
    )  # fmt: skip
    return Scene(height, width, Background(grey), (square,))


def test_feature_augmentation_keeps_frames_and_masks_aligned(tmp_path):
    write_vimeo_triplets(tmp_path, train_count=3, test_count=1, height=32, width=48, seed=1, scene_fn=_red_square_on_grey)
    plain = VimeoTriplets(tmp_path, "train", crop=None, augment=False, with_masks=True)
    augmented = VimeoTriplets(tmp_path, "train", crop=24, augment=True, with_masks=True)
    seen = set()
    for draw in range(16):
        torch.manual_seed(draw)
        item = augmented[draw % 3]
        for k in range(3):
            frame, mask = item[f"frame{k}"], item[f"mask{k}"][0]
            is_red = (frame[0] - frame[1]) > 0.5
            assert torch.equal(is_red, mask > 0.5), (draw, k)
        # the augmented triplet is one of the 8 flips/reversals of a crop of the original
        original = plain[draw % 3]
        match = None
        for reverse in (False, True):
            for dims in ([], [-2], [-1], [-2, -1]):
                frames = [original[f"frame{k}"] for k in ((2, 1, 0) if reverse else (0, 1, 2))]
                frames = [f.flip(dims) if dims else f for f in frames]
                windows = frames[0].unfold(1, 24, 1).unfold(2, 24, 1)  # [3, nH, nW, 24, 24]
                hits = (windows == item["frame0"][:, None, None]).flatten(3).all(-1).all(0).nonzero()
                for top, left in hits.tolist():
                    if all(torch.equal(frames[k][:, top : top + 24, left : left + 24], item[f"frame{k}"]) for k in range(3)):
                        match = (reverse, tuple(dims))
        assert match is not None, draw
        seen.add(match)
    assert len(seen) >= 4  # flips and reversal do happen


def test_feature_davis_layout_annotations_are_the_exact_masks(tmp_path):
    write_davis_sequences(tmp_path, count=2, frames=5, height=40, width=48, seed=2)
    sequences = DavisSequences(tmp_path, "val")
    assert [s.name for s in sequences] == ["seq000", "seq001"]
    x2 = DavisX2(tmp_path, "val")
    assert len(x2) == 2 * 2
    from vosvfi_core.data.synthetic.config import SEQUENCE_OPTIONS

    scene = random_scene(np.random.default_rng([2, 1, 1]), 40, 48, SEQUENCE_OPTIONS, duration=4, keep_inside=True)
    _, mask = render_frame(scene, 3.0)
    np.testing.assert_array_equal(sequences[1].labels(3).numpy(), mask)
    stored = sequences[1].frame(3).permute(1, 2, 0).numpy() * 255

    def psnr(t: float) -> float:
        return 10 * math.log10(255**2 / np.mean((stored - render_frame(scene, t)[0]) ** 2))

    assert psnr(3.0) > 35 and psnr(3.0) > max(psnr(2.0), psnr(4.0)) + 10  # JPEG of that very render


def test_feature_tracking_layout_boxes_bound_the_target(tmp_path):
    root = write_tracking_sequences(tmp_path / "tracking", count=2, frames=6, height=48, width=56, seed=4)
    targets = TrackingSequences(root)
    assert [t.name for t in targets] == ["synth000", "synth001"]
    from vosvfi_core.data.synthetic.config import SEQUENCE_OPTIONS

    scene = random_scene(np.random.default_rng([4, 2, 1]), 48, 56, SEQUENCE_OPTIONS, duration=5, keep_inside=True)
    for frame in range(6):
        _, mask = render_frame(scene, float(frame))
        rows, cols = np.nonzero(mask == len(scene.objects))
        expected = [cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1]
        assert targets[1].boxes[frame].tolist() == [float(v) for v in expected]


def test_feature_demo_dataset_is_fast_and_complete(tmp_path):
    started = time.perf_counter()
    demo = write_demo_dataset(tmp_path, DemoDataConfig(train_count=200, test_count=24))
    elapsed = time.perf_counter() - started
    assert demo == tmp_path / "demo"
    assert len(VimeoTriplets(demo, "train", with_masks=True)) == 200
    assert len(DavisX2(demo, "val")) == 4 * 5
    assert len(TrackingSequences(demo / "tracking")) == 3
    assert elapsed < 30, f"{elapsed:.1f} s for 224 triplets"


def test_feature_demo_entry_generates_once_then_is_a_no_op(tmp_path):
    catalog = load_catalog()
    small = DemoDataConfig(train_count=6, test_count=2, davis_count=1, davis_frames=3, tracking_count=1, tracking_frames=3)
    directory = ensure_dataset("demo", tmp_path, catalog=catalog, generator=small)
    assert (directory / MARKER_NAME).is_file()
    stamp = (directory / "vimeo_triplet" / "tri_trainlist.txt").stat().st_mtime_ns
    ensure_dataset("demo", tmp_path, catalog=catalog, generator=small)
    assert (directory / "vimeo_triplet" / "tri_trainlist.txt").stat().st_mtime_ns == stamp
    bigger = small.model_copy(update={"train_count": 8})
    ensure_dataset("demo", tmp_path, catalog=catalog, generator=bigger)  # other settings: regenerated
    assert len((directory / "vimeo_triplet" / "tri_trainlist.txt").read_text().split()) == 8


def test_smoke_cli_generate_demo(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="vosvfi")
    data_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["data", "generate-demo", "--data-root", str(tmp_path), "--train-count", "4", "--test-count", "2", "--height", "32", "--width", "32"]
    )
    assert args.handler(args) == 0
    assert "4+2 triplets" in capsys.readouterr().out
    assert len(VimeoTriplets(tmp_path / "demo", "test")) == 2
    args = parser.parse_args(["data", "verify", "demo", "--data-root", str(tmp_path)])
    assert args.handler(args) == 1  # generated with other settings than the catalog's


def test_exception_cli_generate_demo_bad_size(tmp_path):
    from vosvfi_core.errors import VosvfiError

    parser = argparse.ArgumentParser(prog="vosvfi")
    data_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "generate-demo", "--data-root", str(tmp_path), "--height", "4"])
    with pytest.raises(VosvfiError, match="--height: Input should be greater than or equal to 16"):
        args.handler(args)


def _gradient_energy(image: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels of the grey image: a sharpness measure."""
    grey = image.astype(np.float64).mean(-1)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean())


def test_feature_a_static_photo_is_equally_sharp_at_whole_and_half_pixel_phase():
    import skimage.data

    texture = np.asarray(skimage.data.astronaut(), dtype=np.float64)[100:260, 100:260]
    energies = []
    for origin in ((0.0, 0.0), (0.5, 0.5), (0.25, 0.0)):
        scene = Scene(height=64, width=64, background=Background(texture, origin=origin, texture_scale=2.0), supersample=4)
        energies.append(_gradient_energy(render_frame(scene, 0.0)[0]))
    assert max(energies) / min(energies) == pytest.approx(1.0, abs=0.03), energies


def test_feature_middle_frames_are_as_sharp_as_the_outer_ones():
    """Over random triplets the middle frame (at sub-pixel phases) carries the same detail as frames 0 and 2."""
    energies = np.array(
        [[_gradient_energy(render_frame(scene_for(SyntheticConfig(seed=4, height=64, width=96), i), t)[0]) for t in (0.0, 0.5, 1.0)] for i in range(12)]
    ).sum(axis=0)
    assert energies[1] / energies[0] == pytest.approx(1.0, abs=0.03) and energies[1] / energies[2] == pytest.approx(1.0, abs=0.03), energies


def test_feature_object_speeds_are_heavy_tailed_and_capped():
    options = SyntheticConfig(seed=0, height=192, width=256)
    speeds = np.array([math.hypot(*o.velocity) for i in range(150) for o in scene_for(options, i).objects])
    assert 1.0 < np.median(speeds) < 4.0  # most motion small ...
    assert np.percentile(speeds, 95) > 7.0  # ... with a tail past Middlebury's 95th percentile (7 px)
    assert speeds.max() <= options.max_shift + 1e-9


def test_feature_some_objects_enter_or_leave_the_frame():
    options = SyntheticConfig(seed=0, height=96, width=128)

    def inside(point: tuple[float, float]) -> bool:
        return 0 <= point[0] <= options.width - 1 and 0 <= point[1] <= options.height - 1

    crossings = [inside(o.center_at(0.0)) != inside(o.center_at(1.0)) for i in range(40) for o in scene_for(options, i).objects]
    assert 0.05 < np.mean(crossings) < 0.5  # crossing_fraction 0.2 of the objects
