"""Checkpoints: the published format loads unchanged; inference exports are light and faithful; every bad file is a one-line error."""

from __future__ import annotations

import argparse
import copy
import hashlib
from pathlib import Path

import pytest
import torch

from vosvfi_core import __version__
from vosvfi_core.checkpoint_format import export_inference, inference_dtype, load_checkpoint, read_checkpoint, save_checkpoint, save_inference
from vosvfi_core.commands import export as export_command
from vosvfi_core.errors import VosvfiError
from vosvfi_core.models import adacof


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(1)
    return adacof(kernel_size=3, dilation=2)


def _assert_one_line(error: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(error.value)


def test_feature_roundtrip_keeps_weights_and_metadata(tmp_path, small_model):
    path = tmp_path / "model.pth"
    save_checkpoint(path, small_model, epoch=7, extra={"step": 12, "note": "x"})
    model, checkpoint = load_checkpoint(path)
    assert (model.kernel_size, model.dilation, model.sampling_mode) == (3, 2, "bilinear")
    assert checkpoint["epoch"] == 7 and checkpoint["extra"] == {"step": 12, "note": "x"}
    assert not model.training
    for key, value in small_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[key])
    assert [p.name for p in tmp_path.iterdir()] == ["model.pth"]  # no temporary file left


def test_feature_published_layout_loads_in_legacy_mode_with_published_dilation(tmp_path):
    published = adacof(kernel_size=5)
    path = tmp_path / "adacof_F_5_D_1.pth"
    torch.save({"epoch": 50, "state_dict": published.state_dict()}, path)
    model, checkpoint = load_checkpoint(path)
    assert (model.kernel_size, model.dilation, model.sampling_mode) == (5, 1, "legacy")
    assert checkpoint["epoch"] == 50


def test_feature_loading_skips_random_initialisation(tmp_path, small_model):
    path = tmp_path / "model.pth"
    save_checkpoint(path, small_model, epoch=1)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    model, _ = load_checkpoint(path)
    assert torch.equal(torch.rand(3), expected)  # building the model drew no random numbers
    for key, value in small_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    expected_buffers = dict(small_model.named_buffers())  # non-persistent ones included: those are built, not loaded
    assert all(torch.equal(buffer, expected_buffers[name]) for name, buffer in model.named_buffers())


def test_feature_plain_state_dict_is_accepted(tmp_path, small_model):
    path = tmp_path / "plain.pth"
    torch.save(small_model.state_dict(), path)
    model, _ = load_checkpoint(path, dilation=2, sampling_mode="bilinear")
    assert model.kernel_size == 3


def test_exception_missing_unexpected_and_misshaped_keys(tmp_path, small_model):
    state = dict(small_model.state_dict())
    state.pop("get_kernel.moduleConv1.0.bias")
    state["model.extra_head.weight"] = torch.zeros(1)
    state["get_kernel.moduleConv2.0.weight"] = torch.zeros(64, 32, 5, 5)
    path = tmp_path / "broken.pth"
    torch.save({"epoch": 1, "state_dict": state}, path)
    with pytest.raises(VosvfiError) as error:
        load_checkpoint(path)
    message = str(error.value)
    _assert_one_line(error)
    assert str(path) in message
    assert "1 missing keys: get_kernel.moduleConv1.0.bias" in message
    assert "1 unexpected keys: model.extra_head.weight" in message
    assert "get_kernel.moduleConv2.0.weight (64, 32, 5, 5) != (64, 32, 3, 3)" in message


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not a checkpoint at all", "is not a loadable PyTorch checkpoint"),
        (b"", "is not a loadable PyTorch checkpoint"),
    ],
)
def test_exception_not_a_checkpoint(tmp_path, content, match):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(VosvfiError, match=match) as error:
        read_checkpoint(path)
    _assert_one_line(error)


