"""``vosvfi interpolate`` (two frames) and ``vosvfi interpolate-video`` (video files and frame folders).

Both check every argument, input and output before the checkpoint loads: a refused output, a bad
option or an unreadable input costs a second, not a model load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from vosvfi_core.checkpoint_format import load_checkpoint
from vosvfi_core.commands.outputs import add_overwrite_flag, check_output
from vosvfi_core.devices import resolve_device
from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import SUPPORTED_FACTORS, Interpolator, model_interpolator, prepare_for_inference
from vosvfi_core.io.images import IMAGE_SUFFIXES, load_rgb, write_image
from vosvfi_core.precision import REQUESTS, resolve_precision
from vosvfi_core.tiling import DEFAULT_OVERLAP, DEFAULT_TILE, check_tiling
from vosvfi_core.video import (
    DEFAULT_SCENE_THRESHOLD,
    FrameFolderSink,
    FrameFolderSource,
    VideoFileSink,
    encoder_settings,
    factor_for_rate,
    interpolate_stream,
    is_video_path,
    open_source,
    output_frame_count,
    parse_rate,
)
from vosvfi_core.video.rates import format_rate

__all__ = ["register"]


def _note(message: str) -> None:
    print(f"vosvfi: note: {message}", file=sys.stderr)


def _notes(messages: list[str]) -> None:
    if messages:
        more = f" (and {len(messages) - 1} more frames)" if len(messages) > 1 else ""
        _note(messages[0] + more)


def _check_model_options(args: argparse.Namespace) -> torch.device:
    """The device, after checking precision, tiles and that the checkpoint file is there."""
    device = resolve_device(args.device)
    resolve_precision(args.precision, device)
    check_tiling(args.tile, args.tile_overlap)
    if not Path(args.checkpoint).is_file():
        raise VosvfiError(f"checkpoint not found: {args.checkpoint}")
    return device


def _why(precision: str, device: torch.device) -> str:
    where = "this GPU" if device.type == "cuda" else "this CPU"
    if precision == "bf16":
        return f"bf16 autocast ({where} computes bfloat16 natively; --precision fp32 for plain float32)"
    return f"fp32 ({where} has no native bfloat16)"


def _load_interpolator(args: argparse.Namespace, device: torch.device) -> Interpolator:
    """The checkpoint's network as an interpolator; ``--precision auto`` says what it chose, once."""
    model = prepare_for_inference(load_checkpoint(args.checkpoint, device=device)[0])
    precision = resolve_precision(args.precision, device)
    if args.precision == "auto":
        _note(f"precision auto: {_why(precision, device)}")
    return model_interpolator(model, precision=precision, tile=args.tile, overlap=args.tile_overlap)


