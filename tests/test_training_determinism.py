"""Same seed, same numbers: two variants trained at once in threads of one process give bit-identical weights every time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from vosvfi_core.config import TrainConfig
from vosvfi_core.models.registry import MODELS
from vosvfi_core.training.determinism import recording_nondeterministic_ops, seed_from, seeded_rngs
from vosvfi_core.training.trainer import Trainer

ADACOF = MODELS.check("adacof")
VOS_LOSSES = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons"


@pytest.fixture(autouse=True)
def _restore_deterministic_mode() -> Iterator[None]:
    """The trainer turns deterministic algorithms on for the whole process; put the mode back for the next tests."""
    enabled, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    yield
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


class _AugmentedTriplets(torch.utils.data.Dataset):
    """Tiny triplets with masks, read then cropped and flipped at random from the global RNG, as the Vimeo reader does.

    The short sleep stands for the file read, during which another thread runs.
    """

    def __init__(self, count: int = 6) -> None:
        generator = torch.Generator().manual_seed(3)
        self.frames = torch.rand(count, 3, 3, 40, 40, generator=generator)
        self.masks = (torch.rand(count, 3, 1, 40, 40, generator=generator) > 0.5).float()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        frames, masks = self.frames[index], self.masks[index]
        time.sleep(0.002)
        top, left = (int(v) for v in torch.randint(0, 9, (2,)))
        frames, masks = frames[..., top : top + 32, left : left + 32], masks[..., top : top + 32, left : left + 32]
        if torch.rand(()) < 0.5:
            frames, masks = frames.flip(-1), masks.flip(-1)
        return {**{f"frame{k}": frames[k] for k in range(3)}, **{f"mask{k}": masks[k] for k in range(3)}}


def _config(vos: bool) -> TrainConfig:
    extra = {"losses": VOS_LOSSES, "teacher": {"type": "pixel_affinity", "stride": 4}} if vos else {}
    return TrainConfig(crop=None, batch_size=2, epochs=1, max_steps=3, log_every=1, checkpoint_every=100, device="cpu", precision="fp32", **extra)


def _train_side_by_side(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """Both variants at once, each in its own thread, as the pipeline's thread runner trains them."""
    weights: dict[str, dict[str, torch.Tensor]] = {}
    errors: list[BaseException] = []

    def train(name: str, vos: bool) -> None:
        try:
            trainer = Trainer(_config(vos), ADACOF, _AugmentedTriplets(), folder / name)
            trainer.run()
            weights[name] = {key: value.clone() for key, value in trainer.network.state_dict().items()}
        except BaseException as error:  # surfaced in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=train, args=(name, vos)) for name, vos in (("adacof", False), ("vos_vfi", True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return weights


def test_feature_two_variants_trained_in_threads_give_the_same_weights_twice(tmp_path: Path) -> None:
    first = _train_side_by_side(tmp_path / "first")
    second = _train_side_by_side(tmp_path / "second")
    for name in ("adacof", "vos_vfi"):
        assert first[name].keys() == second[name].keys()
        different = [key for key in first[name] if not torch.equal(first[name][key], second[name][key])]
        assert not different, f"{name}: {len(different)} tensors differ, e.g. {different[0]}"
    assert any(not torch.equal(first["adacof"][key], first["vos_vfi"][key]) for key in first["adacof"])  # the variants did train apart


def test_feature_seeded_rngs_draw_from_the_seed_and_restore_the_state() -> None:
    torch.manual_seed(123)
    expected_after = torch.rand(4, generator=torch.Generator().manual_seed(123))
    with seeded_rngs(seed_from(0, 5, 1)):
        inside = torch.rand(4)
    assert torch.equal(inside, torch.rand(4, generator=torch.Generator().manual_seed(hash((0, 5, 1)) & 0x7FFFFFFF)))
    assert torch.equal(torch.rand(4), expected_after)  # as if the section had never drawn


def test_feature_the_loader_draws_nothing_from_the_global_rng(tmp_path: Path) -> None:
    trainer = Trainer(_config(vos=False), ADACOF, _AugmentedTriplets(), tmp_path / "run")
    state = torch.random.get_rng_state()
    batches = list(trainer._loader(0))
    assert len(batches) == 3
    assert torch.equal(torch.random.get_rng_state(), state)


def test_feature_ops_without_a_deterministic_kernel_are_recorded() -> None:
    torch.use_deterministic_algorithms(True, warn_only=True)
    with recording_nondeterministic_ops() as ops:
        torch.zeros(4).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))  # put_ without accumulation has none, even on the CPU
        torch.zeros(4).index_put_((torch.tensor([0, 0]),), torch.tensor([1.0, 2.0]), accumulate=True)  # has one on the CPU
    assert ops == ["put_"]


def test_feature_the_checkpoint_says_how_deterministic_the_run_was(tmp_path: Path) -> None:
    trainer = Trainer(_config(vos=True), ADACOF, _AugmentedTriplets(), tmp_path / "run")
    trainer.run()
    record = trainer._metadata()["determinism"]
    assert record == {
        "deterministic_algorithms": True,
        "device": "cpu",
        "intra_op_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "nondeterministic_ops": [],  # none on the CPU path of AdaCoF and the weight-free teacher
    }
    assert torch.are_deterministic_algorithms_enabled()