def test_exception_pickled_code_is_refused(tmp_path):
    path = tmp_path / "code.pth"
    torch.save({"epoch": 1, "state_dict": {}, "hook": _CustomObject()}, path)
    with pytest.raises(VosvfiError, match="is not a loadable PyTorch checkpoint") as error:
        read_checkpoint(path)
    _assert_one_line(error)


def test_exception_checkpoint_without_state_dict_and_missing_file(tmp_path):
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 3, "weights": [1, 2]}, path)
    with pytest.raises(VosvfiError, match="expected a dict with a 'state_dict' entry"):
        read_checkpoint(path)
    with pytest.raises(VosvfiError, match="checkpoint not found"):
        read_checkpoint(tmp_path / "absent.pth")
    torch.save({"state_dict": {"foo": torch.zeros(2)}}, path)
    with pytest.raises(VosvfiError, match=r"moduleWeight1\.7\.weight"):
        load_checkpoint(path)


class _CustomObject:
    """A class weights_only loading must refuse to unpickle."""


# ---- inference files: export_inference, save_inference, vosvfi export ---------------------------

# Largest output difference (frames in [0, 1]) allowed after storing the weights at half precision:
# about 10x what a random-initialised AdaCoF shows on random 32x48 frames (fp16 ~6e-6, bf16 ~5e-5).
HALF_TOLERANCE = {"fp16": 1e-4, "bf16": 1e-3}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def frames():
    generator = torch.Generator().manual_seed(3)
    return torch.rand(1, 3, 32, 48, generator=generator), torch.rand(1, 3, 32, 48, generator=generator)


@pytest.fixture(scope="module")
def training_checkpoint(tmp_path_factory, small_model):
    """A trainer-style checkpoint of a full-sized AdaCoF: weights plus Adamax state after one step."""
    path = tmp_path_factory.mktemp("training") / "last.pth"
    model = copy.deepcopy(small_model)  # a copy: the optimiser step must not change the shared fixture
    optimizer = torch.optim.Adamax(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(5)
    for parameter in model.parameters():
        parameter.grad = torch.randn(parameter.shape, generator=generator) * 1e-3
    optimizer.step()
    save_checkpoint(path, model, epoch=2, extra={"step": 40, "optimizer": optimizer.state_dict()})
    return path, model


@pytest.fixture(scope="module")
def weights_checkpoint(tmp_path_factory, small_model):
    """Weights without optimiser state (a third of a training checkpoint's bytes: quicker to export)."""
    path = tmp_path_factory.mktemp("weights") / "weights.pth"
    save_checkpoint(path, small_model, epoch=1, extra={"step": 7})
    return path, small_model


def _outputs(model, frames):
    with torch.no_grad():
        return model(*frames)


def test_feature_fp32_export_round_trip_is_exact(tmp_path, training_checkpoint, frames):
    source, trained = training_checkpoint
    provenance = export_inference(source, tmp_path / "model.pth")
    model, checkpoint = load_checkpoint(tmp_path / "model.pth")
    assert (model.kernel_size, model.dilation, model.sampling_mode) == (3, 2, "bilinear")
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert torch.equal(_outputs(model, frames), _outputs(trained.eval(), frames))
    stored = checkpoint["provenance"]
    assert stored == provenance
    assert stored["source_sha256"] == _sha256(source) and stored["source"] == str(source)
    assert (stored["step"], stored["epoch"], stored["vosvfi_version"]) == (40, 2, __version__)
    assert checkpoint["epoch"] == 2 and "extra" not in checkpoint
    assert checkpoint["vosvfi"]["format"] == "inference" and checkpoint["vosvfi"]["dtype"] == "float32"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]  # written atomically, nothing left over


def test_feature_half_argument_names_the_stored_type():
    assert [inference_dtype(half) for half in (False, True, "fp16", "bf16")] == [torch.float32, torch.float16, torch.float16, torch.bfloat16]


