"""``vosvfi interpolate`` and ``vosvfi interpolate-video`` end to end (frames, frame folders, video files),
including every bad input and the overwrite rule."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image

from flows.cli import main
from vosvfi_core.checkpoint_format import save_checkpoint
from vosvfi_core.interpolation import output_frame_name
from vosvfi_core.models import adacof
from vosvfi_core.video.synthetic import moving_pattern, write_clip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A randomly initialised AdaCoF (kernel 5), saved as the CLI's users would pass it."""
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("ckpt") / "random_adacof.pth"
    save_checkpoint(path, adacof(kernel_size=5), epoch=0)
    return path


def _frame(path, height=40, width=56, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(mode)
    image.save(path)
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
    return float(-10 * np.log10(mse))


def test_feature_middlebury_pair(shared_dir, checkpoint, tmp_path, capsys):
    sequence = shared_dir / "data" / "middlebury_other" / "other-data" / "RubberWhale"
    truth = np.asarray(Image.open(shared_dir / "data/middlebury_other/other-gt-interp/RubberWhale/frame10i11.png").convert("RGB"))
    out = tmp_path / "middle.png"
    code, stdout, _ = _run(capsys, "interpolate", sequence / "frame10.png", sequence / "frame11.png", "-o", out, "--checkpoint", checkpoint, "--device", "cpu")
    assert code == 0 and str(out) in stdout
    result = np.asarray(Image.open(out))
    assert result.shape == truth.shape == (388, 584, 3)
    # An untrained AdaCoF blends nearby pixels of both frames: close to the truth, far from noise.
    assert _psnr(result, truth) > 20.0


def test_feature_pair_of_odd_size_and_jpeg_output(checkpoint, tmp_path, capsys):
    first, second = _frame(tmp_path / "a.png", 37, 51, 1), _frame(tmp_path / "b.png", 37, 51, 2)
    out = tmp_path / "mid.jpg"
    code, _, _ = _run(capsys, "interpolate", first, second, "-o", out, "--checkpoint", checkpoint)
    assert code == 0
    assert Image.open(out).format == "JPEG" and Image.open(out).size == (51, 37)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_feature_grayscale_and_rgba_are_converted_with_a_note(checkpoint, tmp_path, capsys, mode):
    first, second = _frame(tmp_path / "a.png", mode=mode), _frame(tmp_path / "b.png", seed=1)
    code, _, stderr = _run(capsys, "interpolate", first, second, "-o", tmp_path / "m.png", "--checkpoint", checkpoint)
    assert code == 0
    assert f"note: {first}: converted {mode} to RGB" in stderr
    assert Image.open(tmp_path / "m.png").mode == "RGB"


def _bad_checkpoint(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"\x00garbage")
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("mismatched", "both frames must match"),
        ("unreadable", "cannot read image"),
        ("missing_frame", "image not found"),
        ("missing_checkpoint", "checkpoint not found"),
        ("wrong_checkpoint", "is not a loadable PyTorch checkpoint"),
        ("wrong_model", "does not fit AdaCoF"),
        ("bad_suffix", "the output must end in .png, .jpg or .jpeg"),
        ("missing_parent", "does not exist (create it first)"),
    ],
)
def test_exception_pair_bad_inputs_exit_2_with_one_line_and_no_output(checkpoint, tmp_path, capsys, case, expected):
    first, second = _frame(tmp_path / "a.png"), _frame(tmp_path / "b.png", seed=1)
    ckpt, out = checkpoint, tmp_path / "out.png"
    if case == "mismatched":
        second = _frame(tmp_path / "b.png", 40, 64)
    elif case == "unreadable":
        second.write_bytes(b"not a png")
    elif case == "missing_frame":
        second = tmp_path / "absent.png"
    elif case == "missing_checkpoint":
        ckpt = tmp_path / "absent.pth"
    elif case == "wrong_checkpoint":
        ckpt = _bad_checkpoint(tmp_path)
    elif case == "wrong_model":
        ckpt = tmp_path / "other.pth"
        torch.save({"epoch": 1, "state_dict": {"get_kernel.moduleWeight1.7.weight": torch.zeros(9, 9, 3, 3)}}, ckpt)
    elif case == "bad_suffix":
        out = tmp_path / "out.gif"
    elif case == "missing_parent":
        out = tmp_path / "absent" / "out.png"
    code, _, stderr = _run(capsys, "interpolate", first, second, "-o", out, "--checkpoint", ckpt, "--device", "cpu")
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("vosvfi: error: ") and expected in stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out", "absent"))) == []


