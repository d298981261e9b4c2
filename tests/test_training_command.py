"""``vosvfi train``: argument checks before any network is built, training with and without the VOS terms, resuming when rerun."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vosvfi_core.commands import train as train_command
from vosvfi_core.config import load_profile
from vosvfi_core.data.download import ensure_dataset
from vosvfi_core.data.sets import DEMO_CATALOG_ENTRY
from vosvfi_core.errors import VosvfiError
from vosvfi_core.results.tables import read_table
from vosvfi_core.training import CHECKPOINT_NAME, MODEL_NAME

VOS = ["--set", "train.losses=1*Charb+0.01*g_Spatial+0.005*g_Occlusion+1*Seg+1*Cons", "--set", "train.teacher={type: pixel_affinity}"]


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="vosvfi")
    train_command.register(parser.add_subparsers())
    args = parser.parse_args(["train", *argv])
    return args.handler(args)


@pytest.fixture
def demo_data(workspace: Path) -> Path:
    """The tiny profile's generated data (4 training and 2 test triplets of 32x32 with exact masks)."""
    ensure_dataset(DEMO_CATALOG_ENTRY, workspace / "data", generator=load_profile(workspace / "tiny.yaml").data.synthetic, progress=False)
    return workspace


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--set", "train.optimizer=sgd"], "train.optimizer: Input should be 'adamax', 'adam' or 'adamw'"),
        (["--set", "train.losses=1*Charb+1*Seg", "--set", "train.teacher=null"], "the seg term needs a VOS teacher; set train.teacher"),
        (["--run-id", "a/b"], "run id 'a/b' must be"),
        (["--model", "other"], "--model 'other': the profile trains adacof"),
        ([], "training set synthetic is not in place under"),
    ],
)
def test_exception_arguments_are_checked_before_any_work(workspace: Path, argv: list[str], message: str) -> None:
    with pytest.raises(VosvfiError, match=message.replace("(", r"\(").replace("*", r"\*")):
        _run("--profile", str(workspace / "tiny.yaml"), *argv)
    assert not (workspace / "runs").exists()


@pytest.mark.slow
def test_feature_trains_with_the_vos_terms_and_resumes_when_rerun(demo_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(demo_data / "tiny.yaml")
    assert _run("--profile", profile, *VOS, "--quiet") == 0  # 4 triplets, batch 4, 1 epoch: one step
    folder = demo_data / "runs" / "tiny-train"
    (checkpoints,) = (folder / "checkpoints").glob("adacof-*")
    assert {CHECKPOINT_NAME, MODEL_NAME, "best.pth"} <= {p.name for p in checkpoints.iterdir()}
    output = capsys.readouterr().out
    assert "adacof: validation on synthetic (test split)" in output and "adacof: 1 steps;" in output

    assert _run("--profile", profile, *VOS, "--set", "train.epochs=2", "--quiet") == 0  # one more epoch, from step 1
    output = capsys.readouterr().out
    assert f"adacof: resuming from {checkpoints / CHECKPOINT_NAME}" in output and "2 steps (resumed at step 1)" in output
    history = read_table(folder / "tables" / "train_history.parquet", "train_history")
    assert sorted(set(history["step"])) == [1, 2] and set(history["run_id"]) == {"tiny-train"} and set(history["model"]) == {"adacof"}
    quantities = set(history["quantity"])
    assert {"loss", "charbonnier", "seg", "cons", "lr", "samples_per_second", "val_psnr"} <= quantities

    assert _run("--profile", profile, "--quiet") == 0  # other loss terms: another training, in a folder of its own, from step 0
    assert "adacof: 1 steps;" in capsys.readouterr().out
    assert len(list((folder / "checkpoints").glob("adacof-*"))) == 2
    assert _run("--profile", profile, "--overwrite", "--quiet") == 0  # starts that one over
    assert "adacof: --overwrite: starting over" in capsys.readouterr().out