@pytest.mark.parametrize(("half", "dtype"), [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_feature_half_export_stores_rounded_weights_and_loads_float32(tmp_path, weights_checkpoint, frames, half, dtype):
    source, trained = weights_checkpoint
    export_inference(source, tmp_path / "model.pth", half=half)
    raw = torch.load(tmp_path / "model.pth", weights_only=True)
    assert {value.dtype for value in raw["state_dict"].values()} == {dtype}
    model, checkpoint = load_checkpoint(tmp_path / "model.pth")
    assert {value.dtype for value in checkpoint["state_dict"].values()} == {torch.float32}
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value.to(dtype).float()), key  # rounded once, cast back exactly
    difference = (_outputs(model, frames) - _outputs(trained.eval(), frames)).abs().max().item()
    assert 0 < difference <= HALF_TOLERANCE[half]


def test_cardinality_exports_are_a_third_and_a_sixth_of_a_training_checkpoint(tmp_path, training_checkpoint):
    source, trained = training_checkpoint
    weights = sum(value.numel() for value in trained.state_dict().values())
    export_inference(source, tmp_path / "fp32.pth")
    export_inference(source, tmp_path / "fp16.pth", half="fp16")
    training, fp32, fp16 = (path.stat().st_size for path in (source, tmp_path / "fp32.pth", tmp_path / "fp16.pth"))
    assert training > 3 * weights * 4  # weights and two Adamax moments, float32 each
    assert weights * 4 < fp32 < weights * 4 * 1.01
    assert weights * 2 < fp16 < weights * 2 * 1.01
    assert fp32 < training / 2.9 and fp16 < training / 5.8


def test_feature_published_layout_checkpoint_exports_in_legacy_mode(tmp_path):
    published = adacof(kernel_size=5)
    source = tmp_path / "adacof_F_5_D_1.pth"
    torch.save({"epoch": 50, "state_dict": published.state_dict()}, source)
    provenance = export_inference(source, tmp_path / "model.pth")
    model, _ = load_checkpoint(tmp_path / "model.pth")
    assert (model.kernel_size, model.dilation, model.sampling_mode) == (5, 1, "legacy")
    assert provenance["epoch"] == 50 and provenance["step"] is None and provenance["trained_with"] is None
    for key, value in published.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_feature_export_of_an_export_keeps_its_history(tmp_path, weights_checkpoint):
    source, _ = weights_checkpoint
    first = export_inference(source, tmp_path / "fp32.pth")
    second = export_inference(tmp_path / "fp32.pth", tmp_path / "fp16.pth", half="fp16")
    assert second["exported_from"] == first and (second["step"], second["epoch"]) == (7, 1) and second["source_dtype"] == "float32"


def test_feature_save_inference_from_a_live_model(tmp_path, small_model):
    path = tmp_path / "run" / "model.pth"
    save_inference(small_model, path, provenance={"run": "r1", "step": 12, "epoch": 3, "checkpoint": tmp_path / "last.pth", "shape": (1, 2)})
    model, checkpoint = load_checkpoint(path)
    assert checkpoint["provenance"] == {"run": "r1", "step": 12, "epoch": 3, "checkpoint": str(tmp_path / "last.pth"), "shape": [1, 2]}
    assert checkpoint["epoch"] == 3 and model.dilation == 2
    for key, value in small_model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)


def test_exception_save_inference_refuses_unstorable_provenance(tmp_path, small_model):
    with pytest.raises(TypeError, match=r"provenance\.when: datetime"):
        import datetime

        save_inference(small_model, tmp_path / "model.pth", provenance={"when": datetime.datetime.now()})
    assert not list(tmp_path.iterdir())


def test_exception_export_bad_inputs_are_one_line(tmp_path, weights_checkpoint):
    source, _ = weights_checkpoint
    with pytest.raises(VosvfiError, match="half must be False, True, 'fp16' or 'bf16', got 'int8'") as error:
        export_inference(source, tmp_path / "model.pth", half="int8")
    _assert_one_line(error)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(VosvfiError, match=r"garbage\.pth is not a loadable PyTorch checkpoint") as error:
        export_inference(garbage, tmp_path / "model.pth")
    _assert_one_line(error)
    with pytest.raises(VosvfiError, match="would replace its own source"):
        export_inference(source, source)
    assert not (tmp_path / "model.pth").exists()