def test_exception_cuda_requested_without_cuda(checkpoint, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    first, second = _frame(tmp_path / "a.png"), _frame(tmp_path / "b.png", seed=1)
    code, _, stderr = _run(capsys, "interpolate", first, second, "-o", tmp_path / "m.png", "--checkpoint", checkpoint, "--device", "cuda")
    assert code == 2 and "no CUDA device" in stderr


def test_feature_video_factor_4_keeps_originals_with_consistent_names(checkpoint, tmp_path, capsys):
    frames = tmp_path / "in"
    frames.mkdir()
    for index in range(3):
        _frame(frames / f"frame{index + 8}.png", seed=index)  # natural order: 8, 9, 10
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "interpolate-video", frames, "-o", out, "--checkpoint", checkpoint, "--factor", "4", "--quiet")
    assert code == 0 and "3 frames -> 9 frames" in stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == [output_frame_name(i, 9, ".png") for i in range(9)] == [f"{i:05d}.png" for i in range(9)]
    for index, source in enumerate(["frame8.png", "frame9.png", "frame10.png"]):
        assert (out / f"{4 * index:05d}.png").read_bytes() == (frames / source).read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_feature_video_mixed_formats_and_jpg_output(checkpoint, tmp_path, capsys):
    frames = tmp_path / "in"
    frames.mkdir()
    _frame(frames / "0001.png", seed=1)
    Image.open(_frame(tmp_path / "x.png", seed=2)).save(frames / "0002.jpg", quality=95)
    out = tmp_path / "out"
    code, _, _ = _run(capsys, "interpolate-video", frames, "-o", out, "--checkpoint", checkpoint, "--format", "jpg", "--quiet")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["00000.jpg", "00001.jpg", "00002.jpg"]
    assert (out / "00002.jpg").read_bytes() == (frames / "0002.jpg").read_bytes()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("mismatched", "all frames must match"),
        ("too_few", "at least 2 are needed"),
        ("not_empty", "exists; pass --overwrite to replace it"),
        ("missing_dir", "input folder not found"),
        ("unreadable", "cannot read image"),
    ],
)
def test_exception_video_bad_inputs_leave_no_output(checkpoint, tmp_path, capsys, case, expected):
    frames, out = tmp_path / "in", tmp_path / "out"
    frames.mkdir()
    for index in range(3):
        _frame(frames / f"{index}.png", seed=index)
    if case == "mismatched":
        _frame(frames / "2.png", 40, 64)
    elif case == "too_few":
        for index in (1, 2):
            (frames / f"{index}.png").unlink()
    elif case == "not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "missing_dir":
        frames = tmp_path / "absent"
    elif case == "unreadable":
        (frames / "2.png").write_bytes(b"broken")
    code, _, stderr = _run(capsys, "interpolate-video", frames, "-o", out, "--checkpoint", checkpoint, "--quiet")
    assert code == 2 and expected in stderr and stderr.count("\n") == 1
    if case == "not_empty":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_exception_unknown_factor_is_a_usage_error(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["interpolate-video", str(tmp_path), "-o", str(tmp_path / "o"), "--checkpoint", str(checkpoint), "--factor", "3"])
    assert exit_info.value.code == 2
    assert "invalid choice: 3" in capsys.readouterr().err


# --- The overwrite rule and checks before the model loads ------------------------------------------


