"""Video sources, encoder settings, frame rates and sinks: what each reads, refuses and leaves behind."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from vosvfi_core.errors import VosvfiError
from vosvfi_core.video import (
    DEFAULT_FOLDER_FPS,
    FrameFolderSink,
    VideoFileSink,
    encoder_settings,
    factor_for_rate,
    is_video_path,
    open_source,
    parse_rate,
)
from vosvfi_core.video.sources import Frame
from vosvfi_core.video.synthetic import moving_pattern, write_clip


def _frames(source):
    return [item for item in source.items() if isinstance(item, Frame)]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".webm"])
def test_cardinality_video_source_reads_rate_count_size_and_frames(tmp_path, suffix):
    codec = "libvpx-vp9" if suffix == ".webm" else "libx264"
    path = tmp_path / f"clip{suffix}"
    write_clip(path, moving_pattern(7, 48, 64), rate=Fraction(30000, 1001), codec=codec)
    source = open_source(path)
    try:
        assert source.fps == Fraction(30000, 1001)
        assert source.frame_count == 7  # counted in mp4/mov, from the DURATION tag in mkv/webm
        assert (source.height, source.width) == (48, 64) and source.audio is None
        frames = _frames(source)
    finally:
        source.close()
    assert [frame.index for frame in frames] == list(range(7))
    assert all(frame.pixels.shape == (48, 64, 3) and frame.pixels.dtype == np.uint8 for frame in frames)


def test_feature_video_source_decodes_what_was_encoded(tmp_path):
    # Gray frames, so that 4:2:0 chroma loses nothing: lossless x264 leaves only the 8-bit
    # limited-range rounding of RGB -> YUV -> RGB (at most one level).
    originals = [np.repeat(pixels[..., :1], 3, axis=-1) for pixels in moving_pattern(4, 48, 64, seed=3)]
    write_clip(tmp_path / "clip.mkv", originals, options={"crf": "0"})
    source = open_source(tmp_path / "clip.mkv")
    decoded = [frame.pixels for frame in _frames(source)]
    source.close()
    assert len(decoded) == 4
    for original, frame in zip(originals, decoded):
        assert np.abs(original.astype(int) - frame.astype(int)).max() <= 1


def test_feature_audio_packets_come_in_file_order(tmp_path):
    write_clip(tmp_path / "clip.mp4", moving_pattern(5, 48, 64), audio_seconds=0.2)
    source = open_source(tmp_path / "clip.mp4")
    try:
        items = list(source.items())
        assert source.audio is not None and source.audio.codec_context.name == "aac"
        packets = [item for item in items if isinstance(item, av.Packet)]
        assert len(packets) >= 9 and all(packet.stream.type == "audio" for packet in packets)
        assert sum(isinstance(item, Frame) for item in items) == 5
    finally:
        source.close()  # packets point into the open container: inspect them first


def test_feature_folder_source_default_rate_and_override(tmp_path):
    from PIL import Image

    for index, pixels in enumerate(moving_pattern(3, 24, 32)):
        Image.fromarray(pixels).save(tmp_path / f"{index}.png")
    assert open_source(tmp_path).fps == DEFAULT_FOLDER_FPS
    source = open_source(tmp_path, fps=Fraction(60))
    frames = _frames(source)
    assert source.fps == 60 and source.frame_count == 3 and [f.source.name for f in frames] == ["0.png", "1.png", "2.png"]
    assert np.array_equal(frames[1].pixels, np.asarray(Image.open(tmp_path / "1.png")))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("garbage", "cannot read video"),
        ("audio_only", "has no video stream"),
        ("missing", "input video not found"),
        ("truncated_mp4", "cannot read video"),
        ("truncated_mkv", "is truncated"),
    ],
)
def test_exception_unreadable_inputs_are_one_line(tmp_path, case, expected):
    path = tmp_path / ("clip.mkv" if case in ("audio_only", "truncated_mkv") else "clip.mp4")
    if case == "garbage":
        path.write_bytes(b"\x00\x01 this is not a video" * 50)
    elif case == "audio_only":
        container = av.open(str(path), "w", format="matroska")
        audio = container.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*audio.encode(frame), *audio.encode(None)]:
            container.mux(packet)
        container.close()
    elif case.startswith("truncated"):
        write_clip(path, moving_pattern(60, 48, 64))
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(VosvfiError, match=expected) as error:
        source = open_source(path)
        try:
            list(source.items())
        finally:
            source.close()
    assert "\n" not in str(error.value)


def test_cardinality_parse_rate_and_factor():
    assert parse_rate("60") == 60 and parse_rate("60000/1001") == Fraction(60000, 1001) and parse_rate("59.94") == Fraction(2997, 50)
    ntsc = Fraction(30000, 1001)
    assert factor_for_rate(ntsc, Fraction(60000, 1001)) == 2
    assert factor_for_rate(ntsc, parse_rate("59.94")) == 2  # the usual decimal spelling
    assert factor_for_rate(Fraction(25), Fraction(200)) == 8


@pytest.mark.parametrize(
    ("rate", "target", "expected"),
    [(25, "60", "not 2, 4 or 8 times"), (25, "75", "use one of 50, 100, 200"), (25, "-5", "must be positive"), (25, "abc", "expected a frame rate")],
)
def test_exception_target_rate_not_a_multiple(rate, target, expected):
    with pytest.raises(VosvfiError, match=expected):
        factor_for_rate(Fraction(rate), parse_rate(target))


def test_cardinality_encoder_defaults_by_container(tmp_path):
    for suffix, codec in ((".mp4", "libx264"), (".mkv", "libx264"), (".mov", "libx264"), (".webm", "libvpx-vp9")):
        settings = encoder_settings(tmp_path / f"o{suffix}", codec=None, crf=None, rate=Fraction(50), width=64, height=48)
        assert settings.codec == codec and settings.pix_fmt == "yuv420p" and settings.options["crf"] == "18"
    assert not list(tmp_path.iterdir())  # the probe writes to memory only


def test_feature_odd_sizes_are_padded_to_even_with_a_note(tmp_path):
    settings = encoder_settings(tmp_path / "o.mp4", codec=None, crf=None, rate=Fraction(50), width=63, height=47)
    assert (settings.width, settings.height) == (64, 48) and "padded to 64x48" in settings.notes[0]
    sink = VideoFileSink(tmp_path / "o.mp4", settings)
    sink.write(np.zeros((47, 63, 3), np.uint8))
    sink.finish()
    sink.commit()
    assert av.open(str(tmp_path / "o.mp4")).streams.video[0].width == 64


@pytest.mark.parametrize(
    ("output", "codec", "crf", "expected"),
    [
        ("o.mp4", "nonsense", None, "not an encoder of the bundled FFmpeg"),
        ("o.mp4", "aac", None, "not a video one"),
        ("o.mp4", "libx264", 60, "takes 0 to 51"),
        ("o.mp4", "mpeg4", 20, "takes no crf"),
        ("o.webm", "libx264", None, "cannot write libx264 into .webm"),
        ("o.avi", None, None, "must end in"),
    ],
)
def test_exception_unwritable_encoder_settings(tmp_path, output, codec, crf, expected):
    with pytest.raises(VosvfiError, match=expected):
        encoder_settings(tmp_path / output, codec=codec, crf=crf, rate=Fraction(50), width=64, height=48)
    assert not list(tmp_path.iterdir())


def test_exception_other_media_suffixes_are_not_folder_names(tmp_path):
    assert is_video_path(tmp_path / "a.mkv") and not is_video_path(tmp_path / "frames") and not is_video_path(tmp_path / "v1.2")
    with pytest.raises(VosvfiError, match=r"\.avi is not a supported output"):
        is_video_path(tmp_path / "a.avi")


@pytest.mark.parametrize("kind", ["video", "folder"])
def test_feature_sinks_appear_only_on_commit_and_abort_leaves_nothing(tmp_path, kind):
    target = tmp_path / ("out.mkv" if kind == "video" else "out")

    def sink():
        if kind == "video":
            return VideoFileSink(target, encoder_settings(target, codec=None, crf=None, rate=Fraction(25), width=64, height=48))
        return FrameFolderSink(target, suffix=".png", expected_frames=3)

    aborted = sink()
    aborted.write(np.zeros((48, 64, 3), np.uint8))
    assert not target.exists() and len(list(tmp_path.iterdir())) == 1  # only the hidden partial
    aborted.abort()
    assert not list(tmp_path.iterdir())

    committed = sink()
    for pixels in moving_pattern(3, 48, 64):
        committed.write(pixels)
    committed.finish()
    committed.commit()
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
