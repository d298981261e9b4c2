"""The streaming pipeline with a frame-average interpolator: counts, rates, originals, audio, scene cuts,
batching, flat memory, and nothing left behind by a failure or an interrupt."""

from __future__ import annotations

import os
import threading
import time
from fractions import Fraction

import av
import numpy as np
import pytest

from vosvfi_core.errors import VosvfiError
from vosvfi_core.video import FrameFolderSink, VideoFileSink, encoder_settings, interpolate_stream, open_source, output_frame_count
from vosvfi_core.video.synthetic import moving_pattern, write_clip


def _average(frame0, frame2):
    return (frame0 + frame2) / 2


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)], stream.average_rate


def _folder_frames(folder):
    from PIL import Image

    return [np.asarray(Image.open(p)) for p in sorted(folder.iterdir())]


def _run(source_path, output, *, factor=2, interpolator=_average, batch=1, codec=None, crf=None, **kwargs):
    source = open_source(source_path)
    try:
        if output.suffix:
            settings = encoder_settings(output, codec=codec, crf=crf, rate=source.fps * factor, width=source.width, height=source.height, audio=source.audio)
            sink = VideoFileSink(output, settings, audio=source.audio)
        else:
            sink = FrameFolderSink(output, suffix=".png", expected_frames=output_frame_count(source.frame_count, factor))
        return interpolate_stream(source, sink, interpolator, factor=factor, batch=batch, **kwargs)
    finally:
        source.close()


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """9 frames of 64x48 at 25 fps, near-lossless, with a 0.36 s tone."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(path, moving_pattern(9, 48, 64), rate=25, options={"crf": "0"}, audio_seconds=0.36)
    return path


@pytest.mark.parametrize(("factor", "suffix"), [(2, ".mkv"), (4, ".mp4"), (8, ".mov")])
def test_cardinality_factor_times_pairs_plus_one_at_factor_times_the_rate(clip, tmp_path, factor, suffix):
    output = tmp_path / f"out{suffix}"
    result = _run(clip, output, factor=factor, codec=None)
    frames, rate = _decode(output)
    assert result.input_frames == 9 and result.output_frames == len(frames) == factor * 8 + 1
    assert rate == 25 * factor


def test_feature_folder_output_keeps_decoded_originals_exactly_and_orders_midpoints(clip, tmp_path):
    inputs, _ = _decode(clip)
    _run(clip, tmp_path / "out", factor=4)
    outputs = _folder_frames(tmp_path / "out")
    assert len(outputs) == 33
    for index, frame in enumerate(inputs):
        assert np.array_equal(outputs[4 * index], frame)
    # Recursive midpoints of the frame average: 1/4 = avg(f0, avg(f0, f1)), 3/4 = avg(avg(f0, f1), f1).
    f0, f1 = inputs[2].astype(np.float64), inputs[3].astype(np.float64)
    middle = (f0 + f1) / 2
    for offset, expected in ((1, (f0 + middle) / 2), (2, middle), (3, (middle + f1) / 2)):
        assert np.abs(outputs[8 + offset].astype(np.float64) - expected).max() <= 1


def test_feature_video_output_keeps_originals_within_codec_loss(clip, tmp_path):
    inputs, _ = _decode(clip)
    _run(clip, tmp_path / "out.mkv", factor=2, crf=8)
    outputs, _ = _decode(tmp_path / "out.mkv")
    psnrs = [_psnr(outputs[2 * index], frame) for index, frame in enumerate(inputs)]
    assert min(psnrs) > 38, psnrs


def test_feature_audio_packets_are_copied_unchanged(clip, tmp_path):
    _run(clip, tmp_path / "out.mkv")

    def audio_payloads(path):
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            return stream.codec_context.name, [bytes(packet) for packet in container.demux(stream) if packet.size]

    codec_in, packets_in = audio_payloads(clip)
    codec_out, packets_out = audio_payloads(tmp_path / "out.mkv")
    assert codec_in == codec_out == "aac" and len(packets_in) > 10
    assert packets_out == packets_in


def test_feature_scene_cut_repeats_the_earlier_frame_and_is_reported(tmp_path):
    first = list(moving_pattern(4, 48, 64, seed=1))
    second = [255 - pixels for pixels in moving_pattern(4, 48, 64, seed=2)]
    folder = tmp_path / "frames"
    folder.mkdir()
    from PIL import Image

    for index, pixels in enumerate(first + second):
        Image.fromarray(pixels).save(folder / f"{index}.png")
    result = _run(folder, tmp_path / "out", factor=4)
    outputs = _folder_frames(tmp_path / "out")
    assert [cut.before for cut in result.cuts] == [3] and result.cuts[0].time == Fraction(4, 25)
    assert result.cuts[0].score > 0.1
    for offset in (1, 2, 3):
        assert np.array_equal(outputs[12 + offset], first[3])  # repeated, not blended
        assert not np.array_equal(outputs[8 + offset], first[2])  # an ordinary pair is interpolated
    assert np.array_equal(outputs[16], second[0])


def test_feature_batches_give_the_same_frames_and_respect_the_batch_size(clip, tmp_path):
    sizes = []

    def recording(frame0, frame2):
        sizes.append(frame0.shape[0])
        return _average(frame0, frame2)

    _run(clip, tmp_path / "one", factor=4, batch=1)
    _run(clip, tmp_path / "three", factor=4, batch=3, interpolator=recording)
    one, three = _folder_frames(tmp_path / "one"), _folder_frames(tmp_path / "three")
    assert all(np.array_equal(a, b) for a, b in zip(one, three)) and len(one) == len(three) == 33
    assert max(sizes) == 3 and sum(sizes) == 8 * 3  # 8 pairs x 3 in-betweens


def _peak_rss_growth(run) -> int:
    """Peak resident memory during ``run()`` above the level before it, sampled every 2 ms."""
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    baseline, peak, done = rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        run()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], rss()) - baseline


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_feature_memory_is_flat_in_the_video_length(tmp_path):
    """400 frames of 320x240 hold 92 MB decoded (and 2x that written): a pipeline that kept them
    would grow far beyond the short clip's peak; a streaming one stays within 30 MB of it."""
    short, long = tmp_path / "short.mkv", tmp_path / "long.mkv"
    write_clip(short, moving_pattern(40, 240, 320), options={"preset": "ultrafast"})
    write_clip(long, moving_pattern(400, 240, 320), options={"preset": "ultrafast"})

    def convert(path, name):
        return lambda: _run(path, tmp_path / name, codec="mpeg4", batch=4)

    convert(short, "warmup.mkv")()  # first-use allocations (codec tables, torch kernels)
    short_growth = _peak_rss_growth(convert(short, "short_out.mkv"))
    long_growth = _peak_rss_growth(convert(long, "long_out.mkv"))
    assert len(_decode(tmp_path / "long_out.mkv")[0]) == 799
    print(f"peak RSS growth: short {short_growth / 2**20:.1f} MB, long {long_growth / 2**20:.1f} MB")
    assert long_growth - short_growth < 30 * 2**20, (short_growth / 2**20, long_growth / 2**20)


