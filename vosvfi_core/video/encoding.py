"""What a video output is encoded with: container, codec, quality, pixel format, size and rate, checked up front.

:func:`encoder_settings` turns the command's options into :class:`EncoderSettings` and proves that
the bundled FFmpeg can write them, by encoding one frame (and adding the audio stream to be copied)
into memory. Every problem with the options is one line before a model loads or a file appears.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vosvfi_core.errors import VosvfiError

__all__ = [
    "VIDEO_CONTAINERS",
    "DEFAULT_CODECS",
    "DEFAULT_CRF",
    "CRF_RANGES",
    "EncoderSettings",
    "is_video_path",
    "encoder_settings",
    "open_output",
]

# Output suffix → FFmpeg muxer.
VIDEO_CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
DEFAULT_CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".webm": "libvpx-vp9"}
# 18 is close to visually lossless for x264; on VP9's 0–63 scale it is higher quality still.
DEFAULT_CRF = 18
# Codecs that take a constant-quality factor, with its valid range.
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx-vp9": (0, 63), "libvpx": (4, 63), "libsvtav1": (1, 63)}
# libvpx reads a bitrate of 0 with a crf as "constant quality"; VP9's default speed (cpu-used 1)
# is several times slower than x264's default preset, 4 is the usual compromise.
_EXTRA_OPTIONS = {"libvpx-vp9": {"b": "0", "row-mt": "1", "cpu-used": "4"}, "libvpx": {"b": "0"}}
# Suffixes of media files that are not an output we write: refused rather than taken as a folder name.
_OTHER_MEDIA_SUFFIXES = {".avi", ".m4v", ".flv", ".wmv", ".ts", ".mts", ".mpg", ".mpeg", ".ogv", ".gif", ".y4m", ".png", ".jpg", ".jpeg"}
_PREFERRED_PIX_FMT = "yuv420p"


@dataclass(frozen=True)
class EncoderSettings:
    muxer: str  # FFmpeg's name for the container
    codec: str  # the encoder's canonical name (``h264`` → ``libx264``)
    pix_fmt: str
    options: dict[str, str]
    width: int  # encoded size: the frame's, padded to even sides for chroma-subsampled formats
    height: int
    rate: Fraction
    notes: list[str] = field(default_factory=list)


def is_video_path(path: Path) -> bool:
    """True for an output path naming a video file, False for a frame folder; one line for other media."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_CONTAINERS:
        return True
    if suffix in _OTHER_MEDIA_SUFFIXES:
        raise VosvfiError(f"-o {path}: {suffix} is not a supported output; write .mp4, .mkv, .mov or .webm, or a folder of frames")
    return False


def _encoder(name: str) -> av.Codec:
    try:
        codec = av.Codec(name, "w")
    except Exception:  # noqa: BLE001 - PyAV raises UnknownCodecError or ValueError by version
        raise VosvfiError(f"--codec {name}: not an encoder of the bundled FFmpeg (see `python -c 'import av; print(av.codecs_available)'`)") from None
    if codec.type != "video":
        raise VosvfiError(f"--codec {name}: a {codec.type} encoder, not a video one")
    return codec


def _pixel_format(codec: av.Codec) -> str:
    formats = [f.name for f in (codec.video_formats or [])]
    if not formats or _PREFERRED_PIX_FMT in formats:
        return _PREFERRED_PIX_FMT
    return formats[0]


def _subsampled(pix_fmt: str) -> bool:
    return pix_fmt.startswith(("yuv", "yuvj", "nv")) and not pix_fmt.startswith(("yuv444", "yuvj444", "yuva444"))


def _quality_options(codec: str, crf: int | None) -> dict[str, str]:
    if codec not in CRF_RANGES:
        if crf is not None:
            raise VosvfiError(f"--crf applies to {', '.join(CRF_RANGES)}; {codec} takes no crf (leave --crf out)")
        return {}
    low, high = CRF_RANGES[codec]
    crf = DEFAULT_CRF if crf is None else crf
    if not low <= crf <= high:
        raise VosvfiError(f"--crf {crf}: {codec} takes {low} to {high} (lower is better quality)")
    return {"crf": str(crf), **_EXTRA_OPTIONS.get(codec, {})}


def _one_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def encoder_settings(
    path: Path,
    *,
    codec: str | None,
    crf: int | None,
    rate: Fraction,
    width: int,
    height: int,
    audio: av.audio.stream.AudioStream | None = None,
) -> EncoderSettings:
    """Settings for writing ``path``; raise one line if the bundled FFmpeg cannot write them.

    ``codec`` and ``crf`` default by container (libx264 for mp4/mkv/mov, libvpx-vp9 for webm;
    crf 18). ``audio`` is an input stream whose packets will be copied unchanged.
    """
    suffix = path.suffix.lower()
    if suffix not in VIDEO_CONTAINERS:
        raise VosvfiError(f"-o {path}: a video output must end in {', '.join(VIDEO_CONTAINERS)}")
    encoder = _encoder(codec or DEFAULT_CODECS[suffix])
    name = encoder.name
    options = _quality_options(name, crf)
    pix_fmt = _pixel_format(encoder)
    notes = []
    encoded_width, encoded_height = width, height
    if _subsampled(pix_fmt) and (width % 2 or height % 2):
        encoded_width, encoded_height = width + width % 2, height + height % 2
        notes.append(f"{width}x{height} frames are padded to {encoded_width}x{encoded_height} (repeating the last row/column): {pix_fmt} needs even sides")
    settings = EncoderSettings(VIDEO_CONTAINERS[suffix], name, pix_fmt, options, encoded_width, encoded_height, rate, notes)
    _probe(path, settings, audio)
    return settings


def open_output(target: str | Path | io.BytesIO, settings: EncoderSettings, audio: av.audio.stream.AudioStream | None):
    """An open output container with the video stream (and the copied audio stream, or None)."""
    container = av.open(target, "w", format=settings.muxer)
    try:
        video = container.add_stream(settings.codec, rate=settings.rate, options=dict(settings.options))
        video.width, video.height, video.pix_fmt = settings.width, settings.height, settings.pix_fmt
        audio_out = container.add_stream_from_template(audio) if audio is not None else None
    except BaseException:
        container.close()
        raise
    return container, video, audio_out


def _probe(path: Path, settings: EncoderSettings, audio: av.audio.stream.AudioStream | None) -> None:
    """Encode one black frame into memory with ``settings`` (and the audio stream's header)."""
    try:
        container, video, _ = open_output(io.BytesIO(), settings, audio)
        try:
            frame = av.VideoFrame.from_ndarray(np.zeros((settings.height, settings.width, 3), np.uint8), format="rgb24")
            frame.pts = 0
            for packet in [*video.encode(frame), *video.encode(None)]:
                container.mux(packet)
        finally:
            container.close()
    except (av.error.FFmpegError, ValueError, TypeError) as error:
        codec = settings.codec + (f" with audio {audio.codec_context.name}" if audio is not None else "")
        raise VosvfiError(f"-o {path}: cannot write {codec} into {path.suffix} ({_one_line(error)})") from None
