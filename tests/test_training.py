"""The trainer: step planning, the loss it optimises, checkpoints and exact resumption."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vosvfi_core.checkpoint import read_checkpoint
from vosvfi_core.config import TrainConfig
from vosvfi_core.errors import VosvfiError
from vosvfi_core.models.registry import MODELS
from vosvfi_core.results.summaries import pivot
from vosvfi_core.training import CHECKPOINT_NAME, LOSS_TERMS, LossTerm, check_trainable, plan_steps, train

ADACOF = MODELS.check("adacof")


def _by_step(history: list[dict]) -> list[dict]:
    """The long history rows as one dict per logged step."""
    return pivot(history, ["step", "epoch"], "quantity", "value")


class _RandomFlipTriplets(torch.utils.data.Dataset):
    """Tiny triplets with a random flip, so that resuming must also restore the augmentation RNG."""

    def __init__(self, count: int) -> None:
        self.frames = torch.rand(count, 3, 3, 32, 32, generator=torch.Generator().manual_seed(1))

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        frames = self.frames[index]
        if torch.rand(()) < 0.5:
            frames = frames.flip(-1)
        return {"frame0": frames[0], "frame1": frames[1], "frame2": frames[2], "name": str(index)}


def _config(**changes) -> TrainConfig:
    base = {"crop": None, "batch_size": 2, "epochs": 2, "lr_step_epochs": 1, "checkpoint_every": 2, "log_every": 1, "device": "cpu"}
    return TrainConfig(**{**base, **changes})


def test_cardinality_plan_steps() -> None:
    assert plan_steps(_config(batch_size=4, epochs=3), 10) == (2, 6)  # full batches only
    assert plan_steps(_config(batch_size=4, epochs=3, max_steps=5), 10) == (2, 5)
    with pytest.raises(VosvfiError, match="only 3 samples"):
        plan_steps(_config(batch_size=4), 3)


def test_exception_a_term_needing_a_teacher_is_refused(tmp_path: Path) -> None:
    LOSS_TERMS.register("toy_teacher_term")(lambda *, weight=1.0: LossTerm("toy_teacher_term", weight, lambda step: step.output.frame.mean(), needs_teacher=True))
    try:
        config = _config(losses=[{"type": "charbonnier"}, {"type": "toy_teacher_term"}])
        with pytest.raises(VosvfiError, match="toy_teacher_term term needs a VOS teacher"):
            check_trainable(config)
        with pytest.raises(VosvfiError, match="needs a VOS teacher"):
            train(config, ADACOF, _RandomFlipTriplets(4), tmp_path)
    finally:
        LOSS_TERMS.unregister("toy_teacher_term")


@pytest.mark.slow
def test_feature_resumed_training_equals_uninterrupted(tmp_path: Path) -> None:
    data = _RandomFlipTriplets(4)  # 2 steps per epoch, 2 epochs, lr halved after epoch 0
    whole = train(_config(), ADACOF, data, tmp_path / "whole")
    assert whole.start_step == 0 and whole.steps == 4
    logged = _by_step(whole.history)
    assert [row["step"] for row in logged] == [1, 2, 3, 4]
    assert [row["lr"] for row in logged] == [1e-3, 1e-3, 5e-4, 5e-4]
    first = logged[0]
    assert first["loss"] == pytest.approx(first["charbonnier"] + 0.01 * first["g_spatial"] + 0.005 * first["g_occlusion"], rel=1e-5)
    assert first["samples_per_second"] > 0 and first["seconds"] > 0

    stopped = train(_config(max_steps=2), ADACOF, data, tmp_path / "resumed")  # as if killed after step 2
    assert read_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME)["extra"]["step"] == 2
    resumed = train(_config(), ADACOF, data, tmp_path / "resumed")
    assert stopped.steps == 2 and resumed.start_step == 2
    assert [row["step"] for row in _by_step(resumed.history)] == [1, 2, 3, 4]
    a = read_checkpoint(tmp_path / "whole" / CHECKPOINT_NAME)
    b = read_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME)
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0)
    assert a["epoch"] == b["epoch"] == 2
    assert [r["loss"] for r in _by_step(resumed.history)] == pytest.approx([r["loss"] for r in logged], rel=0, abs=0)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_feature_restart_ignores_an_existing_checkpoint(tmp_path: Path) -> None:
    data = _RandomFlipTriplets(4)
    first = train(_config(max_steps=2), ADACOF, data, tmp_path)
    resumed = train(_config(max_steps=2), ADACOF, data, tmp_path)
    assert (first.start_step, resumed.start_step, resumed.steps) == (0, 2, 2)
    restarted = train(_config(max_steps=2), ADACOF, data, tmp_path, restart=True)
    assert restarted.start_step == 0 and [row["step"] for row in _by_step(restarted.history)] == [1, 2]