@pytest.fixture
def no_model_load(monkeypatch):
    """Make loading the checkpoint fail loudly: a check that runs after it would show as this error."""

    def refuse(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded before the inputs and outputs were checked")

    monkeypatch.setattr("vosvfi_core.commands.interpolate.load_checkpoint", refuse)


def test_exception_pair_refuses_an_existing_output_without_loading_the_model(checkpoint, tmp_path, capsys, no_model_load):
    first, second = _frame(tmp_path / "a.png"), _frame(tmp_path / "b.png", seed=1)
    out = tmp_path / "out.png"
    out.write_bytes(b"mine")
    code, _, stderr = _run(capsys, "interpolate", first, second, "-o", out, "--checkpoint", checkpoint)
    assert code == 2 and stderr == f"vosvfi: error: output {out} exists; pass --overwrite to replace it\n"
    assert out.read_bytes() == b"mine"


def test_feature_pair_overwrite_replaces_the_output(checkpoint, tmp_path, capsys):
    first, second = _frame(tmp_path / "a.png"), _frame(tmp_path / "b.png", seed=1)
    out = tmp_path / "out.png"
    out.write_bytes(b"mine")
    code, _, _ = _run(capsys, "interpolate", first, second, "-o", out, "--checkpoint", checkpoint, "--overwrite")
    assert code == 0 and Image.open(out).size == (56, 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "out.png"]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_feature_video_overwrite_replaces_a_file_or_a_non_empty_folder(checkpoint, tmp_path, capsys, kind):
    frames = tmp_path / "in"
    frames.mkdir()
    for index in range(2):
        _frame(frames / f"{index}.png", seed=index)
    out = tmp_path / ("out.mp4" if kind == "file" else "out")
    if kind == "file":
        out.write_bytes(b"old")
    else:
        out.mkdir()
        (out / "old.txt").write_text("old")
    argv = ["interpolate-video", frames, "-o", out, "--checkpoint", checkpoint, "--quiet"]
    assert _run(capsys, *argv)[0] == 2
    code, _, _ = _run(capsys, *argv, "--overwrite")
    assert code == 0
    if kind == "file":
        assert av.open(str(out)).streams.video[0].frames == 3
    else:
        assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png", "00002.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", out.name]


# --- Video files --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """9 frames of 64x48 at 25 fps with a tone, as a user's phone would not make but a test can."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, moving_pattern(9, 48, 64), rate=25, options={"crf": "0"}, audio_seconds=0.36)
    return path


def _video_info(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video)]
        return frames, video.average_rate, [stream.codec_context.name for stream in container.streams.audio]


