"""Synthetic video clips for tests and benchmarks, written straight with PyAV (not through the sinks).

:func:`moving_pattern` draws smooth frames whose content shifts a few pixels per frame, so that
an interpolator has something to do and a codec compresses them well; :func:`write_clip` encodes
any frames, with an optional sine-tone audio track, at an exact frame rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

__all__ = ["moving_pattern", "write_clip"]

_MUXERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
_AUDIO_CODECS = {".webm": "libopus"}
_AUDIO_RATE = 48000


def moving_pattern(count: int, height: int, width: int, *, seed: int = 0, speed: float = 2.0) -> Iterator[np.ndarray]:
    """``count`` ``[height, width, 3]`` uint8 frames of soft colour waves drifting ``speed`` pixels per frame."""
    rng = np.random.default_rng(seed)
    phases, frequencies = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0.5, 1.5, (3, 2))
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(count):
        shift = speed * index
        channels = [
            0.5 + 0.4 * np.sin(2 * np.pi * (fy * rows / height + fx * (columns + shift) / width) + phase) for (fy, fx), phase in zip(frequencies, phases)
        ]
        yield np.round(np.stack(channels, axis=-1) * 255).astype(np.uint8)


def write_clip(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    rate: Fraction | int = 25,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    audio_seconds: float | None = None,
) -> int:
    """Encode ``frames`` (``[H, W, 3]`` uint8, even sides) into ``path``; returns the frame count.

    ``audio_seconds`` adds a 440 Hz mono tone of that length (AAC, or Opus for webm).
    """
    path = Path(path)
    rate = Fraction(rate)
    container = av.open(str(path), "w", format=_MUXERS[path.suffix.lower()])
    count = 0
    try:
        video = None
        for pixels in frames:
            if video is None:
                video = container.add_stream(codec, rate=rate, options=dict(options or {}))
                video.height, video.width = pixels.shape[:2]
                video.pix_fmt = "yuv420p"
                audio = container.add_stream(_AUDIO_CODECS.get(path.suffix.lower(), "aac"), rate=_AUDIO_RATE) if audio_seconds else None
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = count, 1 / rate
            for packet in video.encode(frame):
                container.mux(packet)
            count += 1
        if video is None:
            raise ValueError("write_clip needs at least one frame")
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            _write_tone(container, audio, audio_seconds)
    finally:
        container.close()
    return count


def _write_tone(container: av.container.OutputContainer, audio: av.audio.stream.AudioStream, seconds: float) -> None:
    chunk = audio.codec_context.frame_size or 960
    total = int(seconds * _AUDIO_RATE)
    for start in range(0, total, chunk):
        times = (np.arange(chunk) + start) / _AUDIO_RATE
        samples = (0.3 * np.sin(2 * np.pi * 440 * times)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = _AUDIO_RATE, start
        for packet in audio.encode(frame):
            container.mux(packet)
    for packet in audio.encode(None):
        container.mux(packet)
