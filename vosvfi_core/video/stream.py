"""Streaming interpolation: decode → batches of pairs through an interpolator → encode, in flat memory.

Three threads share the work: a reader decodes the source into a bounded queue, the calling
thread scores scene cuts and runs the interpolator on batches of pairs (PyTorch and FFmpeg both
release the GIL, so decoding and encoding overlap the network), and a writer encodes from a second
bounded queue. Memory holds at most a few batches of frames, whatever the video's length.

Audio packets travel with the frames, in file order, to be copied unchanged. A pair across a scene
cut is not interpolated: its in-between frames repeat the earlier frame. Any failure or interrupt
stops both threads and removes the partial output; the output appears only on success.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import av
import numpy as np
import torch
from torch import Tensor

from vosvfi_core.errors import VosvfiError
from vosvfi_core.interpolation import Interpolator, midpoints
from vosvfi_core.video.scenes import DEFAULT_SCENE_THRESHOLD, SceneCut, scene_score, thumbnail
from vosvfi_core.video.sinks import FrameSink
from vosvfi_core.video.sources import Frame, FrameSource

__all__ = ["StreamResult", "interpolate_stream", "output_frame_count"]

_POLL_SECONDS = 0.1


@dataclass
class StreamResult:
    input_frames: int
    output_frames: int
    cuts: list[SceneCut] = field(default_factory=list)


def output_frame_count(input_frames: int, factor: int) -> int:
    """Every input frame plus ``factor - 1`` between each pair."""
    return factor * (input_frames - 1) + 1


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


class _Reader:
    """Runs ``items`` in a thread into a bounded queue; iterating re-raises the thread's error."""

    def __init__(self, items: Iterable[object], maxsize: int) -> None:
        self._items, self._queue, self._stop = items, queue.Queue(maxsize), threading.Event()
        self._thread = threading.Thread(target=self._run, name="vosvfi-decode", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self._put(_Failure(error))

    def __iter__(self) -> Iterator[object]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class _Writer:
    """Feeds a sink from a bounded queue in a thread; ``put`` and ``finish`` re-raise the thread's error."""

    def __init__(self, sink: FrameSink, maxsize: int, on_frame: Callable[[int], object] | None) -> None:
        self._sink, self._on_frame = sink, on_frame
        self._queue, self._stop, self._error = queue.Queue(maxsize), threading.Event(), None
        self._thread = threading.Thread(target=self._run, name="vosvfi-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if item is _END:
                    self._sink.finish()
                    return
                if isinstance(item, av.Packet):
                    self._sink.write_audio(item)
                    continue
                pixels, source = item
                self._sink.write(pixels, source)
                if self._on_frame is not None:
                    self._on_frame(1)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which re-raises it
            self._error = error

    def put(self, item: object) -> None:
        while True:
            if self._error is not None:
                raise self._error
            if not self._thread.is_alive():
                raise RuntimeError("the encoding thread ended early")
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        self.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _to_tensor(frames: list[np.ndarray], device: torch.device) -> Tensor:
    """``[B, 3, H, W]`` float32 in [0, 1] on ``device`` from ``[H, W, 3]`` uint8 frames."""
    stacked = torch.from_numpy(np.stack(frames)).to(device)
    return stacked.permute(0, 3, 1, 2).float().div_(255.0)


def _to_pixels(frames: Tensor) -> np.ndarray:
    """``[B, H, W, 3]`` uint8 from ``[B, 3, H, W]`` floats in [0, 1]."""
    return frames.clamp(0, 1).mul(255).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@dataclass
class _Pair:
    earlier: Frame
    later: Frame
    cut: bool


def interpolate_stream(
    source: FrameSource,
    sink: FrameSink,
    interpolator: Interpolator,
    *,
    factor: int,
    batch: int = 1,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
    device: torch.device | str = "cpu",
    on_frame: Callable[[int], object] | None = None,
) -> StreamResult:
    """Write ``source``'s frames with ``factor - 1`` interpolated frames between each pair into ``sink``.

    ``batch`` pairs go through ``interpolator`` per call (each level of 4x/8x in chunks of
    ``batch``); pairs whose scene score exceeds ``scene_threshold`` repeat their earlier frame
    instead. ``on_frame(1)`` is called after each frame is written. On success the sink is
    committed; on any exception (KeyboardInterrupt included) it is aborted and the exception re-raised.
    """
    if batch < 1:
        raise VosvfiError(f"--batch must be at least 1, got {batch}")
    device = torch.device(device)
    reader = _Reader(source.items(), maxsize=2 * batch + 8)
    writer = _Writer(sink, maxsize=2 * batch * factor + 8, on_frame=on_frame)
    cuts: list[SceneCut] = []

    def flush(pairs: list[_Pair]) -> None:
        learned = [pair for pair in pairs if not pair.cut]
        inbetween: list[np.ndarray] = []
        if learned:
            frames0 = _to_tensor([pair.earlier.pixels for pair in learned], device)
            frames2 = _to_tensor([pair.later.pixels for pair in learned], device)
            inbetween = [_to_pixels(frames) for frames in midpoints(interpolator, frames0, frames2, factor, batch=batch)]
        position = 0
        for pair in pairs:
            if pair.cut:
                for _ in range(factor - 1):
                    writer.put((pair.earlier.pixels, None))
            else:
                for frames in inbetween:
                    writer.put((frames[position], None))
                position += 1
            writer.put((pair.later.pixels, pair.later.source))

    count = 0
    try:
        previous: Frame | None = None
        previous_thumbnail: Tensor | None = None
        pending: list[_Pair] = []
        for item in reader:
            if not isinstance(item, Frame):
                writer.put(item)  # an audio packet
                continue
            count += 1
            current_thumbnail = thumbnail(item.pixels)
            if previous is None:
                writer.put((item.pixels, item.source))
            else:
                score = scene_score(previous_thumbnail, current_thumbnail)
                cut = score > scene_threshold
                if cut:
                    cuts.append(SceneCut(previous.index, score, (previous.index + 1) / source.fps))
                pending.append(_Pair(previous, item, cut))
                if len(pending) >= batch:
                    flush(pending)
                    pending = []
            previous, previous_thumbnail = item, current_thumbnail
        flush(pending)
        if count < 2:
            raise VosvfiError(f"{source.path} holds {count} frame(s); at least 2 are needed")
        writer.finish()
        sink.commit()
    except BaseException:
        reader.stop()
        writer.stop()
        sink.abort()
        raise
    reader.stop()
    return StreamResult(count, sink.frames_written, cuts)