def _run_export(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vosvfi")
    export_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    return args.handler(args)


def test_feature_export_command_writes_and_refuses_to_overwrite(tmp_path, weights_checkpoint, capsys):
    source, _ = weights_checkpoint
    output = tmp_path / "model.pth"
    assert _run_export([str(source), "-o", str(output), "--half"]) == 0
    assert "float16" in capsys.readouterr().out
    assert {value.dtype for value in torch.load(output, weights_only=True)["state_dict"].values()} == {torch.float16}
    before = output.read_bytes()
    with pytest.raises(VosvfiError, match="exists; pass --overwrite") as error:
        _run_export([str(source), "-o", str(output)])
    _assert_one_line(error)
    assert output.read_bytes() == before
    assert _run_export([str(source), "-o", str(output), "--overwrite", "--half", "bf16"]) == 0
    assert {value.dtype for value in torch.load(output, weights_only=True)["state_dict"].values()} == {torch.bfloat16}


def test_exception_export_command_checks_arguments_before_reading_the_checkpoint(tmp_path):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    taken = tmp_path / "taken.pth"
    taken.write_bytes(b"x")
    with pytest.raises(VosvfiError, match=r"taken\.pth exists"):  # not the checkpoint's error: it was never read
        _run_export([str(garbage), "-o", str(taken)])
    with pytest.raises(VosvfiError, match="checkpoint not found"):
        _run_export([str(tmp_path / "absent.pth"), "-o", str(tmp_path / "out.pth")])
    with pytest.raises(VosvfiError, match="is the checkpoint itself"):
        _run_export([str(garbage), "-o", str(garbage), "--overwrite"])
    with pytest.raises(VosvfiError, match="is a folder"):
        _run_export([str(garbage), "-o", str(tmp_path)])
    with pytest.raises(VosvfiError, match="does not exist"):
        _run_export([str(garbage), "-o", str(tmp_path / "no" / "model.pth")])
    with pytest.raises(SystemExit):
        _run_export([str(garbage), "-o", str(tmp_path / "out.pth"), "--half", "int8"])


def test_feature_checkpoint_model_names_and_scored_models(tmp_path) -> None:
    from vosvfi_core.checkpoint_format import checkpoint_model_name, scored_models

    assert checkpoint_model_name(tmp_path / "adacof_F5.pth") == "adacof_F5"
    assert checkpoint_model_name(tmp_path / "plain" / "model.pth") == "plain-model"  # a training folder's generic name
    assert checkpoint_model_name(Path("runs/x/best.pth")) == "x-best"
    trained = {"plain": tmp_path / "plain" / "model.pth", "vos": tmp_path / "vos" / "model.pth"}
    assert scored_models(None, trained) == trained
    assert scored_models(tmp_path / "w.pth", trained) == {"w": (tmp_path / "w.pth").absolute()}  # the checkpoint alone
    with pytest.raises(VosvfiError, match="no model to score: set evaluate.checkpoint or plan the train stage"):
        scored_models(None, {})


def test_exception_check_checkpoint_names_the_field(tmp_path, small_model) -> None:
    from vosvfi_core.checkpoint_format import check_checkpoint

    good = tmp_path / "good.pth"
    save_checkpoint(good, small_model, epoch=0)
    check_checkpoint(good, field="evaluate.checkpoint")
    (tmp_path / "bad.pth").write_bytes(b"junk")
    with pytest.raises(VosvfiError, match=r"^evaluate.checkpoint: .*bad.pth is not a loadable PyTorch checkpoint"):
        check_checkpoint(tmp_path / "bad.pth", field="evaluate.checkpoint")
