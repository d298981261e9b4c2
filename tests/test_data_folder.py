"""The plain folder of triplets (``folder:PATH``) on tiny PNG/JPEG trees: items, order, namings and layout errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vosvfi_core.data.datasets.folder import FolderTriplets
from vosvfi_core.data.sets import FOLDER_CATALOG, folder_root, folder_spec
from vosvfi_core.errors import VosvfiError


def _image(path: Path, value: int, size: tuple[int, int] = (6, 8)) -> np.ndarray:
    """A small RGB image whose red channel is ``value`` everywhere, green a ramp across the width."""
    height, width = size
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[..., 0] = value
    array[..., 1] = np.linspace(0, 200, width).astype(np.uint8)[None, :]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return array


def _sample(root: Path, name: str, base: int, stems=("frame0", "frame1", "frame2"), suffix: str = ".png", size=(6, 8)) -> list[np.ndarray]:
    return [_image(root / name / f"{stem}{suffix}", base + k, size) for k, stem in enumerate(stems)]


def _as_array(tensor: torch.Tensor) -> np.ndarray:
    return (tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def test_feature_frames_and_truth_in_natural_order(tmp_path: Path) -> None:
    written = {name: _sample(tmp_path, name, base) for name, base in (("clip10", 30), ("clip2", 10), ("clip1", 0))}
    (tmp_path / ".cache").mkdir()  # hidden folders are not samples
    (tmp_path / "notes.txt").write_text("not a sample")
    dataset = FolderTriplets(tmp_path)
    assert dataset.names == ["clip1", "clip2", "clip10"]
    assert len(dataset) == 3
    item = dataset[1]
    assert item["name"] == "clip2"
    for k in range(3):
        frame = item[f"frame{k}"]
        assert frame.shape == (3, 6, 8) and frame.dtype == torch.float32
        np.testing.assert_array_equal(_as_array(frame), written["clip2"][k])


def test_feature_im_naming_and_jpeg(tmp_path: Path) -> None:
    reds = (10, 120, 240)
    for stem, red in zip(("im1", "im2", "im3"), reds):
        _image(tmp_path / "a" / f"{stem}.jpg", red, (16, 16))
    item = FolderTriplets(tmp_path)[0]
    for k, red in enumerate(reds):  # JPEG is lossy: each frame's mean red level within 3 of what was written
        assert abs(float(item[f"frame{k}"][0].mean()) * 255 - red) < 3


def test_feature_namings_may_differ_between_samples(tmp_path: Path) -> None:
    _sample(tmp_path, "a", 0)
    _sample(tmp_path, "b", 50, stems=("im1", "im2", "im3"))
    item = FolderTriplets(tmp_path)[1]
    assert round(float(item["frame1"][0, 0, 0]) * 255) == 51  # im2 is the truth


def test_exception_missing_root(tmp_path: Path) -> None:
    with pytest.raises(VosvfiError, match=r"missing folder .*nowhere"):
        FolderTriplets(tmp_path / "nowhere")


def test_exception_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(VosvfiError, match="holds no sample folders"):
        FolderTriplets(tmp_path)


def test_exception_missing_frame_names_the_file(tmp_path: Path) -> None:
    _sample(tmp_path, "good", 0)
    _image(tmp_path / "bad" / "frame0.png", 0)
    _image(tmp_path / "bad" / "frame2.png", 0)
    with pytest.raises(VosvfiError) as raised:
        FolderTriplets(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert f"missing file {tmp_path / 'bad' / 'frame1'}.png" in message


def test_exception_folder_without_any_frame(tmp_path: Path) -> None:
    (tmp_path / "empty_sample").mkdir()
    with pytest.raises(VosvfiError, match=r"missing file .*empty_sample/frame0\.png"):
        FolderTriplets(tmp_path)


def test_exception_frames_of_different_sizes(tmp_path: Path) -> None:
    _image(tmp_path / "s" / "frame0.png", 0, (6, 8))
    _image(tmp_path / "s" / "frame1.png", 0, (6, 8))
    _image(tmp_path / "s" / "frame2.png", 0, (7, 8))
    with pytest.raises(VosvfiError, match=r"differ in size \(frame0.png 6x8, frame1.png 6x8, frame2.png 7x8") as raised:
        FolderTriplets(tmp_path)
    assert "\n" not in str(raised.value)


def test_exception_two_files_for_one_frame(tmp_path: Path) -> None:
    _sample(tmp_path, "s", 0)
    _image(tmp_path / "s" / "frame1.jpg", 0)
    with pytest.raises(VosvfiError, match="several files for frame1: frame1.jpg, frame1.png"):
        FolderTriplets(tmp_path)


def test_feature_folder_spec_opens_the_folder(tmp_path: Path) -> None:
    _sample(tmp_path, "only", 7)
    spec = folder_spec(tmp_path)
    assert spec.name == f"folder:{tmp_path}"
    assert spec.catalog == FOLDER_CATALOG and spec.kind == "triplets" and not spec.has_masks and not spec.generated
    assert spec.train_split is None
    dataset = spec.open_triplets(folder_root(spec.name))
    assert isinstance(dataset, FolderTriplets) and dataset.names == ["only"]
    with pytest.raises(VosvfiError, match="has no object masks"):
        spec.open_triplets(tmp_path, with_masks=True)
    with pytest.raises(VosvfiError, match="has no training triplets"):
        spec.open_triplets(tmp_path, train=True)


def test_feature_folder_root_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert folder_root("folder:clips/mine") == tmp_path / "clips" / "mine"
    with pytest.raises(VosvfiError, match="not a folder of triplets"):
        folder_root("davis")


def test_exception_folder_spec_without_path() -> None:
    with pytest.raises(VosvfiError, match="needs a folder after the colon"):
        folder_spec("")


def test_feature_data_source_says_where_each_set_comes_from(tmp_path: Path) -> None:
    from vosvfi_core.config import load_profile
    from vosvfi_core.data.local import check_source, data_source

    profile = load_profile("demo", [f"data.local={{davis: {tmp_path / 'DAVIS'}}}"])
    assert data_source(profile, "synthetic").kind == "generated"
    assert data_source(profile, "ucf101").kind == "catalog" and data_source(profile, "ucf101").folder is None
    local = data_source(profile, "davis")
    assert (local.kind, local.catalog, local.folder) == ("local", "davis2016", tmp_path / "DAVIS")
    folder = data_source(profile, f"folder:{tmp_path / 'clips'}")
    assert (folder.kind, folder.folder) == ("folder", tmp_path / "clips")
    with pytest.raises(VosvfiError, match=r"^data.local.davis: folder not found: .*DAVIS$"):
        check_source(local)
    with pytest.raises(VosvfiError, match=r"missing folder .*clips$"):
        check_source(folder)
    check_source(data_source(profile, "ucf101"))  # made by the data stage: nothing to check before it runs