class _Interrupt:
    """An interpolator that presses Ctrl-C on its ``n``-th call."""

    def __init__(self, n, error=KeyboardInterrupt):
        self.calls, self.n, self.error = 0, n, error

    def __call__(self, frame0, frame2):
        self.calls += 1
        if self.calls == self.n:
            raise self.error()
        return _average(frame0, frame2)


@pytest.mark.parametrize("output", ["out.mp4", "out"])
@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_exception_interrupt_or_failure_leaves_nothing_and_stops_the_threads(clip, tmp_path, output, error):
    threads = threading.active_count()
    with pytest.raises(error):
        _run(clip, tmp_path / output, interpolator=_Interrupt(3, error))
    assert not list(tmp_path.iterdir())
    assert threading.active_count() == threads


def test_exception_encoder_failure_mid_stream_leaves_nothing(clip, tmp_path):
    source = open_source(clip)
    settings = encoder_settings(tmp_path / "out.mkv", codec=None, crf=None, rate=Fraction(50), width=64, height=48)

    class FailingSink(VideoFileSink):
        def write(self, pixels, source=None):
            if self.frames_written == 5:
                raise OSError("No space left on device")
            super().write(pixels, source)

    with pytest.raises(OSError, match="No space left"):
        interpolate_stream(source, FailingSink(tmp_path / "out.mkv", settings), _average, factor=2)
    source.close()
    assert not list(tmp_path.iterdir())


def test_exception_truncated_input_found_while_streaming_leaves_nothing(tmp_path):
    clip = tmp_path / "in" / "clip.mkv"
    clip.parent.mkdir()
    write_clip(clip, moving_pattern(60, 48, 64))
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(VosvfiError, match="is truncated: it declares 60 frames"):
        _run(clip, out / "x.mp4")
    assert not list(out.iterdir())
