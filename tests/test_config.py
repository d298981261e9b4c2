"""Profiles: loading, overrides, one-line errors, stable section hashes, stage dependencies."""

from __future__ import annotations

from pathlib import Path

import pytest

from vosvfi_core.config import EvaluateConfig, TrainConfig, config_hash, load_profile, parse_overrides
from vosvfi_core.errors import VosvfiError
from vosvfi_core.plan import plan_run
from vosvfi_core.stages import STAGE_NAMES
from vosvfi_core.training import parse_loss_string


def test_smoke_shipped_profiles_load() -> None:
    demo = load_profile("demo")
    assert demo.name == "demo" and demo.data.synthetic is not None
    assert [(b.type, b.kwargs["weight"]) for b in demo.train.losses] == [("charbonnier", 1.0), ("g_spatial", 0.01), ("g_occlusion", 0.005)]
    assert demo.model.type == "adacof" and (demo.model.kwargs["kernel_size"], demo.model.kwargs["dilation"]) == (5, 1)


def test_feature_the_original_loss_string_reads_as_the_same_blocks() -> None:
    assert parse_loss_string("1*Charb+0.01*g_Spatial+0.005*g_Occlusion") == [
        {"type": "Charb", "weight": 1.0},
        {"type": "g_Spatial", "weight": 0.01},
        {"type": "g_Occlusion", "weight": 0.005},
    ]
    from_string = load_profile("demo", ["train.losses=1*Charb+0.01*g_Spatial+0.005*g_Occlusion"])
    assert from_string.train.losses == load_profile("demo").train.losses  # aliases resolve to the same entries
    with pytest.raises(ValueError, match="cannot read term"):
        parse_loss_string("1*Charb+*")


def test_feature_overrides_apply_nested_yaml_values() -> None:
    profile = load_profile("demo", ["train.max_steps=3", "evaluate.datasets=[synthetic]", "task_runner=dask"])
    assert profile.train.max_steps == 3
    assert profile.evaluate.datasets == ["synthetic"]
    assert profile.task_runner.kind == "dask"
    assert parse_overrides(["a.b.c=1", "a.d=x"]) == {"a": {"b": {"c": 1}, "d": "x"}}


@pytest.mark.parametrize(
    ("profile", "overrides", "message"),
    [
        ("nope", [], "unknown profile 'nope'"),
        ("demo", ["train.bogus=1"], "train.bogus: unknown field"),
        ("demo", ["train.batch_size=0"], "train.batch_size: Input should be greater than 0"),
        ("demo", ["evaluate.datasets=[mars]"], "evaluate.datasets.0: unknown data set 'mars'"),
        ("demo", ["evaluate.datasets=[synthetic_tracking]"], "holds tracking sequences, not triplets"),
        ("demo", ["train.dataset=middlebury_other"], "has no training split"),
        ("demo", ["model.kernel_size=4"], "model: model adacof: kernel_size: kernel_size must be odd"),
        ("demo", ["model.type=sepconv"], "unknown model 'sepconv'; known: adacof"),
        ("demo", ["train.losses=[{type: charbonnier, wieght: 1}]"], "train.losses.0: loss term charbonnier: wieght: unknown argument"),
        ("demo", ["train.losses=1*Charb+2*Nope"], "train.losses.1: unknown loss term 'Nope'; known: charbonnier"),
        ("demo", ["evaluate.metrics=[psnr, psnr]"], "evaluate.metrics: entries must be unique"),
        ("demo", ["evaluate.baselines=[{type: sepconv}]"], "unknown interpolator 'sepconv'"),
        ("demo", ["downstream.checks=[{type: foreground_psnr, dataset: mars}]"], "unknown data set 'mars'"),
        ("demo", ["data.local={demo: /x}"], "data.local: 'demo' is not a downloadable data set"),
        ("demo", ["variants={plain: {}, vos: {lr: fast}}"], "variants.vos.lr: Input should be a valid number"),
        ("demo", ["variants={plain: {}, vos: {epochz: 1}}"], "variants.vos.epochz: unknown field"),
        ("demo", ["variants={'bad name': {}}"], "variants.bad name"),
        ("demo", ["trainlr"], "must look like section.field=value"),
        ("demo", ["task_runner.kind=cloud"], "task_runner"),
        ("demo", ["masks.segmenter=deeplabv3"], "masks.segmenter: unknown segmenter 'deeplabv3'; known: deeplabv3_resnet101, ground_truth"),
        ("demo", ["masks.segmenter={type: deeplabv3_resnet101, batch_size: 0}"], "masks.segmenter: segmenter deeplabv3_resnet101: batch_size"),
        ("demo", ["masks.segmenter=deeplabv3_resnet101"], "masks.segmenter deeplabv3_resnet101: synthetic ships exact masks; use ground_truth"),
    ],
)
def test_exception_bad_profiles_give_one_line(profile: str, overrides: list[str], message: str) -> None:
    with pytest.raises(VosvfiError, match=message) as caught:
        load_profile(profile, overrides)
    assert "\n" not in str(caught.value)