def test_feature_video_file_in_and_out_with_the_network_and_audio(checkpoint, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, stderr = _run(capsys, "interpolate-video", clip, "-o", out, "--checkpoint", checkpoint, "--device", "cpu", "--batch", "3", "--crf", "10")
    assert code == 0, stderr
    assert "9 frames -> 17 frames at 50 fps" in stdout and "no scene cuts" in stdout
    # No progress bar when stderr is not a terminal: the one line is what --precision auto chose.
    assert stderr.count("\n") == 1 and stderr.startswith("vosvfi: note: precision auto: ")
    frames, rate, audio = _video_info(out)
    assert len(frames) == 17 and rate == 50 and audio == ["aac"]
    inputs, _, _ = _video_info(clip)
    assert min(_psnr(frames[2 * i], inputs[i]) for i in range(9)) > 35
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_feature_webm_to_webm_by_target_rate_keeps_opus(checkpoint, tmp_path, capsys):
    clip = tmp_path / "clip.webm"
    write_clip(clip, moving_pattern(3, 48, 64), rate=Fraction(30000, 1001), codec="libvpx-vp9", audio_seconds=0.1)
    out = tmp_path / "out.webm"
    code, stdout, _ = _run(capsys, "interpolate-video", clip, "-o", out, "--checkpoint", checkpoint, "--fps", "119.88")
    assert code == 0 and "3 frames -> 9 frames at 119.9" in stdout
    frames, rate, audio = _video_info(out)
    # WebM keeps times in milliseconds: an NTSC rate reads back to within a few thousandths.
    assert len(frames) == 9 and abs(rate - Fraction(120000, 1001)) < 0.01 and audio == ["opus"]


def test_feature_frame_folder_to_video_at_the_input_rate_given(checkpoint, tmp_path, capsys):
    frames = tmp_path / "in"
    frames.mkdir()
    for index, pixels in enumerate(moving_pattern(3, 40, 56)):
        Image.fromarray(pixels).save(frames / f"{index}.png")
    out = tmp_path / "out.mov"
    code, stdout, _ = _run(capsys, "interpolate-video", frames, "-o", out, "--checkpoint", checkpoint, "--input-fps", "30", "--factor", "4")
    assert code == 0 and "at 120 fps" in stdout
    decoded, rate, audio = _video_info(out)
    assert len(decoded) == 9 and rate == 120 and audio == []


def test_feature_video_to_frame_folder_keeps_decoded_originals(checkpoint, clip, tmp_path, capsys):
    out = tmp_path / "frames"
    code, _, stderr = _run(capsys, "interpolate-video", clip, "-o", out, "--checkpoint", checkpoint)
    assert code == 0 and "has audio; a frame folder keeps none" in stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{i:05d}.png" for i in range(17)]
    inputs, _, _ = _video_info(clip)
    assert np.array_equal(np.asarray(Image.open(out / "00004.png")), inputs[2])


def test_feature_scene_cuts_are_listed_at_the_end(checkpoint, tmp_path, capsys):
    clip = tmp_path / "cut.mkv"
    frames = list(moving_pattern(3, 48, 64, seed=1)) + [255 - p for p in moving_pattern(3, 48, 64, seed=2)]
    write_clip(clip, frames, rate=25, options={"crf": "0"})
    out = tmp_path / "out"
    code, stdout, _ = _run(capsys, "interpolate-video", clip, "-o", out, "--checkpoint", checkpoint)
    assert code == 0
    assert "1 scene cut(s), earlier frame repeated" in stdout and "between input frames 2 and 3 at 0.120 s" in stdout
    assert (out / "00005.png").read_bytes() == (out / "00004.png").read_bytes()
    # With the threshold at its maximum no pair is a cut.
    code, stdout, _ = _run(capsys, "interpolate-video", clip, "-o", tmp_path / "out1", "--checkpoint", checkpoint, "--scene-threshold", "1")
    assert code == 0 and "no scene cuts" in stdout


def test_feature_tiles_and_bf16_run_through_the_command(checkpoint, tmp_path, capsys):
    first, second = _frame(tmp_path / "a.png", 64, 96, 1), _frame(tmp_path / "b.png", 64, 96, 2)
    common = ["interpolate", first, second, "--checkpoint", checkpoint, "--device", "cpu"]
    assert _run(capsys, *common, "-o", tmp_path / "whole.png", "--tile", "0", "--precision", "fp32")[0] == 0
    assert _run(capsys, *common, "-o", tmp_path / "tiled.png", "--tile", "64", "--tile-overlap", "32", "--precision", "fp32")[0] == 0
    assert _run(capsys, *common, "-o", tmp_path / "bf16.png", "--precision", "bf16")[0] == 0
    whole = np.asarray(Image.open(tmp_path / "whole.png"))
    assert np.abs(np.asarray(Image.open(tmp_path / "tiled.png")).astype(int) - whole).max() <= 1
    # bfloat16 keeps 8 bits of mantissa: close to float32, not equal.
    assert _psnr(np.asarray(Image.open(tmp_path / "bf16.png")), whole) > 35


@pytest.mark.parametrize(
    ("native", "chosen"), [(True, "bf16 autocast (this CPU computes bfloat16 natively"), (False, "fp32 (this CPU has no native bfloat16)")]
)
def test_feature_precision_auto_follows_the_cpu_and_says_so_once(checkpoint, tmp_path, capsys, monkeypatch, native, chosen):
    monkeypatch.setattr("vosvfi_core.precision.cpu_has_native_bf16", lambda: native)
    first, second = _frame(tmp_path / "a.png", 64, 96, 1), _frame(tmp_path / "b.png", 64, 96, 2)
    common = ["interpolate", first, second, "--checkpoint", checkpoint, "--device", "cpu"]
    code, _, stderr = _run(capsys, *common, "-o", tmp_path / "auto.png")
    assert code == 0 and stderr == f"vosvfi: note: precision auto: {chosen}" + ("; --precision fp32 for plain float32)\n" if native else "\n")
    explicit = "bf16" if native else "fp32"
    code, _, stderr = _run(capsys, *common, "-o", tmp_path / "explicit.png", "--precision", explicit)
    assert code == 0 and stderr == ""  # an explicit choice is not announced
    assert (tmp_path / "auto.png").read_bytes() == (tmp_path / "explicit.png").read_bytes()


def test_exception_interrupted_video_leaves_nothing(checkpoint, clip, tmp_path, capsys, monkeypatch):
    def interrupting(*args, **kwargs):
        def interpolate(frame0, frame2):
            raise KeyboardInterrupt

        return interpolate

    monkeypatch.setattr("vosvfi_core.commands.interpolate.model_interpolator", interrupting)
    code, _, stderr = _run(capsys, "interpolate-video", clip, "-o", tmp_path / "out.mp4", "--checkpoint", checkpoint)
    assert code == 130 and "interrupted" in stderr
    assert not list(tmp_path.iterdir())


def _audio_only(path):
    container = av.open(str(path), "w", format="matroska")
    audio = container.add_stream("aac", rate=48000)
    frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
    frame.sample_rate, frame.pts = 48000, 0
    for packet in [*audio.encode(frame), *audio.encode(None)]:
        container.mux(packet)
    container.close()


@pytest.mark.parametrize(
    ("case", "extra", "expected"),
    [
        ("garbage", [], "cannot read video"),
        ("truncated", [], "cannot read video"),
        ("audio_only", [], "has no video stream"),
        ("exists", [], "exists; pass --overwrite to replace it"),
        ("unknown_codec", ["--codec", "nonsense"], "not an encoder of the bundled FFmpeg"),
        ("crf_without_crf", ["--codec", "mpeg4", "--crf", "20"], "mpeg4 takes no crf"),
        ("crf_range", ["--crf", "99"], "takes 0 to 51"),
        ("aac_in_webm", ["-o", "out.webm"], "cannot write libvpx-vp9 with audio aac into .webm"),
        ("fps_not_multiple", ["--fps", "60"], "--fps 60 is not 2, 4 or 8 times the input's 25 fps; use one of 50, 100, 200"),
        ("fp16_on_cpu", ["--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA device"),
        ("format_for_video", ["--format", "png"], "--format applies to frame-folder outputs"),
        ("codec_for_folder", ["-o", "frames", "--codec", "libx264"], "--codec and --crf apply to video outputs"),
        ("avi", ["-o", "out.avi"], ".avi is not a supported output"),
        ("folder_named_mp4", ["-o", "dir.mp4"], "is a folder; a video output must be a file"),
        ("missing_parent", ["-o", "absent/out.mp4"], "does not exist (create it first)"),
        ("parent_is_file", ["-o", "file.txt/out.mp4"], "is not a folder"),
        ("same_as_input", ["--overwrite"], "is the input"),
        ("batch", ["--batch", "0"], "--batch must be at least 1"),
        ("threshold", ["--scene-threshold", "0"], "--scene-threshold must be in (0, 1]"),
        ("tile", ["--tile", "64", "--tile-overlap", "40"], "more than half of --tile 64"),
        ("missing_checkpoint", ["--checkpoint", "absent.pth"], "checkpoint not found"),
    ],
)
def test_exception_video_bad_input_is_one_line_before_the_model_and_leaves_nothing(
    checkpoint, clip, tmp_path, capsys, no_model_load, monkeypatch, case, extra, expected
):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.mp4"
    source.write_bytes(clip.read_bytes())
    (tmp_path / "dir.mp4").mkdir()
    (tmp_path / "file.txt").write_text("a file")
    output = "out.mp4"
    if case == "garbage":
        source.write_bytes(b"\x00\x01 not a video" * 64)
    elif case == "truncated":
        source.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    elif case == "audio_only":
        _audio_only(source)
    elif case == "exists":
        (tmp_path / output).write_bytes(b"mine")
    elif case == "same_as_input":
        output = "in.mp4"
    before = sorted((p.name, p.stat().st_size) for p in tmp_path.iterdir())
    argv = ["interpolate-video", "in.mp4", "-o", output, "--checkpoint", checkpoint, *extra]
    code, stdout, stderr = _run(capsys, *argv)
    assert code == 2 and stdout == ""
    assert stderr.count("\n") == 1 and stderr.startswith("vosvfi: error: ") and expected in stderr, stderr
    assert sorted((p.name, p.stat().st_size) for p in tmp_path.iterdir()) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_exception_unwritable_output_folder(checkpoint, clip, tmp_path, capsys, no_model_load):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, stderr = _run(capsys, "interpolate-video", clip, "-o", locked / "out.mp4", "--checkpoint", checkpoint)
    finally:
        locked.chmod(0o755)
    assert code == 2 and "is not writable" in stderr and not list(locked.iterdir())
