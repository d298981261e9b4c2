"""Where frames go: a video file (encoded with PyAV, audio packets copied) or a folder of numbered frames.

A sink writes under a temporary name beside its target (``.NAME.XXXX.partial[.mp4]``) and only
:meth:`FrameSink.commit` renames the result into place, replacing an earlier output the command
was allowed to overwrite; :meth:`FrameSink.abort` removes everything it wrote. ``write`` and
``finish`` may run in a writer thread, ``commit`` and ``abort`` run after it has ended.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vosvfi_core.errors import VosvfiError
from vosvfi_core.video.encoding import EncoderSettings, open_output

__all__ = ["FrameSink", "VideoFileSink", "FrameFolderSink", "move_into_place"]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import (reading the umask sets it, which is not thread-safe).
_UMASK = _read_umask()


def move_into_place(staged: Path, target: Path) -> None:
    """Rename ``staged`` (file or folder) to ``target``, replacing whatever ``target`` is."""
    if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
        target.rmdir()
    if not (target.exists() or target.is_symlink()):
        os.rename(staged, target)
        return
    if staged.is_file() and not target.is_dir():
        os.replace(staged, target)
        return
    # A folder cannot be renamed over a non-empty folder or a file: move the old output aside first.
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    old = aside / target.name
    os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(aside, ignore_errors=True)


class FrameSink:
    """The common face of video files and frame folders."""

    path: Path
    frames_written: int

    def write(self, pixels: np.ndarray, source: Path | None = None) -> None:
        """Append one ``[H, W, 3]`` uint8 RGB frame; ``source`` is the image file it is a copy of, if any."""
        raise NotImplementedError

    def write_audio(self, packet: av.Packet) -> None:
        """Copy one audio packet of the input; sinks without audio drop it."""

    def finish(self) -> None:
        """Flush whatever is buffered; the output is complete but still under its temporary name."""

    def commit(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


class VideoFileSink(FrameSink):
    """Frames encoded into a video file at ``settings.rate``, with ``audio``'s packets copied unchanged."""

    def __init__(self, path: Path, settings: EncoderSettings, *, audio: av.audio.stream.AudioStream | None = None) -> None:
        self.path, self.settings, self.frames_written = path, settings, 0
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent)
        os.close(fd)
        self._staged = Path(name)
        self._closed = False
        # Frames are numbered in output-frame periods; the muxer picks its own stream time base.
        self._frame_time_base = 1 / settings.rate
        try:
            self._container, self._video, self._audio = open_output(str(self._staged), settings, audio)
        except BaseException:
            self._staged.unlink(missing_ok=True)
            raise

    def _pad(self, pixels: np.ndarray) -> np.ndarray:
        extra_rows, extra_columns = self.settings.height - pixels.shape[0], self.settings.width - pixels.shape[1]
        if extra_rows == 0 and extra_columns == 0:
            return pixels
        return np.pad(pixels, ((0, extra_rows), (0, extra_columns), (0, 0)), mode="edge")

    def write(self, pixels: np.ndarray, source: Path | None = None) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(self._pad(pixels)), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = self._frame_time_base
        with self._one_line_errors():
            for packet in self._video.encode(frame):
                self._container.mux(packet)
        self.frames_written += 1

    def write_audio(self, packet: av.Packet) -> None:
        if self._audio is not None:
            packet.stream = self._audio
            with self._one_line_errors():
                self._container.mux(packet)

    def finish(self) -> None:
        with self._one_line_errors():
            for packet in self._video.encode(None):
                self._container.mux(packet)
            self._close()

    @contextlib.contextmanager
    def _one_line_errors(self) -> Iterator[None]:
        """An encoder or muxer failure (a full disk, a codec refusing a frame) as one line naming the output."""
        try:
            yield
        except (av.error.FFmpegError, OSError) as error:
            text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise VosvfiError(f"cannot write {self.path} at frame {self.frames_written}: {text[:200]}") from None

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._container.close()

    def commit(self) -> None:
        os.chmod(self._staged, 0o666 & ~_UMASK)
        move_into_place(self._staged, self.path)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the container may be in any state after a failure
            self._close()
        self._staged.unlink(missing_ok=True)


class FrameFolderSink(FrameSink):
    """Frames written as ``00000.png``, ``00001.png`` … (one width for the whole output, at least five digits).

    ``expected_frames`` sets the width; if more frames come, the folder is renamed to a wider
    width on :meth:`commit`. A frame that is a copy of an input file in the output's format is
    copied byte for byte.
    """

    def __init__(self, path: Path, *, suffix: str, expected_frames: int | None, jpeg_quality: int = 95) -> None:
        self.path, self.suffix, self.frames_written, self.jpeg_quality = path, suffix, 0, jpeg_quality
        self._width = self._name_width(expected_frames or 1)
        self._staged = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))

    @staticmethod
    def _name_width(frames: int) -> int:
        return max(5, len(str(frames - 1)))

    def write(self, pixels: np.ndarray, source: Path | None = None) -> None:
        target = self._staged / f"{self.frames_written:0{self._width}d}{self.suffix}"
        if source is not None and source.suffix.lower().replace(".jpeg", ".jpg") == self.suffix:
            shutil.copyfile(source, target)
        elif self.suffix == ".jpg":
            Image.fromarray(pixels).save(target, format="JPEG", quality=self.jpeg_quality)
        else:
            Image.fromarray(pixels).save(target, format="PNG")
        self.frames_written += 1

    def commit(self) -> None:
        width = self._name_width(self.frames_written)
        if width != self._width:
            for index in range(self.frames_written):
                (self._staged / f"{index:0{self._width}d}{self.suffix}").rename(self._staged / f"{index:0{width}d}{self.suffix}")
        os.chmod(self._staged, 0o777 & ~_UMASK)
        move_into_place(self._staged, self.path)

    def abort(self) -> None:
        shutil.rmtree(self._staged, ignore_errors=True)