def _run_pair(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise VosvfiError(f"-o {output}: the output must end in .png, .jpg or .jpeg")
    check_output(output, overwrite=args.overwrite)
    device = _check_model_options(args)
    first, second = load_rgb(args.first), load_rgb(args.second)
    _notes([loaded.note for loaded in (first, second) if loaded.note])
    if first.tensor.shape != second.tensor.shape:
        (_, h0, w0), (_, h1, w1) = first.tensor.shape, second.tensor.shape
        raise VosvfiError(f"{args.second} is {w1}x{h1} but {args.first} is {w0}x{h0}; both frames must match")
    interpolator = _load_interpolator(args, device)
    write_image(output, interpolator(first.tensor.unsqueeze(0), second.tensor.unsqueeze(0)).squeeze(0))
    print(output)
    return 0


def _check_video_options(args: argparse.Namespace, input_path: Path, output: Path) -> bool:
    """Option checks that need no file opened; returns whether the output is a video file."""
    if args.batch < 1:
        raise VosvfiError(f"--batch must be at least 1, got {args.batch}")
    if not 0 < args.scene_threshold <= 1:
        raise VosvfiError(f"--scene-threshold must be in (0, 1] (1 finds no cuts), got {args.scene_threshold}")
    to_video = is_video_path(output)
    if to_video and args.format:
        raise VosvfiError(f"--format applies to frame-folder outputs, but {output} is a video file")
    if not to_video and (args.codec or args.crf is not None):
        raise VosvfiError(f"--codec and --crf apply to video outputs, but {output} is a frame folder (end it in .mp4, .mkv, .mov or .webm for a video)")
    if to_video and output.is_dir():
        raise VosvfiError(f"-o {output} is a folder; a video output must be a file")
    if output.exists() and input_path.exists() and input_path.resolve().is_relative_to(output.resolve()):
        raise VosvfiError(f"-o {output} is the input or holds it; write somewhere else")
    check_output(output, overwrite=args.overwrite)
    return to_video


def _run_video(args: argparse.Namespace) -> int:
    input_path, output = Path(args.input), Path(args.output)
    device = _check_model_options(args)
    to_video = _check_video_options(args, input_path, output)
    input_fps = parse_rate(args.input_fps, option="--input-fps") if args.input_fps else None
    target_fps = parse_rate(args.fps) if args.fps else None
    source = open_source(input_path, fps=input_fps)
    try:
        factor = factor_for_rate(source.fps, target_fps) if target_fps is not None else args.factor
        if source.frame_count is not None and source.frame_count < 2:
            raise VosvfiError(f"{input_path} holds {source.frame_count} frame(s); at least 2 are needed")
        rate = source.fps * factor
        expected = output_frame_count(source.frame_estimate, factor) if source.frame_estimate else None
        if to_video:
            settings = encoder_settings(output, codec=args.codec, crf=args.crf, rate=rate, width=source.width, height=source.height, audio=source.audio)
            _notes(settings.notes)
        else:
            default_suffix = source.suffix if isinstance(source, FrameFolderSource) else ".png"
            suffix = f".{args.format}" if args.format else default_suffix
            if source.audio is not None:
                _note(f"{input_path} has audio; a frame folder keeps none (write a video file to keep it)")
        # Everything is checked: only now load the model and create the output.
        interpolator = _load_interpolator(args, device)
        try:
            sink = VideoFileSink(output, settings, audio=source.audio) if to_video else FrameFolderSink(output, suffix=suffix, expected_frames=expected)
        except OSError as error:
            raise VosvfiError(f"cannot write {output}: {error}") from None
        try:
            with tqdm(total=expected, unit="frame", desc="interpolating", disable=True if args.quiet else None, dynamic_ncols=True) as bar:
                result = interpolate_stream(
                    source, sink, interpolator, factor=factor, batch=args.batch, scene_threshold=args.scene_threshold, device=device, on_frame=bar.update
                )
        except OSError as error:  # a full disk or a vanished input frame mid-stream
            raise VosvfiError(str(error)) from None
    finally:
        source.close()
    _notes(source.notes)
    print(f"{result.input_frames} frames -> {result.output_frames} frames at {format_rate(rate)} fps in {output}")
    if result.cuts:
        print(f"{len(result.cuts)} scene cut(s), earlier frame repeated instead of interpolating:")
        for cut in result.cuts:
            print(f"  {cut.describe()}")
    else:
        print("no scene cuts")
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="an AdaCoF checkpoint (published or ours)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to run the network: auto (CUDA when present), cpu or cuda")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=REQUESTS,
        help="autocast precision; auto (default): bf16 where the CPU or GPU computes it natively, else fp32 (fp16: CUDA only)",
    )
    parser.add_argument(
        "--tile", type=int, default=DEFAULT_TILE, help=f"largest tile side in pixels; larger frames run in tiles (0: never; default {DEFAULT_TILE})"
    )
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_OVERLAP, help=f"pixels shared by neighbouring tiles (default {DEFAULT_OVERLAP})")
    add_overwrite_flag(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    pair = subparsers.add_parser("interpolate", help="write the middle frame of two frames")
    pair.add_argument("first", help="the earlier frame (png or jpg)")
    pair.add_argument("second", help="the later frame, same size")
    pair.add_argument("-o", "--output", required=True, help="output image (.png or .jpg)")
    _add_model_options(pair)
    pair.set_defaults(handler=_run_pair)

    video = subparsers.add_parser("interpolate-video", help="raise the frame rate of a video file or a folder of frames")
    video.add_argument("input", help="a video file (mp4, mkv, mov, webm …) or a folder of frames in natural name order")
    video.add_argument("-o", "--output", required=True, help="a video file (.mp4, .mkv, .mov, .webm) or a frame folder (must not exist or be empty)")
    _add_model_options(video)
    rate = video.add_mutually_exclusive_group()
    rate.add_argument("--factor", type=int, default=2, choices=SUPPORTED_FACTORS, help="frame-rate multiplier (default 2)")
    rate.add_argument("--fps", help="output frame rate instead of --factor: 2, 4 or 8 times the input's (e.g. 60, 59.94, 60000/1001)")
    video.add_argument("--input-fps", help="frame rate of a frame-folder input (default 25), or to override a video's")
    video.add_argument("--codec", help="video encoder (default libx264 for mp4/mkv/mov, libvpx-vp9 for webm)")
    video.add_argument("--crf", type=int, help="constant-quality factor for x264/x265/VP9/AV1 (default 18; lower is better)")
    video.add_argument("--format", choices=("png", "jpg"), help="frame format of a folder output (default: the input's, png for a video)")
    video.add_argument("--batch", type=int, default=1, help="pairs per network call (default 1)")
    video.add_argument(
        "--scene-threshold",
        type=float,
        default=DEFAULT_SCENE_THRESHOLD,
        help=f"mean absolute difference of 64-px grayscale thumbnails above which a pair is a scene cut (default {DEFAULT_SCENE_THRESHOLD}; 1: never)",
    )
    video.add_argument("--quiet", action="store_true", help="no progress bar (it is off anyway when stderr is not a terminal)")
    video.set_defaults(handler=_run_video)
