"""Picture grids: layout and size, every tile's pixels, the mask boundary, the error map's scale, the atomic write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vosvfi_core.evaluation.interpolators import Interpolator
from vosvfi_core.evaluation.pictures import (
    BACKGROUND,
    BOUNDARY_COLOUR,
    LABEL_HEIGHT,
    MODEL_TILE_OFFSET,
    error_map,
    mask_boundary,
    picture_grid,
    sample_pictures,
)
from vosvfi_core.io.images import to_uint8

H, W = 24, 32
# magma at 0 and at 1, from matplotlib's published colour table (0x000004 and 0xfcfdbf).
MAGMA_LOW, MAGMA_HIGH = (0, 0, 4), (252, 253, 191)


def _frames() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {name: torch.rand(3, H, W, generator=generator) for name in ("frame0", "frame2", "truth", "a", "b")}


def _tile(grid: np.ndarray, index: int, columns: int = 4) -> np.ndarray:
    """The image part (below the label strip) of tile ``index``."""
    top, left = (index // columns) * (H + LABEL_HEIGHT), (index % columns) * W
    return grid[top + LABEL_HEIGHT : top + LABEL_HEIGHT + H, left : left + W]


def _square_mask() -> torch.Tensor:
    mask = torch.zeros(1, H, W)
    mask[0, 8:16, 10:20] = 1
    return mask


def test_cardinality_grid_layout_and_tiles(tmp_path: Path) -> None:
    f = _frames()
    path = picture_grid(f["frame0"], f["frame2"], {"a": f["a"], "b": f["b"]}, f["truth"], None, tmp_path / "grid.png")
    grid = np.asarray(Image.open(path))
    # frame0, frame2, average, a, b, truth, error: 7 tiles in rows of 4.
    assert grid.shape == (2 * (H + LABEL_HEIGHT), 4 * W, 3)
    np.testing.assert_array_equal(_tile(grid, 0), to_uint8(f["frame0"]))
    np.testing.assert_array_equal(_tile(grid, 1), to_uint8(f["frame2"]))
    np.testing.assert_array_equal(_tile(grid, 2), to_uint8((f["frame0"] + f["frame2"]) / 2))
    np.testing.assert_array_equal(_tile(grid, MODEL_TILE_OFFSET), to_uint8(f["a"]))
    np.testing.assert_array_equal(_tile(grid, MODEL_TILE_OFFSET + 1), to_uint8(f["b"]))
    np.testing.assert_array_equal(_tile(grid, 5), to_uint8(f["truth"]))
    np.testing.assert_array_equal(_tile(grid, 6), error_map(f["a"], f["truth"]))
    assert (_tile(grid, 7) == BACKGROUND).all()  # the empty eighth slot
    labels = grid[:LABEL_HEIGHT, :W]
    assert (labels != BACKGROUND).any() and (labels == BACKGROUND).any()  # text drawn on a white strip


def test_cardinality_one_column_per_tile_when_few(tmp_path: Path) -> None:
    f = _frames()
    path = picture_grid(f["frame0"], f["frame2"], {"a": f["a"]}, f["truth"], None, tmp_path / "grid.png", columns=10)
    assert Image.open(path).size == (6 * W, H + LABEL_HEIGHT)


def test_feature_large_frames_are_shown_area_averaged_down(tmp_path: Path) -> None:
    f = _frames()
    mask = _square_mask()
    path = picture_grid(f["frame0"], f["frame2"], {"a": f["a"]}, f["truth"], mask, tmp_path / "grid.png", columns=10, max_side=W // 2)
    shown = (H // 2, W // 2)
    assert Image.open(path).size == (6 * shown[1], shown[0] + LABEL_HEIGHT)
    grid = np.asarray(Image.open(path))
    tile = grid[LABEL_HEIGHT:, : shown[1]]
    halved = f["frame0"].reshape(3, H // 2, 2, W // 2, 2).mean(dim=(2, 4))  # 2x2 area means, computed apart
    np.testing.assert_array_equal(tile, to_uint8(halved))
    error = (f["a"] - f["truth"]).abs().mean(dim=0).reshape(H // 2, 2, W // 2, 2).mean(dim=(1, 3))
    expected = error_map(error[None].expand(3, -1, -1), torch.zeros(3, *shown))  # the full-size error, then its area means
    np.testing.assert_array_equal(grid[LABEL_HEIGHT:, 5 * shown[1] :], expected)
    model = grid[LABEL_HEIGHT:, MODEL_TILE_OFFSET * shown[1] : (MODEL_TILE_OFFSET + 1) * shown[1]]
    assert (model == BOUNDARY_COLOUR).all(axis=2).any()  # the mask boundary is still drawn
    with pytest.raises(ValueError, match="max_side must be at least 1"):
        picture_grid(f["frame0"], f["frame2"], {"a": f["a"]}, f["truth"], None, tmp_path / "x.png", max_side=0)


def test_feature_mask_boundary_hand_computed() -> None:
    boundary = mask_boundary(_square_mask())
    expected = torch.zeros(H, W, dtype=torch.bool)
    expected[8:16, 10:20] = True
    expected[9:15, 11:19] = False  # the inside of the square, one pixel in from its edge
    assert torch.equal(boundary, expected)


def test_feature_mask_boundary_ignores_the_frame_edge() -> None:
    mask = torch.zeros(H, W)
    mask[:, :5] = 1  # touches the top, bottom and left edges of the frame
    boundary = mask_boundary(mask)
    expected = torch.zeros(H, W, dtype=torch.bool)
    expected[:, 4] = True
    assert torch.equal(boundary, expected)


def test_feature_boundary_drawn_on_each_model_output(tmp_path: Path) -> None:
    f = _frames()
    mask = _square_mask()
    path = picture_grid(f["frame0"], f["frame2"], {"a": f["a"], "b": f["b"]}, f["truth"], mask, tmp_path / "grid.png")
    grid = np.asarray(Image.open(path))
    edge = mask_boundary(mask).numpy()
    for index, name in ((MODEL_TILE_OFFSET, "a"), (MODEL_TILE_OFFSET + 1, "b")):
        tile = _tile(grid, index)
        assert (tile[edge] == BOUNDARY_COLOUR).all()
        np.testing.assert_array_equal(tile[~edge], to_uint8(f[name])[~edge])
    np.testing.assert_array_equal(_tile(grid, 5), to_uint8(f["truth"]))  # the truth is left as it is


def test_feature_error_map_scale() -> None:
    truth = torch.full((3, 2, 3), 0.5)
    output = truth.clone()
    output[:, 1] += 0.3  # second row: error 0.3, above the scale 0.2
    colours = error_map(output, truth, scale=0.2)
    assert colours.shape == (2, 3, 3) and colours.dtype == np.uint8
    assert (colours[0] == MAGMA_LOW).all() and (colours[1] == MAGMA_HIGH).all()
    # Halving the error at a doubled scale is the same colour as the full error at the scale: the map is error / scale.
    np.testing.assert_array_equal(error_map(truth + 0.05, truth, scale=0.1), error_map(truth + 0.1, truth, scale=0.2))


def test_exception_bad_inputs(tmp_path: Path) -> None:
    f = _frames()
    with pytest.raises(ValueError, match="at least one model output"):
        picture_grid(f["frame0"], f["frame2"], {}, f["truth"], None, tmp_path / "g.png")
    with pytest.raises(ValueError, match="frames of one size"):
        picture_grid(f["frame0"], f["frame2"], {"a": f["a"][:, :-1]}, f["truth"], None, tmp_path / "g.png")
    with pytest.raises(ValueError, match="does not match the frames"):
        picture_grid(f["frame0"], f["frame2"], {"a": f["a"]}, f["truth"], torch.zeros(H, W + 1), tmp_path / "g.png")
    assert not list(tmp_path.iterdir())


def test_feature_atomic_write_keeps_the_old_picture_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _frames()
    target = tmp_path / "grid.png"
    target.write_bytes(b"old picture")

    def failing_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"half a png")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        picture_grid(f["frame0"], f["frame2"], {"a": f["a"]}, f["truth"], None, target)
    assert target.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary file left behind


def test_feature_sample_pictures_of_the_first_samples(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(2)
    dataset = [
        {
            "frame0": torch.rand(3, H, W, generator=generator),
            "frame1": torch.rand(3, H, W, generator=generator),
            "frame2": torch.rand(3, H, W, generator=generator),
            "name": f"00001/000{k}",
            "mask1": _square_mask(),
        }
        for k in range(3)
    ]
    brighter = Interpolator("brighter", lambda f0, f2: f0 * 0.5 + 0.5)
    average = Interpolator("frame_average", lambda f0, f2: (f0 + f2) / 2)
    paths = sample_pictures([average, brighter], dataset, tmp_path / "pics", count=2)
    assert [p.name for p in paths] == ["00001_0000.png", "00001_0001.png"]
    grid = np.asarray(Image.open(paths[1]))
    # frame0, frame2, average, brighter, truth, error: frame_average is not repeated as a model.
    assert grid.shape == (2 * (H + LABEL_HEIGHT), 4 * W, 3)
    tile = _tile(grid, MODEL_TILE_OFFSET)
    edge = mask_boundary(_square_mask()).numpy()
    np.testing.assert_array_equal(tile[~edge], to_uint8(dataset[1]["frame0"] * 0.5 + 0.5)[~edge])
    assert (tile[edge] == BOUNDARY_COLOUR).all()
    assert sample_pictures([average], dataset, tmp_path / "none", count=2) == []
