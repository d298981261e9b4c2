"""The trainer: step planning, optimisers and schedules, checkpoints and their files, exact resumption, fine-tuning, mixed precision."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from vosvfi_core.checkpoint_format import load_checkpoint, read_checkpoint, save_checkpoint
from vosvfi_core.config import TrainConfig, load_profile
from vosvfi_core.errors import VosvfiError
from vosvfi_core.models.registry import MODELS
from vosvfi_core.provenance import code_version
from vosvfi_core.results.summaries import pivot
from vosvfi_core.training import BEST_NAME, CHECKPOINT_NAME, LOSS_TERMS, MODEL_NAME, LossTerm, check_trainable, plan_steps, train
from vosvfi_core.training.optim import build_optimizer, learning_rate
from vosvfi_core.training.trainer import _autocast
from vosvfi_core.training.validation import validation_psnr

ADACOF = MODELS.check("adacof")
VOS_LOSSES = "1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons"


def _by_step(history: list[dict]) -> list[dict]:
    """The long history rows as one dict per logged step."""
    return pivot(history, ["step", "epoch"], "quantity", "value")


class _RandomFlipTriplets(torch.utils.data.Dataset):
    """Tiny triplets with masks and a random flip, so that resuming must also restore the augmentation RNG."""

    def __init__(self, count: int, seed: int = 1, *, flip: bool = True) -> None:
        self.flip = flip
        generator = torch.Generator().manual_seed(seed)
        self.frames = torch.rand(count, 3, 3, 32, 32, generator=generator)
        self.masks = (torch.rand(count, 3, 1, 32, 32, generator=generator) > 0.5).float()

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> dict:
        frames, masks = self.frames[index], self.masks[index]
        if self.flip and torch.rand(()) < 0.5:
            frames, masks = frames.flip(-1), masks.flip(-1)
        return {**{f"frame{k}": frames[k] for k in range(3)}, **{f"mask{k}": masks[k] for k in range(3)}, "name": str(index)}


def _config(**changes) -> TrainConfig:
    base = {"crop": None, "batch_size": 2, "epochs": 2, "lr_step_epochs": 1, "checkpoint_every": 2, "log_every": 1, "device": "cpu"}
    return TrainConfig(**{**base, **changes})


def _vos_config(**changes) -> TrainConfig:
    return _config(losses=VOS_LOSSES, teacher={"type": "pixel_affinity"}, checkpoint_every=1, keep_last=2, **changes)


def test_cardinality_plan_steps() -> None:
    assert plan_steps(_config(batch_size=4, epochs=3), 10) == (2, 6)  # full batches only
    assert plan_steps(_config(batch_size=4, epochs=3, max_steps=5), 10) == (2, 5)
    assert plan_steps(_config(batch_size=2, epochs=3), 10, world_size=2) == (2, 6)  # a step takes 2 × 2 samples
    with pytest.raises(VosvfiError, match="only 3 samples"):
        plan_steps(_config(batch_size=4), 3)
    with pytest.raises(VosvfiError, match=r"batch_size is 2 × 2 processes but the training set has only 3"):
        plan_steps(_config(batch_size=2), 3, world_size=2)


def test_exception_a_term_needing_a_teacher_is_refused(tmp_path: Path) -> None:
    LOSS_TERMS.register("toy_teacher_term")(
        lambda *, weight=1.0: LossTerm("toy_teacher_term", weight, lambda step: step.output.frame.mean(), needs_teacher=True)
    )
    try:
        config = _config(losses=[{"type": "charbonnier"}, {"type": "toy_teacher_term"}])
        with pytest.raises(VosvfiError, match="toy_teacher_term term needs a VOS teacher; set train.teacher"):
            check_trainable(config)
        with pytest.raises(VosvfiError, match="needs a VOS teacher"):
            train(config, ADACOF, _RandomFlipTriplets(4), tmp_path)
    finally:
        LOSS_TERMS.unregister("toy_teacher_term")
    with pytest.raises(VosvfiError, match="the seg term needs a VOS teacher"):
        check_trainable(_config(losses=VOS_LOSSES))
    with pytest.raises(VosvfiError, match=r"train.teacher.weights: file not found: .*stcn.pth"):
        check_trainable(_config(losses=VOS_LOSSES, teacher={"type": "stcn", "weights": str(tmp_path / "stcn.pth")}))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.lr_schedule=multistep"], "demo.yaml with overrides: train: lr_milestones must list at least one epoch when lr_schedule is multistep"),
        (["train.lr_schedule=multistep", "train.lr_milestones=[3, 2]"], "train.lr_milestones: milestones must increase, got [3, 2]"),
        (["train.lr_milestones=[3]"], "train: lr_milestones is only read by lr_schedule multistep, not step"),
        (["train.betas=[0.9, 1.0]"], "train.betas: both betas must lie in [0, 1), got [0.9, 1.0]"),
        (["train.optimizer=sgd"], "train.optimizer: Input should be 'adamax', 'adam' or 'adamw'"),
        (["train.teacher={type: stcm}"], "train.teacher: unknown teacher 'stcm'; known: pixel_affinity, stcn"),
        (["train.teacher={type: pixel_affinity, stride: 0}"], "train.teacher: teacher pixel_affinity: stride: Input should be greater than 0"),
    ],
)
def test_exception_bad_train_settings_are_one_line_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(VosvfiError) as caught:
        load_profile("demo", overrides)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("update", ["epoch", "step"])
@pytest.mark.parametrize("schedule", ["step", "multistep", "cosine"])
def test_feature_learning_rate_matches_torch_schedulers(schedule: str, update: str) -> None:
    per_epoch, epochs = 3, 7
    config = _config(
        lr=0.01, epochs=epochs, lr_schedule=schedule, lr_update=update, lr_step_epochs=2, lr_gamma=0.3, lr_min=1e-4,
        lr_milestones=[1, 4, 5] if schedule == "multistep" else [],
    )  # fmt: skip
    unit = 1 if update == "epoch" else per_epoch  # torch's schedulers count their own steps
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    schedulers = {
        "step": lambda: torch.optim.lr_scheduler.StepLR(optimizer, step_size=2 * unit, gamma=0.3),
        "multistep": lambda: torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[m * unit for m in (1, 4, 5)], gamma=0.3),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * unit, eta_min=1e-4),
    }
    scheduler = schedulers[schedule]()
    for step in range(per_epoch * epochs):
        assert learning_rate(config, step, per_epoch) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9), step
        optimizer.step()
        if update == "step" or (step + 1) % per_epoch == 0:
            scheduler.step()


@pytest.mark.parametrize(("name", "expected"), [("adamax", torch.optim.Adamax), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_cardinality_optimizer_from_config(name: str, expected: type) -> None:
    optimizer = build_optimizer(_config(optimizer=name, betas=(0.8, 0.99), weight_decay=0.02), [torch.nn.Parameter(torch.zeros(2))])
    group = optimizer.param_groups[0]
    assert type(optimizer) is expected
    assert (group["lr"], tuple(group["betas"]), group["weight_decay"]) == (1e-3, (0.8, 0.99), 0.02)


def _independent_psnr(model: torch.nn.Module, dataset: torch.utils.data.Dataset) -> float:
    """Mean PSNR of the clamped interpolations, from the formula (not vosvfi_core.evaluation)."""
    scores = []
    with torch.no_grad():
        for index in range(len(dataset)):
            item = dataset[index]
            output = model(item["frame0"][None], item["frame2"][None])[0].clamp(0, 1)
            mse = ((output.double() - item["frame1"].double()) ** 2).mean().item()
            scores.append(10 * math.log10(1 / mse))
    return sum(scores) / len(scores)


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory):
    """4 steps (2 epochs, lr halved after epoch 0) with the VOS terms, pixel-affinity teacher and validation."""
    folder = tmp_path_factory.mktemp("whole")
    validation = _RandomFlipTriplets(2, seed=7, flip=False)
    return train(_vos_config(), ADACOF, _RandomFlipTriplets(4), folder, validation=validation), folder, validation


@pytest.mark.slow
def test_feature_resumed_training_equals_uninterrupted_with_vos_terms(tmp_path: Path, whole_run) -> None:
    whole, whole_folder, validation = whole_run
    data = _RandomFlipTriplets(4)
    assert whole.start_step == 0 and whole.steps == 4
    logged = _by_step(whole.history)
    assert [row["step"] for row in logged] == [1, 2, 3, 4]
    assert [row["lr"] for row in logged] == [1e-3, 1e-3, 5e-4, 5e-4]
    first = logged[0]
    expected = first["charbonnier"] + 0.01 * first["g_spatial"] + 0.005 * first["g_occlusion"] + first["seg"] + first["cons"]
    assert first["loss"] == pytest.approx(expected, rel=1e-5)
    assert first["seg"] > 0 and first["cons"] > 0 and first["samples_per_second"] > 0 and first["seconds"] > 0
    assert [row["step"] for row in logged if "val_psnr" in row] == [2, 4]  # each epoch end

    stopped = train(_vos_config(max_steps=2), ADACOF, data, tmp_path, validation=validation)  # as if killed after step 2
    assert read_checkpoint(tmp_path / CHECKPOINT_NAME)["extra"]["step"] == 2
    resumed = train(_vos_config(), ADACOF, data, tmp_path, validation=validation)
    assert stopped.steps == 2 and resumed.start_step == 2
    a = read_checkpoint(whole_folder / CHECKPOINT_NAME)
    b = read_checkpoint(tmp_path / CHECKPOINT_NAME)
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0)
    assert a["epoch"] == b["epoch"] == 2
    resumed_rows = _by_step(resumed.history)
    assert [row["step"] for row in resumed_rows] == [1, 2, 3, 4]
    for quantity in ("loss", "seg", "cons", "lr", "val_psnr"):
        assert [r.get(quantity) for r in resumed_rows] == [r.get(quantity) for r in logged], quantity
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_feature_checkpoint_files_and_their_metadata(whole_run) -> None:
    result, folder, validation = whole_run
    # keep_last 2 of the step checkpoints; last.pth is the newest; best.pth and model.pth beside them.
    assert sorted(p.name for p in folder.iterdir()) == sorted([BEST_NAME, CHECKPOINT_NAME, MODEL_NAME, "step-00000003.pth", "step-00000004.pth"])
    assert (result.checkpoint, result.model, result.best) == (folder / CHECKPOINT_NAME, folder / MODEL_NAME, folder / BEST_NAME)
    assert (folder / CHECKPOINT_NAME).read_bytes() == (folder / "step-00000004.pth").read_bytes()
    last = read_checkpoint(folder / CHECKPOINT_NAME)
    extra = last["extra"]
    assert extra["teacher"] == {"type": "pixel_affinity", "patch_size": 3, "position_weight": 0.25, "top_k": 20, "temperature": 0.001, "stride": 2}
    assert extra["config"]["teacher"] == extra["teacher"] and extra["config"]["losses"][3] == {"type": "seg", "weight": 1.0}
    assert extra["model"] == ADACOF.model_dump(mode="json") and extra["sampling_mode"] == "bilinear" == last["vosvfi"]["sampling_mode"]
    assert extra["code_version"] == code_version()
    # best.pth is the step with the highest validation PSNR.
    scores = {row["step"]: row["val_psnr"] for row in _by_step(result.history) if "val_psnr" in row}
    best_step = max(scores, key=scores.get)
    assert read_checkpoint(folder / BEST_NAME)["extra"]["step"] == best_step
    assert extra["best_psnr"] == max(scores.values())
    # model.pth: the final weights alone, loadable for inference, with their provenance.
    model, checkpoint = load_checkpoint(folder / MODEL_NAME)
    for key, value in last["state_dict"].items():
        torch.testing.assert_close(checkpoint["state_dict"][key], value, rtol=0, atol=0)
    assert "extra" not in checkpoint and checkpoint["provenance"]["step"] == 4 and checkpoint["provenance"]["teacher"]["type"] == "pixel_affinity"
    # The logged validation PSNR is that of the final weights, computed independently.
    assert scores[4] == pytest.approx(_independent_psnr(model, validation), abs=1e-4)


@pytest.mark.slow
def test_exception_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    data = _RandomFlipTriplets(4)
    train(_config(max_steps=1), ADACOF, data, tmp_path)
    with pytest.raises(VosvfiError, match=r"last.pth was trained with train.lr = 0.001, not 0.0005; restart training"):
        train(_config(lr=5e-4), ADACOF, data, tmp_path)
    with pytest.raises(VosvfiError, match="was trained with model"):
        train(_config(max_steps=2), MODELS.check({"type": "adacof", "sampling_mode": "legacy"}), data, tmp_path)


@pytest.mark.slow
def test_feature_restart_starts_over_and_removes_earlier_checkpoints(tmp_path: Path) -> None:
    data = _RandomFlipTriplets(4)
    first = train(_config(max_steps=2, checkpoint_every=1), ADACOF, data, tmp_path)
    resumed = train(_config(max_steps=2), ADACOF, data, tmp_path)
    assert (first.start_step, resumed.start_step, resumed.steps) == (0, 2, 2)
    restarted = train(_config(max_steps=1), ADACOF, data, tmp_path, restart=True)
    assert restarted.start_step == 0 and [row["step"] for row in _by_step(restarted.history)] == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_NAME, MODEL_NAME, "step-00000001.pth"]


@pytest.mark.slow
def test_feature_init_from_starts_at_the_checkpoint_weights(tmp_path: Path) -> None:
    torch.manual_seed(123)
    source = MODELS.build({"type": "adacof", "sampling_mode": "bilinear"})
    save_checkpoint(tmp_path / "published.pth", source, epoch=50)
    lr = 1e-6  # Adamax moves each weight by at most lr in its first step
    result = train(_config(max_steps=1, lr=lr, init_from=tmp_path / "published.pth"), ADACOF, _RandomFlipTriplets(4), tmp_path / "run")
    tuned = read_checkpoint(result.checkpoint)["state_dict"]
    moved = max((tuned[key] - value).abs().max().item() for key, value in source.state_dict().items())
    assert 0 < moved <= lr * 1.001


def test_exception_init_from_another_architecture_is_one_line(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "plus.pth", MODELS.build({"type": "adacof", "kernel_size": 11, "dilation": 2}), epoch=1)
    with pytest.raises(VosvfiError, match=r"plus.pth does not fit AdaCoF: .*mis-shaped keys"):
        train(_config(max_steps=1, init_from=tmp_path / "plus.pth"), ADACOF, _RandomFlipTriplets(4), tmp_path / "run")
    with pytest.raises(VosvfiError, match="train.init_from: checkpoint not found: .*missing.pth"):
        train(_config(max_steps=1, init_from=tmp_path / "missing.pth"), ADACOF, _RandomFlipTriplets(4), tmp_path / "run")


def test_feature_bf16_autocast_keeps_the_sampling_in_float32() -> None:
    """The kernel estimation runs in bfloat16 (CPU autocast stands in for CUDA here); the frame and its gradient stay float32."""
    torch.manual_seed(0)
    network = MODELS.build(ADACOF)
    frames = [torch.rand(1, 3, 32, 32) for _ in range(2)]
    plain = network.forward_train(*frames)
    with _autocast(network, torch.bfloat16, torch.device("cpu")):
        mixed = network.forward_train(*frames)
    assert mixed.frame.dtype == torch.float32 and mixed.g_spatial.dtype == torch.float32
    assert not torch.equal(mixed.frame, plain.frame)  # the convolutions did run in bfloat16
    torch.testing.assert_close(mixed.frame, plain.frame, atol=0.05, rtol=0)
    mixed.frame.mean().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in network.parameters())


def test_feature_bf16_first_losses_stay_within_a_tenth_of_a_percent_of_fp32(tmp_path: Path) -> None:
    """Same seed, same batches: bfloat16 autocast changes the first steps' losses by under 0.1 % (measured: 0.003 %)."""
    runs = {}
    for precision in ("fp32", "bf16"):
        result = train(_config(max_steps=3, precision=precision, deterministic=True), ADACOF, _RandomFlipTriplets(4), tmp_path / precision)
        runs[precision] = [row["loss"] for row in _by_step(result.history)]
    assert len(runs["fp32"]) == 3
    assert runs["bf16"] != runs["fp32"]  # bfloat16 did run
    assert runs["bf16"] == pytest.approx(runs["fp32"], rel=1e-3)


