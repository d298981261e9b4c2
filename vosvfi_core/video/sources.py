"""Where frames come from: a video file (decoded with PyAV) or a folder of frames, as one stream of items.

A source knows its frame rate (a Fraction), its frame count when the file says, its frame size and
its audio stream, all read when it is opened: opening decodes the first frame, so an unreadable
file, a stream without video or an undecodable codec is one line before a model loads. Its
:meth:`items` yield :class:`Frame` objects and, interleaved in file order, the audio packets to copy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import list_frames
from vosvfi_core.io.images import image_size, load_rgb, to_uint8
from vosvfi_core.video.encoding import VIDEO_CONTAINERS

__all__ = ["Frame", "FrameSource", "VideoFileSource", "FrameFolderSource", "open_source", "DEFAULT_FOLDER_FPS"]

_DURATION_TAG = re.compile(r"(\d+):(\d\d):(\d\d)(?:\.(\d+))?")
# A frame folder carries no rate; FFmpeg's image-sequence reader assumes 25 as well.
DEFAULT_FOLDER_FPS = Fraction(25)


@dataclass(frozen=True)
class Frame:
    index: int
    pixels: np.ndarray  # [H, W, 3] uint8 RGB
    source: Path | None = None  # the image file it was read from, for byte-exact copies


class FrameSource:
    """The common face of video files and frame folders."""

    path: Path
    fps: Fraction
    frame_count: int | None  # None when the container does not say
    frame_estimate: int | None  # frame_count, else a guess from the duration (for progress and names)
    height: int
    width: int
    audio: av.audio.stream.AudioStream | None = None
    notes: list[str]

    def items(self) -> Iterator[Frame | av.Packet]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file; safe to call twice."""


def _one_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


class VideoFileSource(FrameSource):
    """Frames of the first video stream of ``path``, and the packets of its first audio stream."""

    def __init__(self, path: Path, *, fps: Fraction | None = None) -> None:
        self.path, self.notes = path, []
        try:
            self._container = av.open(str(path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
            raise VosvfiError(f"cannot read video {path}: {_one_line(error)}") from None
        try:
            self._open_streams(fps)
        except BaseException:
            self._container.close()
            raise

    def _open_streams(self, fps: Fraction | None) -> None:
        if not self._container.streams.video:
            raise VosvfiError(f"{self.path} has no video stream")
        self._video = self._container.streams.video[0]
        self._video.thread_type = "AUTO"
        self.audio = self._container.streams.audio[0] if self._container.streams.audio else None
        rate = fps or self._video.average_rate or self._video.guessed_rate
        if not rate:
            raise VosvfiError(f"cannot tell the frame rate of {self.path}; pass --input-fps")
        self.fps = Fraction(rate)
        self.frame_count = self._declared_frames()
        self.frame_estimate = self.frame_count
        if self.frame_count is None and self._container.duration:
            self.frame_estimate = round(Fraction(self._container.duration, av.time_base) * self.fps)
        streams = [self._video] + ([self.audio] if self.audio is not None else [])
        self._packets = self._container.demux(*streams)
        self._decoded = 0
        # Decode up to the first frame now: proof that the video can be read, and its real size.
        self._head: list[Frame | av.Packet] = []
        self._stream = self._read()
        for item in self._stream:
            self._head.append(item)
            if isinstance(item, Frame):
                break
        else:
            raise VosvfiError(f"{self.path}: no frame could be decoded")
        first = self._head[-1]
        self.height, self.width = first.pixels.shape[:2]

    def _declared_frames(self) -> int | None:
        """Frames the container declares: counted (mp4, mov), else from the video stream's own duration.

        Matroska and WebM keep that duration in a ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``), which a
        cut-off file still carries. The container's duration is not used: it spans the audio too.
        """
        if self._video.frames:
            return int(self._video.frames)
        seconds = None
        if self._video.duration and self._video.time_base:
            seconds = self._video.duration * self._video.time_base
        elif match := _DURATION_TAG.fullmatch(self._video.metadata.get("DURATION", "").strip()):
            hours, minutes, whole, fraction = match.groups()
            seconds = int(hours) * 3600 + int(minutes) * 60 + int(whole) + Fraction(f"0.{fraction or 0}")
        return math.floor(seconds * self.fps + Fraction(1, 2)) if seconds else None

    def _read(self) -> Iterator[Frame | av.Packet]:
        try:
            for packet in self._packets:
                if packet.stream.type == "audio":
                    if packet.dts is not None and packet.size:
                        yield packet
                    continue
                for frame in packet.decode():
                    pixels = frame.to_ndarray(format="rgb24")
                    if self._decoded and pixels.shape != (self.height, self.width, 3):
                        raise VosvfiError(
                            f"{self.path}: frame {self._decoded} is {pixels.shape[1]}x{pixels.shape[0]} but the first is {self.width}x{self.height}"
                        )
                    self._decoded += 1
                    yield Frame(self._decoded - 1, pixels)
        except av.error.FFmpegError as error:
            raise VosvfiError(f"cannot decode {self.path} after frame {self._decoded}: {_one_line(error)}") from None

    def items(self) -> Iterator[Frame | av.Packet]:
        """Decoded frames and audio packets in file order; one line if the file ends early."""
        yield from self._head
        self._head = []
        yield from self._stream
        # A cut-off file decodes without complaint up to where it ends; its header still tells.
        declared = self.frame_count
        if declared is not None and self._decoded < declared - max(2, declared // 50):
            raise VosvfiError(f"{self.path} is truncated: it declares {declared} frames but only {self._decoded} could be decoded")

    def close(self) -> None:
        self._container.close()


class FrameFolderSource(FrameSource):
    """The png/jpg frames of a folder in natural name order, at ``fps``; all sizes checked on opening."""

    def __init__(self, path: Path, *, fps: Fraction | None = None) -> None:
        self.path, self.notes = path, []
        self.fps = Fraction(fps or DEFAULT_FOLDER_FPS)
        self._frames = list_frames(path)
        self.frame_count = self.frame_estimate = len(self._frames)
        self.height, self.width = image_size(self._frames[0])
        for frame in self._frames[1:]:
            other = image_size(frame)
            if other != (self.height, self.width):
                raise VosvfiError(f"{frame} is {other[1]}x{other[0]} but {self._frames[0]} is {self.width}x{self.height}; all frames must match")
        self.suffix = self._frames[0].suffix.lower().replace(".jpeg", ".jpg")

    def items(self) -> Iterator[Frame]:
        for index, path in enumerate(self._frames):
            loaded = load_rgb(path)
            if loaded.note:
                self.notes.append(loaded.note)
            yield Frame(index, to_uint8(loaded.tensor), path)


def open_source(path: Path, *, fps: Fraction | None = None) -> FrameSource:
    """A frame folder when ``path`` is a folder, else a video file; ``fps`` overrides the file's rate."""
    if path.is_dir():
        return FrameFolderSource(path, fps=fps)
    if not path.exists():
        kind = "video" if path.suffix.lower() in VIDEO_CONTAINERS else "folder"
        raise VosvfiError(f"input {kind} not found: {path}")
    return VideoFileSource(path, fps=fps)