def test_exception_profile_file_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: [unclosed\n")
    with pytest.raises(VosvfiError, match="not valid YAML"):
        load_profile(bad_yaml)
    with pytest.raises(VosvfiError, match="profile file not found"):
        load_profile(tmp_path / "missing.yaml")
    synthetic_missing = tmp_path / "nosynth.yaml"
    synthetic_missing.write_text("name: x\n")
    with pytest.raises(VosvfiError, match="data.synthetic must be set"):
        load_profile(synthetic_missing)


def test_feature_config_hash_is_stable_and_sensitive() -> None:
    a, b = TrainConfig(lr=1e-3, epochs=2), TrainConfig(epochs=2, lr=1e-3)
    assert config_hash(a) == config_hash(b)  # field order does not matter
    assert config_hash(a) != config_hash(TrainConfig(lr=2e-3, epochs=2))
    assert len(config_hash(a)) == 64  # a sha256 hex digest
    assert config_hash(EvaluateConfig()) != config_hash(TrainConfig())


def test_feature_the_plan_adds_what_a_stage_needs_and_says_why(tiny_checkpoint: Path) -> None:
    plan = plan_run("demo", ["evaluate"])
    assert plan.names == ["data", "masks", "train", "evaluate"]
    reasons = {s.name: s.reason for s in plan.stages}
    assert reasons["evaluate"] == "asked" and reasons["train"].startswith("needed by evaluate")
    assert reasons["masks"] == "needed by train: a loss term reads object masks"  # the demo's vos_vfi model
    assert "synthetic" in reasons["data"]
    assert plan_run("demo", ["masks"]).names == ["data", "masks"]
    assert plan_run("demo", STAGE_NAMES).names == list(STAGE_NAMES)
    with_checkpoint = plan_run("demo", ["evaluate"], [f"evaluate.checkpoint={tiny_checkpoint}"])
    assert with_checkpoint.names == ["data", "evaluate"]
    with pytest.raises(VosvfiError, match="unknown stage"):
        plan_run("demo", ["deploy"])


def test_feature_a_checkpoint_and_catalog_sets_only_plan_no_generated_data(tiny_checkpoint: Path) -> None:
    plan = plan_run("demo", ["evaluate"], [f"evaluate.checkpoint={tiny_checkpoint}", "evaluate.datasets=[ucf101]"])
    # The demo's foreground metrics need UCF101's middle-frame masks; the training set's masks are not made.
    assert plan.names == ["data", "masks", "evaluate"] and plan.datasets() == ["ucf101"]  # nothing generated
    assert plan.masked_sets() == ([], ["ucf101"])
    plain = plan_run("demo", ["evaluate"], [f"evaluate.checkpoint={tiny_checkpoint}", "evaluate.datasets=[ucf101]", "evaluate.metrics=[psnr]"])
    assert plain.names == ["data", "evaluate"] and plain.datasets() == ["ucf101"]
    assert plan_run("demo", ["masks"]).masked_sets() == (["synthetic"], [])  # asked alone: the masks the profile's stages need


def test_exception_the_plan_refuses_inputs_read_in_place_that_are_not_there(tmp_path: Path, tiny_checkpoint: Path) -> None:
    checkpoint = f"evaluate.checkpoint={tiny_checkpoint}"
    with pytest.raises(VosvfiError, match=r"^folder of triplets: missing folder .*nowhere$"):
        plan_run("demo", ["evaluate"], [checkpoint, f"evaluate.datasets=[folder:{tmp_path / 'nowhere'}]"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(VosvfiError, match=r"empty holds no sample folders"):
        plan_run("demo", ["evaluate"], [checkpoint, f"evaluate.datasets=[folder:{tmp_path / 'empty'}]"])
    with pytest.raises(VosvfiError, match=r"^data.local.ucf101: folder not found: .*gone$"):
        plan_run("demo", ["evaluate"], [checkpoint, "evaluate.datasets=[ucf101]", f"data.local={{ucf101: {tmp_path / 'gone'}}}"])
    with pytest.raises(VosvfiError, match=r"^evaluate.checkpoint: checkpoint not found: .*none.pth$"):
        plan_run("demo", ["downstream"], [f"evaluate.checkpoint={tmp_path / 'none.pth'}"])
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(VosvfiError, match=r"^evaluate.checkpoint: .*junk.pth is not a loadable PyTorch checkpoint"):
        plan_run("demo", ["evaluate"], [f"evaluate.checkpoint={tmp_path / 'junk.pth'}"])
    # Only what the planned stages read is checked.
    assert plan_run("demo", ["masks"], [f"evaluate.checkpoint={tmp_path / 'none.pth'}"]).names == ["data", "masks"]


def test_feature_threads_per_task_share_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import vosvfi_core.devices as devices

    monkeypatch.setattr(devices, "cpu_count", lambda: 8)
    assert plan_run("demo", ["data"], ["task_runner.max_workers=4"]).threads_per_task == 2
    assert plan_run("demo", ["data"], ["task_runner.max_workers=16"]).threads_per_task == 1
    assert plan_run("demo", ["data"], ["task_runner.threads_per_task=3"]).threads_per_task == 3
    assert plan_run("demo", ["data"], ["task_runner=dask"]).threads_per_task == 4  # 2 workers x 1 thread


def test_feature_variants_train_side_by_side_from_one_train_section() -> None:
    profile = load_profile("demo", ["variants={plain: {}, other_seed: {seed: 7, losses: 1*Charb}}"])
    trainings = profile.trainings()
    assert list(trainings) == ["adacof", "vos_vfi", "plain", "other_seed"]  # an override adds to the demo's two
    assert trainings["plain"] == profile.train
    assert trainings["other_seed"].seed == 7 and [b.type for b in trainings["other_seed"].losses] == ["charbonnier"]
    assert trainings["other_seed"].lr == profile.train.lr  # what a variant does not change comes from train
    assert list(load_profile("paper").trainings()) == ["adacof"]  # no variants: one model, named by its type
    vos = load_profile("demo", ["variants.vos_vfi.teacher={type: stcn}"]).trainings()["vos_vfi"]
    assert vos.teacher.type == "stcn" and "stride" not in vos.teacher.kwargs  # a teacher block is replaced whole, not merged


def _middlebury_layout(root: Path) -> Path:
    """Middlebury "other"'s layout: 12 sequences of blank 8x8 frames."""
    import numpy as np
    from PIL import Image

    for sequence in range(12):
        for relative in ("other-data/{}/frame10.png", "other-data/{}/frame11.png", "other-gt-interp/{}/frame10i11.png"):
            path = root / relative.format(f"seq{sequence}")
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    return root


def test_feature_study_plans_offline_and_scores_middlebury_only_where_it_is_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOSVFI_DATA_ROOT", str(tmp_path / "data"))
    without = plan_run("study")
    assert without.names == list(STAGE_NAMES) and without.profile.evaluate.datasets == ["synthetic", "synthetic_davis"]
    assert any("middlebury_other is not in place" in note for note in without.notes)
    with_it = plan_run("study", overrides=[f"data.local.middlebury_other={_middlebury_layout(tmp_path / 'mb')}"])
    assert with_it.profile.evaluate.datasets == ["synthetic", "synthetic_davis", "middlebury_other"]
    assert not any("middlebury_other" in note for note in with_it.notes)


def test_feature_study_variants_may_train_another_registered_model() -> None:
    study = load_profile("study")
    models = study.models()
    assert {name: block.type for name, block in models.items()} == {
        "adacof": "adacof",
        "adacof_vos": "adacof",
        "flow_refine": "flow_refine",
        "flow_refine_vos": "flow_refine",
    }
    trainings = study.trainings()
    assert trainings["adacof"].monitor == ["middlebury_other"] and trainings["adacof"].validation is None  # the test split picks best.pth
    assert {block.type for block in trainings["flow_refine_vos"].losses} >= {"seg", "cons"}
    with pytest.raises(VosvfiError, match="variants.flow_refine.model"):
        load_profile("study", ["variants.flow_refine.model={type: no_such_model}"])