def test_feature_monitors_are_learning_curves_from_step_0(tmp_path: Path) -> None:
    monitor = _RandomFlipTriplets(2, seed=5, flip=False)
    result = train(_config(validate_every=1), ADACOF, _RandomFlipTriplets(4), tmp_path, monitors={"tiny": monitor})
    curve = {row["step"]: row["psnr:tiny"] for row in _by_step(result.history) if "psnr:tiny" in row}
    assert sorted(curve) == [0, 2, 4]  # untrained, then each epoch end
    assert "val_psnr" not in {key for row in _by_step(result.history) for key in row}  # a monitor never picks best.pth
    model, _ = load_checkpoint(result.model)
    assert curve[4] == pytest.approx(validation_psnr(model, monitor), abs=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_smoke_training_on_cuda_with_amp(tmp_path: Path) -> None:
    result = train(_vos_config(device="cuda", max_steps=2), ADACOF, _RandomFlipTriplets(4), tmp_path)
    assert all(math.isfinite(row["value"]) for row in result.history)


def test_feature_teacher_warmup_ramps_the_vos_terms_in(tmp_path: Path) -> None:
    result = train(_vos_config(teacher_warmup_steps=2, max_steps=3), ADACOF, _RandomFlipTriplets(4), tmp_path)
    for ramp, row in zip([0.0, 0.5, 1.0], _by_step(result.history), strict=True):  # steps 1..3 ran at 0-based steps 0, 1, 2
        plain = row["charbonnier"] + 0.01 * row["g_spatial"] + 0.005 * row["g_occlusion"]
        assert row["seg"] > 0 and row["loss"] == pytest.approx(plain + ramp * (row["seg"] + row["cons"]), rel=1e-5)
